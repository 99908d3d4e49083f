"""Options and error handling shared by the ``l2a``, ``l3a`` and ``mosaic`` command-line interfaces.

Conventions (SPEC section 8): a user mistake or bad input prints one line ``<prog>: error: <file>: <problem>`` on
stderr and exits with code 2, bad options included; ``-vv`` adds the traceback; ``-v`` logs at DEBUG level,
``-q/--quiet`` hides progress bars and info logs.

What the file system refuses (an output folder below a regular file, a name too long, no permission, a full disk)
reaches :func:`run_cli` as an :class:`OSError` that names its file, or as rasterio's ``RasterioIOError`` whose GDAL
message names it: both print ``<prog>: error: <file>: <reason>`` and exit 2. Any other exception is a bug and keeps
its traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
import warnings
from typing import Callable, Iterable, Sequence

import click
from tqdm import tqdm

from ._version import __version__
from .errors import SyntheoError

__all__ = ["common_options", "run_cli", "progress", "indent_option", "setup_logging", "ProgressContext"]


class ProgressContext:
    """What a command needs to know about the terminal: whether to show progress bars."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet

    @property
    def show_progress(self) -> bool:
        return not self.quiet and sys.stderr.isatty()


def setup_logging(verbose: int, quiet: bool) -> None:
    """Set the toolkit's log level once: WARNING by default, INFO with ``-v``, DEBUG with ``-vv``, ERROR with -q."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for name in ("l2a", "l3a", "mosaic"):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(level)
        log.propagate = False
    warnings.showwarning = _log_warning


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Python warnings as one log line (``WARNING l2a: ProductWarning: ...``) instead of file/line/source."""
    module = "l2a"
    for name in ("mosaic", "l3a", "l2a"):
        if f"{os.sep}{name}{os.sep}" in filename:
            module = name
            break
    logging.getLogger(module).warning("%s: %s", category.__name__, " ".join(str(message).split()))


def common_options(prog: str) -> Callable:
    """Decorator for a package's click group: ``--version``, ``-v/--verbose`` (repeatable), ``-q/--quiet``."""

    def decorate(f):
        f = click.option("-q", "--quiet", is_flag=True, help="No progress bars, errors only.")(f)
        f = click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug and tracebacks).")(f)
        f = click.version_option(__version__, "--version", prog_name=prog, message="%(prog)s %(version)s")(f)
        return f

    return decorate


indent_option = click.option("--indent", type=click.IntRange(0, 16), default=None,
                             help="Pretty-print the JSON with this many spaces per level.")


def progress(iterable: Iterable | None = None, *, quiet: bool = False, **kwargs) -> tqdm:
    """A tqdm progress bar on stderr, disabled with ``quiet`` or when stderr is not a terminal."""
    return tqdm(iterable, disable=quiet or not sys.stderr.isatty(), file=sys.stderr, leave=False, **kwargs)


def _verbosity(argv: Sequence[str]) -> int:
    n = 0
    for a in argv:
        if a == "--":
            break
        if a == "--verbose":
            n += 1
        elif a.startswith("-") and not a.startswith("--") and set(a[1:]) <= {"v", "q"}:
            n += a.count("v")
    return n


def run_cli(group: click.Group, prog: str, argv: Sequence[str] | None = None) -> int:
    """Run a click group with the toolkit's error convention; returns the exit code (0, 1 or 2; 130 when
    interrupted by Ctrl-C)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        # without standalone mode click returns the code of a command that ends with click.exceptions.Exit
        code = group.main(args=args, prog_name=prog, standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns a Ctrl-C (SIGINT) inside a command into Abort when not in standalone mode
        click.echo(f"{prog}: interrupted", err=True)
        return 130
    except click.ClickException as exc:
        return _fail(prog, args, exc.format_message())
    except SyntheoError as exc:
        return _fail(prog, args, str(exc))
    except BrokenPipeError:
        return 0
    except OSError as exc:
        message = _os_error_message(exc)
        if message is None:  # no file named: not a refusal of the file system we can explain, keep the traceback
            raise
        return _fail(prog, args, message)
    return 0


def _fail(prog: str, args: Sequence[str], message: str) -> int:
    """Print the error being handled as one line (after its traceback with -vv); return exit code 2."""
    if _verbosity(args) >= 2:
        traceback.print_exc()
    click.echo(f"{prog}: error: {_one_line(message)}", err=True)
    return 2


def _os_error_message(exc: OSError) -> str | None:
    """``<file>: <reason>`` for an OSError naming its file (``<file> -> <file2>`` for a rename), GDAL's own message
    for a rasterio I/O error (it names the file); None otherwise."""
    if exc.filename is not None:
        where = _file_name(exc.filename)
        if exc.filename2 is not None:
            where = f"{where} -> {_file_name(exc.filename2)}"
        return f"{where}: {exc.strerror or exc}"
    rasterio_errors = sys.modules.get("rasterio.errors")  # only loaded when rasterio is, so it may have raised
    if rasterio_errors is not None and isinstance(exc, rasterio_errors.RasterioIOError):
        return str(exc).splitlines()[0] if str(exc) else None
    return None


def _file_name(name) -> str:
    return os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)


def _one_line(text: str) -> str:
    return " ".join(text.split())
