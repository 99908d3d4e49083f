"""Exceptions of the syntheo toolkit.

Every failure a user can act on has its own class, rooted at :class:`SyntheoError`. Messages are one line that names
the file or value and the problem; the CLIs print them as ``<prog>: error: <message>`` and exit with code 2.
``l3a.errors`` and ``mosaic.errors`` subclass these.
"""

from __future__ import annotations

import os


class SyntheoError(Exception):
    """Root of all syntheo errors.

    Parameters
    ----------
    message : str
        What is wrong, in one line.
    path : str or os.PathLike, optional
        The file or folder concerned; prefixed to the message when given.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        self.problem = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ProductFormatError(SyntheoError, ValueError):
    """A path is not a product of a known format, or its content does not follow that format."""


class NotAProductError(ProductFormatError):
    """A path is not a product at all (or a folder holding several products)."""


class MissingFileError(SyntheoError, FileNotFoundError):
    """A file that a read needs is absent from the product (band, mask, metadata)."""


class BandNotFoundError(MissingFileError, KeyError):
    """A requested band is not in the product or not known for its sensor."""

    def __str__(self) -> str:  # KeyError would quote the message
        return SyntheoError.__str__(self)


class CorruptRasterError(SyntheoError, OSError):
    """A raster exists but cannot be decoded (truncated, corrupt, wrong grid)."""


class RasterKindError(ProductFormatError, CorruptRasterError):
    """A file of a product opens but is not of the kind its format stores there: a raster of an unexpected data type
    or band count, or a folder where a file should be (checked when the product is opened, not when pixels are
    read)."""


class MetadataError(ProductFormatError):
    """An XML metadata file is malformed or lacks a field that is needed."""


class UnsafeXMLError(MetadataError):
    """An XML file uses entity declarations or external references (refused for safety)."""


class UnsafeArchiveError(SyntheoError, OSError):
    """A .zip archive has an entry that would leave its folder, a link, or an absurd size."""


class UnreadableArchiveError(ProductFormatError):
    """A .zip archive cannot be read in place: encrypted entries, a compression method GDAL's ``/vsizip/`` cannot
    decode (only stored and DEFLATE are), or a member whose data is corrupt."""


class InvalidParameterError(SyntheoError, ValueError):
    """A parameter value is out of range or inconsistent."""


class GridMismatchError(ProductFormatError):
    """A raster of a product is not on the product's grid, or two products of one tile are on different grids."""


class OutputError(SyntheoError, OSError):
    """An output file or folder cannot be written where asked: the file system (or GDAL, creating a raster) refuses
    the path, e.g. below a regular file, a name too long, no permission, no space left."""


class ProductExistsError(SyntheoError, FileExistsError):
    """The product (or output folder) to write already exists; pass ``overwrite`` to replace it."""


class IncompleteProductWarning(UserWarning):
    """A product lacks optional files (metadata, some masks, AOT); what they would tell counts as clear."""


class StacApiError(SyntheoError, ConnectionError):
    """A STAC API that does not answer, refuses a search, or is not a STAC API (the message names its URL)."""


class TileMismatchError(SyntheoError, ValueError):
    """An input of another tile than the one asked for, where it cannot be set aside (an item given by itself), or
    inputs none of which is of that tile (the message names the tiles found)."""
