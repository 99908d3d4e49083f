"""Exceptions of the l3a package (subclasses of :class:`l2a.errors.SyntheoError`)."""

from l2a.errors import InvalidParameterError, SyntheoError

__all__ = ["L3AError", "EmptyWindowError", "TileGridError", "InvalidParameterError", "NoProductError",
           "AreaOfInterestError", "SchedulerError"]


class L3AError(SyntheoError):
    """Root of l3a errors."""


class EmptyWindowError(L3AError, ValueError):
    """No input product of the tile falls inside the synthesis window."""


class TileGridError(L3AError, ValueError):
    """Products of one tile are on different grids (CRS, origin or pixel size)."""


class NoProductError(L3AError, ValueError):
    """An input folder of a batch holds no L2A product (nothing to plan)."""


class AreaOfInterestError(L3AError, ValueError):
    """An area of interest is not a usable GeoJSON polygon, or intersects none of the tiles found."""


class SchedulerError(L3AError, ConnectionError):
    """No dask scheduler answers at the address given, or its workers cannot run the batch's tasks."""
