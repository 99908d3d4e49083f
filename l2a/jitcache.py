"""Guard against stale numba caches: numba keys a cached function on its own module's source stamp only, while the
compiled code includes what it calls from other modules.

After editing, e.g., ``l2a/atmosphere/kernels.py``, a kernel of another module that calls ``atmosphere_terms`` would
be loaded stale from the cache. :func:`drop_stale_numba_cache` keeps a digest of every source a package's kernels
are compiled from beside that package's cache, and drops the cache when any of them changed (one recompilation).
Each package calls it once when its kernels module is imported (:mod:`l2a.simulate.kernels`,
:mod:`l2a.process.kernels`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

__all__ = ["drop_stale_numba_cache"]


def drop_stale_numba_cache(package_dir: Path, sources: Sequence[str], stamp_name: str) -> None:
    """Delete a package's numba cache when any of the sources its kernels are compiled from changed.

    Parameters
    ----------
    package_dir : Path
        The package folder (its ``__pycache__`` holds the cache).
    sources : sequence of str
        Source files, relative to ``package_dir`` (``"../brdf.py"`` for one outside it).
    stamp_name : str
        Name of the digest file kept in the cache folder.

    Cheap (reads the sources); does nothing where the cache is not writable.
    """
    cache = package_dir / "__pycache__"
    try:
        digest = hashlib.sha1(b"".join((package_dir / s).read_bytes() for s in sources)).hexdigest()
        stamp = cache / stamp_name
        if stamp.exists() and stamp.read_text() == digest:
            return
        cache.mkdir(exist_ok=True)
        for old in cache.glob("*.nb[ic]"):
            old.unlink(missing_ok=True)
        stamp.write_text(digest)
    except OSError:
        pass
