"""The `genlab` command line: argument parsing and presentation only.

Each module holds a group of commands and registers them on the app explicitly (no command is
registered by the side effect of an import), so the package has no import cycle.
"""

from __future__ import annotations

import errno
import sys
from typing import Any, NoReturn

import typer

from genlab.cli import (
    bench,
    edit,
    evaluate,
    info,
    sample,
    studio,
    style,
    text,
    text_edit,
    train,
    translate,
)
from genlab.cli.common import err
from genlab.errors import GenlabError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train, evaluate and sample generative image models.")
for group in (train, sample, style, evaluate, edit, text, text_edit, bench, info, translate,
              studio):
    group.register(app)


def _command() -> Any:
    """The click command behind the app, with on/off flags shown without a `<bool>` value
    (they take none: `--no-ema`, not `--no-ema true`)."""
    command = typer.main.get_command(app)
    stack = [command]
    while stack:
        current = stack.pop()
        for param in current.params:
            if getattr(param, "is_flag", False):  # typer vendors its own click: duck-type
                param.metavar = ""
        stack.extend(getattr(current, "commands", {}).values())
    return command


def _show_warning(message: Warning | str, category: type[Warning], *args: object,
                  **kwargs: object) -> None:
    err.print(f"warning: {message}", highlight=False, markup=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one line and exit 2, never a traceback."""
    import warnings

    warnings.showwarning = _show_warning  # one line per warning, no source echo
    try:
        code = _command().main(args=argv, standalone_mode=False)
    except GenlabError as error:
        _fail(str(error))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        err.print("interrupted", highlight=False)
        sys.exit(130)
    except OSError as exc:  # a full disk, a read-only or unreadable folder
        if exc.errno not in _FILE_ERRNOS and not exc.filename:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        if exc.errno in (errno.EISDIR, errno.ENOTDIR, errno.EEXIST):
            _fail(f"{exc.strerror or exc}{where}: a file or folder is in the way; pass "
                  "another path or move it")
        _fail(f"{exc.strerror or exc}{where}: free space or fix the folder's permissions and "
              "run again (checkpoints already written are intact)")
    except Exception as exc:
        # usage errors: click's own, or the copy of click that typer >= 0.20 vendors
        if callable(getattr(exc, "format_message", None)) and hasattr(exc, "exit_code"):
            ctx = getattr(exc, "ctx", None)
            command = ctx.command_path if ctx is not None else "genlab"
            _fail(f"{exc.format_message()} (see {command} --help)")
        raise
    if isinstance(code, int) and code:
        sys.exit(code)


_FILE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _fail(message: str) -> NoReturn:
    """The one line a user's mistake gets (user text is never read as markup), exit code 2."""
    err.print(f"error: {' '.join(message.split())}", highlight=False, markup=False,
              soft_wrap=True)
    sys.exit(2)
