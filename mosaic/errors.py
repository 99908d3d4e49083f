"""Exceptions of the mosaic package (subclasses of :class:`l2a.errors.SyntheoError`).

Every class names one failure a user can act on; messages are one line naming the file or value and the problem.
"""

from l2a.errors import InvalidParameterError, SyntheoError

__all__ = ["MosaicError", "MixedDatesError", "NoInputError", "DuplicateTileError", "InvalidCRSError", "CutlineError",
           "ZoomRangeError", "OutputExistsError", "OutputPathError", "MosaicFormatError", "InvalidParameterError"]


class MosaicError(SyntheoError):
    """Root of mosaic errors."""


class MissingChildTileError(MosaicError, FileNotFoundError):
    """A pyramid tile below an overview tile is not on disk: not written, or written on another node and not yet
    visible through a shared file system (so a cluster task raising it is retried)."""


class MixedDatesError(MosaicError, ValueError):
    """Input L3A products have different central dates."""


class NoInputError(MosaicError, ValueError):
    """No L3A product was given, or a folder given holds none."""


class DuplicateTileError(MosaicError, ValueError):
    """The same tile is given twice (two products of one tile cannot both be blended)."""


class InvalidCRSError(MosaicError, ValueError):
    """A target CRS that does not exist or cannot hold the inputs."""


class CutlineError(MosaicError, ValueError):
    """A cutline file that is unreadable, not a polygon, or that does not intersect the inputs."""


class ZoomRangeError(MosaicError, ValueError):
    """A zoom range that is inverted, outside the tile matrix set, or absurd for the mosaic's resolution."""


class OutputExistsError(MosaicError, FileExistsError):
    """The output already holds a result (or one made with other parameters) and overwriting was not asked."""


class OutputPathError(MosaicError, OSError):
    """An output path the file system refuses: below a regular file, a name too long, no permission, a full disk."""


class MosaicFormatError(MosaicError, ValueError):
    """A mosaic raster given to ``mosaic tiles`` lacks what the pyramid needs (bands B4/B3/B2, a CRS)."""
