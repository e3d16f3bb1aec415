"""The `genlab` command line: argument parsing and presentation only.

Each module holds a group of commands and registers them on the app explicitly (no command is
registered by the side effect of an import), so the package has no import cycle.
"""

from __future__ import annotations

import sys

import typer

from genlab.cli import bench, edit, evaluate, info, sample, text, text_edit, train
from genlab.cli.common import err
from genlab.errors import GenlabError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train, evaluate and sample generative image models.")
for group in (train, sample, evaluate, edit, text, text_edit, bench, info):
    group.register(app)


def _show_warning(message: Warning | str, category: type[Warning], *args: object,
                  **kwargs: object) -> None:
    err.print(f"warning: {message}", highlight=False, markup=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one line and exit 2, never a traceback."""
    import warnings

    warnings.showwarning = _show_warning  # one line per warning, no source echo
    try:
        code = app(args=argv, standalone_mode=False)
    except GenlabError as error:
        err.print(f"error: {error}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        err.print("interrupted", highlight=False)
        sys.exit(130)
    except Exception as exc:
        # usage errors: click's own, or the copy of click that typer >= 0.20 vendors
        if callable(getattr(exc, "show", None)) and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(2)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)
