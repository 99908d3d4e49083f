"""Exceptions of the l3a package (subclasses of :class:`l2a.errors.SyntheoError`)."""

from l2a.errors import InvalidParameterError, SyntheoError

__all__ = ["L3AError", "EmptyWindowError", "TileGridError", "InvalidParameterError"]


class L3AError(SyntheoError):
    """Root of l3a errors."""


class EmptyWindowError(L3AError, ValueError):
    """No input product of the tile falls inside the synthesis window."""


class TileGridError(L3AError, ValueError):
    """Products of one tile are on different grids (CRS, origin or pixel size)."""
