"""Guard against stale numba caches of the simulator (used by :mod:`l2a.simulate.kernels` at import)."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["drop_stale_numba_cache"]

#: Modules whose numba functions end up compiled into the kernels of :mod:`l2a.simulate.kernels`.
_JIT_MODULES = ("noise", "landscape", "atmosphere", "clouds", "orbits", "masks", "surface_brdf", "kernels")
#: The same, outside this package (paths relative to it): the BRDF model.
_JIT_SOURCES_OUTSIDE = ("../brdf.py",)


def drop_stale_numba_cache() -> None:
    """Delete this package's numba cache when any of its sources changed.

    numba keys a cached function on its own module's source stamp only, while the compiled code includes what it
    calls from the other modules: after editing, e.g., ``landscape.py``, ``scene_block`` would be loaded stale from
    the cache. The digest of all those sources (:mod:`l2a.brdf` included) is kept beside the cache; any difference
    drops the cache (one recompilation, ~20 s). Cheap (reads ~100 kB); does nothing where the cache is not writable.
    """
    here = Path(__file__).parent
    cache = here / "__pycache__"
    try:
        sources = [here / f"{m}.py" for m in _JIT_MODULES] + [here / p for p in _JIT_SOURCES_OUTSIDE]
        digest = hashlib.sha1(b"".join(path.read_bytes() for path in sources)).hexdigest()
        stamp = cache / "simulate-sources.sha1"
        if stamp.exists() and stamp.read_text() == digest:
            return
        cache.mkdir(exist_ok=True)
        for old in cache.glob("*.nb[ic]"):
            old.unlink(missing_ok=True)
        stamp.write_text(digest)
    except OSError:
        pass

