"""Exceptions of the mosaic package (subclasses of :class:`l2a.errors.SyntheoError`)."""

from l2a.errors import InvalidParameterError, SyntheoError

__all__ = ["MosaicError", "MixedDatesError", "InvalidParameterError"]


class MosaicError(SyntheoError):
    """Root of mosaic errors."""


class MixedDatesError(MosaicError, ValueError):
    """Input L3A products have different central dates."""
