"""JSON documents of the mosaic commands: read within sane limits, written atomically.

What ``mosaic`` reads as JSON comes from users or from earlier runs (a GeoJSON cutline, a pyramid's
``metadata.json``), so it may be hostile. A document larger than ``max_bytes`` is refused before it is read; the
text is then parsed by :func:`l2a.io.jsondoc.parse_json`, which refuses a document nested deeper than
:data:`~l2a.io.jsondoc.MAX_DEPTH` levels before anything walks it (Python's parser and every walk over a document
recurse once per nesting level). Either way the error is one line naming the file.

Documents are written as ``json.dumps(doc, indent=1)`` under a temporary name, then renamed into place, so a reader
never sees half a document.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from l2a.io.atomic import atomic_write_bytes
from l2a.io.jsondoc import MAX_DEPTH, json_depth, parse_json

from .errors import MosaicFormatError

__all__ = ["read_json", "write_json", "json_depth", "MAX_DEPTH"]

#: Default size limit of a document, bytes (metadata documents are a few kB). GeoJSON needs about 10 levels of
#: nesting (a FeatureCollection's feature's MultiPolygon's ring's position), a pyramid's metadata 3: well within
#: :data:`MAX_DEPTH` (:mod:`l2a.io.jsondoc`'s, re-exported here with its :func:`json_depth`).
_MAX_BYTES = 16 * 2**20


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
    return parse_json(text, what, p, error=error)


def write_json(path: str | os.PathLike, doc: dict) -> None:
    """Write ``doc`` as indented JSON, atomically (temporary sibling, then rename); the folder is created."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(p, json.dumps(doc, indent=1).encode("utf-8"), fsync=False)
