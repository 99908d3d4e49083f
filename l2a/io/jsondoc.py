"""JSON documents read within sane limits (the simulator's truth ``index.json``, STAC items, parameters).

A JSON file given to a command may be hostile. Python's parser recurses once per nesting level, so ``[[[[...]]]]``
100000 levels deep ends in a ``RecursionError`` traceback, and any later walk over a deep document would too. So
:func:`read_json` refuses a file larger than ``max_bytes`` before reading it, and :func:`parse_json` refuses a
document nested deeper than :data:`MAX_DEPTH` levels before anything walks it; each with one line naming the file.
Toolkit documents nest a few levels (a truth index 6, a STAC item 5, GeoJSON about 10).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from l2a.errors import MetadataError, MissingFileError

__all__ = ["read_json", "parse_json", "json_depth", "MAX_DEPTH", "MAX_BYTES"]

#: Deepest nesting of arrays and objects accepted.
MAX_DEPTH = 64
#: Largest JSON file read by default, bytes (a truth index of a year of four tiles is about 1 MB).
MAX_BYTES = 64 * 2**20


def json_depth(value, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a parsed JSON value (0 for a scalar, 1 for ``[]`` or ``{}``), walked without recursion.

    Stops as soon as the depth exceeds ``limit`` and returns ``limit + 1``.
    """
    depth = 0
    level = [value]
    while level:
        containers = [v for v in level if isinstance(v, (dict, list))]
        if not containers:
            break
        depth += 1
        if depth > limit:
            return limit + 1
        level = [child for c in containers for child in (c.values() if isinstance(c, dict) else c)]
    return depth


def parse_json(text: str | bytes, what: str, source: str | os.PathLike | None = None, *,
               error: type = MetadataError):
    """Parse JSON text, refusing documents nested deeper than :data:`MAX_DEPTH`.

    Parameters
    ----------
    text : str or bytes
        The document (bytes are decoded as UTF-8).
    what : str
        What the document is, for messages (``"truth index"``).
    source : str or path-like, optional
        The file it comes from, named in messages.
    error : type
        :class:`~l2a.errors.SyntheoError` subclass raised (its message names ``source``).

    Returns
    -------
    dict, list, str, int, float, bool or None

    Raises
    ------
    error
        Not UTF-8, not valid JSON, or nested too deep.
    """
    try:
        doc = json.loads(text)
    except UnicodeDecodeError:
        raise error(f"{what} is not UTF-8 text", source) from None
    except json.JSONDecodeError as exc:
        raise error(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", source) from None
    except RecursionError:  # the parser recursed once per level, far past MAX_DEPTH
        raise error(f"{what} is nested deeper than {MAX_DEPTH} levels", source) from None
    if json_depth(doc) > MAX_DEPTH:
        raise error(f"{what} is nested deeper than {MAX_DEPTH} levels", source)
    return doc


def read_json(path: str | os.PathLike, what: str, *, error: type = MetadataError, max_bytes: int = MAX_BYTES):
    """Read and parse a JSON file within limits (see module docstring).

    Parameters
    ----------
    path : str or path-like
    what : str
        What the file is, for messages (``"truth index"``).
    error : type
        :class:`~l2a.errors.SyntheoError` subclass raised for a bad document (its message names ``path``).
    max_bytes : int
        Largest file accepted, bytes.

    Returns
    -------
    dict, list, str, int, float, bool or None

    Raises
    ------
    MissingFileError
        If the file does not exist.
    error
        Not a regular file, unreadable, larger than ``max_bytes``, not UTF-8, not JSON, or nested too deep.
    """
    p = Path(path)
    try:
        exists, regular = p.exists(), p.is_file()
        size = p.stat().st_size if regular else 0
        data = p.read_bytes() if regular and size <= max_bytes else None
    except OSError as exc:
        raise error(f"cannot read the {what} ({exc.strerror or exc})", p) from None
    if not exists:
        raise MissingFileError(f"{what} not found", p)
    if not regular:
        raise error(f"{what} is not a regular file", p)
    if data is None:
        raise error(f"{what} is {size} bytes, more than the {max_bytes} accepted", p)
    return parse_json(data, what, p, error=error)
