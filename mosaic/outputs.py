"""Output folders of the mosaic commands: checked before any work, and the file system's refusals as one-line errors.

``mosaic build``, ``tiles`` and ``compare`` write into a folder the user names. What the file system would refuse
there (a path below an existing regular file, a name longer than the file system takes, 255 bytes on most) is
found by :func:`check_output_dir` before anything is read or created; an ``OSError`` met while writing anyway (a
full disk, a permission) becomes, through :func:`output_errors`, an :class:`~mosaic.errors.OutputPathError`: one
line naming the output and the reason, which the CLIs print as ``mosaic: error: PATH: problem`` (exit 2).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from l2a.errors import SyntheoError

from .errors import OutputExistsError, OutputPathError

__all__ = ["check_output_dir", "output_errors", "parent_folders"]

#: Name and path length limits assumed where the file system does not say, bytes (POSIX NAME_MAX, PATH_MAX).
_NAME_MAX, _PATH_MAX = 255, 4096


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return default


def check_output_dir(path: str | os.PathLike) -> Path:
    """The absolute output folder, after checking that the file system can hold it.

    Returns
    -------
    Path
        Absolute; it may or may not exist.

    Raises
    ------
    OutputExistsError
        The path is an existing file, not a folder.
    OutputPathError
        A part of the path is an existing file, or a name (or the whole path) is longer than the file system
        accepts.
    """
    out = Path(path).absolute()
    existing = None
    for folder in (out, *out.parents):
        try:
            mode = os.stat(folder).st_mode
        except OSError:  # absent, or ENAMETOOLONG, ENOTDIR, EACCES: a shorter ancestor tells which part is wrong
            continue
        if not stat.S_ISDIR(mode):
            if folder == out:
                raise OutputExistsError("is a file, not a folder", out)
            raise OutputPathError(f"cannot create a folder below {folder}: it is a file", out)
        existing = folder
        break
    base = existing or Path(out.anchor)
    name_max = _limit(base, "PC_NAME_MAX", _NAME_MAX)
    for part in out.relative_to(base).parts:
        if len(os.fsencode(part)) > name_max:
            raise OutputPathError(f"a name of {len(os.fsencode(part))} bytes is longer than the {name_max} "
                                  "the file system accepts", out)
    if len(os.fsencode(str(out))) >= _limit(base, "PC_PATH_MAX", _PATH_MAX):
        raise OutputPathError("path is longer than the file system accepts", out)
    return out


@contextlib.contextmanager
def output_errors(out: str | os.PathLike):
    """Turn an ``OSError`` raised in the block into an :class:`OutputPathError` naming ``out`` (and the file, when
    the error names another one); syntheo errors pass through unchanged."""
    try:
        yield
    except SyntheoError:
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc).splitlines()[0][:200] or type(exc).__name__
        where = f" {exc.filename}" if exc.filename and os.fspath(exc.filename) != os.fspath(out) else ""
        raise OutputPathError(f"cannot write{where} ({reason})", out) from exc


@contextlib.contextmanager
def parent_folders(out: Path):
    """Create the missing parent folders of ``out`` for the block; if the block fails, remove those it created
    (when still empty), so that a failed run leaves nothing behind."""
    missing = [folder for folder in out.parents if not folder.exists()]   # nearest first
    with output_errors(out):
        out.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for folder in missing:
            try:
                folder.rmdir()
            except OSError:  # not empty (someone else writes there) or already gone: leave it
                break
        raise
