"""Member listing of product folders: the file names a format reader matches its patterns against (the .zip
counterpart is :class:`l2a.io.archive.ZipIndex`).

Readers only see files, so a folder standing where a file should be (``MASKS/..._CLM_R1.tif/``) would pass for a
missing file, and what it should tell would silently count as clear. Folders named like the files formats look for
(:data:`FILE_SUFFIXES`) are therefore refused while listing, naming the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from l2a.errors import NotAProductError, RasterKindError

__all__ = ["list_members", "check_folder_name", "MAX_FOLDER_FILES", "FILE_SUFFIXES"]

#: Most files a product folder may hold before it is judged not to be a product (a SAFE holds a few hundred).
MAX_FOLDER_FILES = 5000
#: Suffixes of the files product formats look for (rasters and metadata); no product has a folder so named.
FILE_SUFFIXES = (".tif", ".tiff", ".jp2", ".xml")


def check_folder_name(folder: str, where: str | os.PathLike) -> None:
    """Refuse a folder named like a product file (:data:`FILE_SUFFIXES`).

    Parameters
    ----------
    folder : str
        Name or relative path of the folder.
    where : str or path-like
        Its full path (or ``archive.zip/member``), for the message.

    Raises
    ------
    RasterKindError
    """
    if folder.rstrip("/").lower().endswith(FILE_SUFFIXES):
        raise RasterKindError("is a folder where a file should be", where)


def list_members(path: Path) -> list[str]:
    """Relative POSIX paths of the files of a product folder (at most a few thousand, hidden files skipped).

    Raises
    ------
    NotAProductError
        If the folder holds more than :data:`MAX_FOLDER_FILES` files.
    RasterKindError
        If a folder inside is named like a product file (``*.tif``, ``*.jp2``, ``*.xml``).
    """
    out = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for d in dirs:
            check_folder_name(d, os.path.join(root, d))
        rel = os.path.relpath(root, path)
        for f in sorted(files):
            if f.startswith("."):
                continue
            out.append(f if rel == "." else f"{rel}/{f}".replace(os.sep, "/"))
            if len(out) > MAX_FOLDER_FILES:
                raise NotAProductError(f"folder holds more than {MAX_FOLDER_FILES} files; is it a product?", path)
    return out
