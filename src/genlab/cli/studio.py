"""genlab studio: the web page over a folder of runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command()(studio)


def _check_address(host: str, port: int) -> None:
    """Bind once before building the page, so a port in use or an unknown host is one line
    (gradio would raise after loading everything)."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"cannot listen on {host}:{port} ({reason}): pass a free --port, "
                          "e.g. --port 7861, or a local --host") from None


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
    _check_address(host, port)
    try:
        from genlab.studio.app import launch
    except ImportError as error:
        if "gradio" not in str(error):
            raise
        raise ConfigError("genlab studio needs gradio: pip install 'genlab[studio]'") from None
    launch(runs_dir, host=host, port=port)
