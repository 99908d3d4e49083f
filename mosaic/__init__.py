"""syntheo mosaics: national grids from L3A tiles, web tile pyramids and the side-by-side viewer."""

from l2a._version import __version__

__all__ = ["__version__"]
