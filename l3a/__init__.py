"""syntheo Level-3A: WASP-style weighted monthly syntheses of L2A products."""

from l2a._version import __version__

__all__ = ["__version__"]
