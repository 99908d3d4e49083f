"""Atomic outputs: a product folder or a file appears complete under its final name, or not at all.

Every writer of the toolkit (Theia L2A, L1C SAFE, L3A, the simulator's truth, COGs, metadata documents) builds its
output under a hidden temporary name beside the target (same file system, so the final step is one ``rename``),
flushes it to disk (``fsync`` of every file, then of the folders, so a power cut after the rename cannot leave a
product of empty files), and renames it into place. An interrupted run leaves at most a hidden ``.NAME.*.tmp``
beside the target, never a partial product under its real name.

Overwrite policy, the same for every writer: without ``overwrite`` an existing target is an error
(:class:`~l2a.errors.ProductExistsError`), checked when writing starts and again when publishing; with it, the old
target is renamed aside and deleted only once the new one is in place, so a failed run keeps the old product.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

from l2a.errors import ProductExistsError

__all__ = ["AtomicFolder", "atomic_write_bytes", "temporary_sibling", "fsync_tree", "publish"]

logger = logging.getLogger(__name__)


#: Longest file name most file systems accept (ext4, XFS, btrfs, tmpfs: 255 bytes).
_NAME_MAX = 255


def temporary_sibling(target: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """A unique hidden path beside ``target`` (``.NAME.<12 hex>.tmp``), on the same file system.

    ``NAME`` is shortened (by whole characters, from its end) when needed so that the temporary name stays within
    255 bytes: any name the file system accepts as a target has a temporary sibling it accepts too.
    """
    target = Path(target)
    tail = f".{uuid.uuid4().hex[:12]}{suffix}"
    room = _NAME_MAX - 1 - len(os.fsencode(tail))
    name = target.name
    while len(os.fsencode(name)) > room:
        name = name[:-1]
    return target.parent / f".{name}{tail}"


def _fsync_path(path: Path) -> None:
    flags = (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if path.is_dir() else os.O_RDONLY
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError:  # some file systems (and some platforms for folders) cannot sync: durability is best effort
        pass
    finally:
        os.close(fd)


def fsync_tree(path: str | os.PathLike) -> None:
    """Flush a file, or every file and folder below a folder, to disk."""
    path = Path(path)
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            for name in files:
                _fsync_path(Path(root) / name)
            for name in dirs:
                _fsync_path(Path(root) / name)
    _fsync_path(path)


def publish(tmp: str | os.PathLike, target: str | os.PathLike, *, overwrite: bool = False, fsync: bool = True) -> Path:
    """Rename a finished temporary file or folder onto ``target``.

    Parameters
    ----------
    tmp : path-like
        The finished output, beside ``target``.
    target : path-like
        Final name.
    overwrite : bool
        Replace an existing ``target``: a file is replaced by one rename; a folder is renamed aside first and
        deleted once ``tmp`` is in place.
    fsync : bool
        Flush ``tmp`` to disk before the rename and the parent folder after it.

    Raises
    ------
    ProductExistsError
        If ``target`` exists and ``overwrite`` is False (``tmp`` is left for the caller to discard).
    """
    tmp, target = Path(tmp), Path(target)
    if fsync:
        fsync_tree(tmp)
    old = None
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise ProductExistsError("appeared while it was being written (use overwrite to replace it)", target)
        if not (tmp.is_dir() or target.is_dir()):
            old = None  # a file replaces a file in one atomic rename
        else:
            old = temporary_sibling(target, ".old")
            os.replace(target, old)
    os.replace(tmp, target)
    if fsync:
        _fsync_path(target.parent)
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    return target


def _make_folder(path: Path) -> None:
    # os.mkdir honours the umask, as any output folder should (tempfile.mkdtemp would make it private)
    path.mkdir(parents=False, exist_ok=False)


class AtomicFolder:
    """A product folder built under a hidden temporary name beside its target and published by one rename.

    Parameters
    ----------
    target : path-like
        Final folder. Its parent is created if needed.
    overwrite : bool
        Replace an existing target when publishing (see the module docstring).
    fsync : bool
        Flush every file to disk before publishing.

    Attributes
    ----------
    path : pathlib.Path
        The final folder (exists after :meth:`publish`).
    tmp : pathlib.Path
        Where to write meanwhile (created by the constructor).

    Raises
    ------
    ProductExistsError
        If ``target`` exists and ``overwrite`` is False.
    OSError
        If the parent folder or the temporary folder cannot be created (the error names the path).

    Examples
    --------
    >>> with AtomicFolder(out / "PRODUCT") as folder:            # doctest: +SKIP
    ...     (folder.tmp / "band.tif").write_bytes(data)
    """

    def __init__(self, target: str | os.PathLike, *, overwrite: bool = False, fsync: bool = True):
        self.path = Path(target).absolute()
        self.overwrite = overwrite
        self.fsync = fsync
        if (self.path.exists() or self.path.is_symlink()) and not overwrite:
            raise ProductExistsError("already exists (use overwrite to replace it)", self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temporary_sibling(self.path)
        _make_folder(self.tmp)
        self.state = "open"

    def publish(self) -> Path:
        """Flush and rename the temporary folder onto :attr:`path`; returns :attr:`path`.

        On failure the temporary folder is removed and the error raised (an old product stays in place).
        """
        if self.state == "published":
            return self.path
        if self.state != "open":
            raise ProductExistsError(f"cannot publish a folder that was {self.state}", self.path)
        try:
            publish(self.tmp, self.path, overwrite=self.overwrite, fsync=self.fsync)
        except BaseException:
            self.discard()
            raise
        self.state = "published"
        return self.path

    def discard(self) -> None:
        """Remove the temporary folder and all it holds (nothing appears under the final name)."""
        if self.state == "published":
            return
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.state = "discarded"

    def __enter__(self) -> "AtomicFolder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.publish()
        else:
            self.discard()


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True, fsync: bool = True) -> Path:
    """Write one file atomically (temporary sibling, fsync, rename) with ordinary permissions (umask applied).

    Raises
    ------
    ProductExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    tmp = temporary_sibling(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        publish(tmp, path, overwrite=overwrite, fsync=fsync)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
