"""JSON documents of the mosaic commands: read within sane limits, written atomically.

What ``mosaic`` reads as JSON comes from users or from earlier runs (a GeoJSON cutline, a pyramid's
``metadata.json``), so it may be hostile. Python's JSON parser and every walk over a document recurse once per
nesting level: 100000 nested arrays would end in a ``RecursionError`` traceback. A document larger than
``max_bytes`` is refused before it is read, and one nested deeper than :data:`MAX_DEPTH` levels is refused before
anything walks it; either way the error is one line naming the file.

Documents are written as ``json.dumps(doc, indent=1)`` under a temporary name, then renamed into place, so a reader
never sees half a document.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from l2a.io.atomic import atomic_write_bytes

from .errors import MosaicFormatError

__all__ = ["read_json", "write_json", "json_depth", "MAX_DEPTH"]

#: Deepest nesting of arrays and objects accepted. GeoJSON needs about 10 levels (a FeatureCollection's feature's
#: MultiPolygon's ring's position), a pyramid's metadata 3.
MAX_DEPTH = 64
#: Default size limit of a document, bytes (metadata documents are a few kB).
_MAX_BYTES = 16 * 2**20


def json_depth(doc, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, ``[]`` is 1), without recursion; stops counting once
    ``limit`` is exceeded (returns ``limit + 1``)."""
    deepest = 0
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return limit + 1
        stack.extend((child, depth + 1) for child in children)
    return deepest


def read_json(path: str | os.PathLike, what: str, *, error: type = MosaicFormatError, max_bytes: int = _MAX_BYTES):
    """Parse a JSON file within limits.

    Parameters
    ----------
    path : path-like
    what : str
        What the file is, for messages ("cutline", "pyramid metadata").
    error : SyntheoError subclass
        Class of the error raised (its message names ``path``).
    max_bytes : int
        Largest file accepted, bytes.

    Returns
    -------
    The parsed value (dict, list, str, number, bool or None).

    Raises
    ------
    error
        Unreadable, larger than ``max_bytes``, not UTF-8 JSON, or nested deeper than :data:`MAX_DEPTH`.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        text = p.read_text(encoding="utf-8") if size <= max_bytes else None
    except OSError as exc:
        raise error(f"cannot read the {what} ({exc.strerror or exc})", p) from None
    except UnicodeDecodeError:
        raise error(f"{what} is not UTF-8 text", p) from None
    if text is None:
        raise error(f"{what} is {size} bytes, larger than the {max_bytes} accepted", p)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", p) from None
    except RecursionError:  # the parser recursed once per level: far deeper than MAX_DEPTH
        raise error(f"{what} is nested deeper than {MAX_DEPTH} levels", p) from None
    if json_depth(doc) > MAX_DEPTH:
        raise error(f"{what} is nested deeper than {MAX_DEPTH} levels", p)
    return doc


def write_json(path: str | os.PathLike, doc: dict) -> None:
    """Write ``doc`` as indented JSON, atomically (temporary sibling, then rename); the folder is created."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(p, json.dumps(doc, indent=1).encode("utf-8"), fsync=False)
