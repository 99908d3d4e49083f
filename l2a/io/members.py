"""Member listing of product folders: the file names a format reader matches its patterns against (the .zip
counterpart is :class:`l2a.io.archive.ZipIndex`)."""

from __future__ import annotations

import os
from pathlib import Path

from l2a.errors import NotAProductError

__all__ = ["list_members", "MAX_FOLDER_FILES"]

#: Most files a product folder may hold before it is judged not to be a product (a SAFE holds a few hundred).
MAX_FOLDER_FILES = 5000


def list_members(path: Path) -> list[str]:
    """Relative POSIX paths of the files of a product folder (at most a few thousand, hidden files skipped)."""
    out = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = os.path.relpath(root, path)
        for f in sorted(files):
            if f.startswith("."):
                continue
            out.append(f if rel == "." else f"{rel}/{f}".replace(os.sep, "/"))
            if len(out) > MAX_FOLDER_FILES:
                raise NotAProductError(f"folder holds more than {MAX_FOLDER_FILES} files; is it a product?", path)
    return out


