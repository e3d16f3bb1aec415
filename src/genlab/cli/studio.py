"""genlab studio: the web page over a folder of runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command()(studio)


def studio(
    runs_dir: Annotated[Path, typer.Argument(help="folder of run folders (train.out_dir)")]
    = Path("runs"),
    host: Annotated[str, typer.Option(help="address to listen on: 127.0.0.1 keeps it to "
                                      "this machine; 0.0.0.0 opens it to the network")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 7860,
) -> None:
    """Serve a web page to look at runs, sample them and play with them (Ctrl-C stops it)."""
    if not runs_dir.is_dir():
        raise ConfigError(f"no folder {runs_dir}: pass the folder your runs are in (train one "
                          "first: make demo writes runs/demo)")
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port}: give 1..65535")
    try:
        from genlab.studio.app import launch
    except ImportError as error:
        if "gradio" not in str(error):
            raise
        raise ConfigError("genlab studio needs gradio: pip install 'genlab[studio]'") from None
    launch(runs_dir, host=host, port=port)
