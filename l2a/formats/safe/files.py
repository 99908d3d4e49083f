"""The files of one ESA SAFE product (Sentinel-2 L1C or Sen2Cor L2A), in a folder or a checked .zip:
:class:`SafeFiles` lists and locates them, :func:`probe_raster` opens a raster's header and checks its kind (data
type and band count) at open time, naming the file.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Collection

from rasterio.crs import CRS

from l2a.errors import MissingFileError
from l2a.grid import Grid
from l2a.io.archive import ZipIndex
from l2a.io.members import list_members
from l2a.io.raster import open_raster
from l2a.io.xmldoc import parse_xml, parse_xml_bytes

__all__ = ["SafeFiles", "RasterInfo", "probe_raster"]


class SafeFiles:
    """The files of one SAFE product, in a folder or a checked .zip, addressed by POSIX paths relative to the
    product root (``MTD_MSIL2A.xml``, ``GRANULE/L2A_.../MTD_TL.xml``).

    Parameters
    ----------
    path : str or path-like
        Product folder or .zip archive as given to :func:`l2a.open_l2a` / :func:`l2a.open_l1c`.
    zip_index : ZipIndex, optional
        Checked member list when ``path`` is an archive.
    root : str
        Product root inside the folder or archive (``""`` when ``path`` is the product itself).
    """

    def __init__(self, path: str | os.PathLike, zip_index: ZipIndex | None = None, root: str = ""):
        self.path = Path(path)
        self.zip_index = zip_index
        self.root = root.strip("/")
        self._prefix = f"{self.root}/" if self.root else ""
        if zip_index is not None:
            names = [n[len(self._prefix):] for n in zip_index.names if n.startswith(self._prefix)]
        else:
            names = list_members(self.path / self.root if self.root else self.path)
        self.names = tuple(sorted(names))

    @property
    def product_name(self) -> str:
        """Name of the product folder without ``.SAFE`` (or of the archive without ``.zip``)."""
        name = PurePosixPath(self.root).name if self.root else self.path.name
        for suffix in (".zip", ".SAFE", ".safe"):
            name = name.removesuffix(suffix)
        return name

    def location(self, rel: str) -> str:
        """Path of a member for GDAL: a file path, or a ``/vsizip/`` path inside an archive."""
        if self.zip_index is not None:
            return self.zip_index.vsi(self._prefix + rel)
        return os.fspath(self.path / self.root / rel if self.root else self.path / rel)

    def display(self, rel: str) -> str:
        """Path of a member for messages (``archive.zip/member`` inside an archive)."""
        if self.zip_index is not None:
            return f"{self.zip_index.path}/{self._prefix}{rel}"
        return self.location(rel)

    def read_xml(self, rel: str) -> ET.Element:
        """Parse an XML member safely (defusedxml, namespaces stripped).

        Raises
        ------
        MissingFileError, MetadataError, UnsafeXMLError
        """
        if rel not in self.names:
            raise MissingFileError("metadata file not found", self.display(rel))
        if self.zip_index is not None:
            return parse_xml_bytes(self.zip_index.read_bytes(self._prefix + rel), self.display(rel))
        return parse_xml(self.location(rel))

    def match(self, pattern: re.Pattern) -> list[tuple[str, re.Match]]:
        """Members whose relative path matches a compiled regular expression, with their match objects."""
        out = []
        for name in self.names:
            m = pattern.match(name)
            if m:
                out.append((name, m))
        return out


@dataclass(frozen=True)
class RasterInfo:
    """Header of one raster: where it is, its grid, CRS (None when not georeferenced), first-band dtype, count."""

    display: str
    location: str
    grid: Grid
    crs: CRS | None
    dtype: str
    count: int


def probe_raster(files: SafeFiles, rel: str, what: str = "raster", *, dtypes: Collection[str] | None = None,
                 count: int | None = None) -> RasterInfo:
    """Open a member raster (header only), check its kind, and return its :class:`RasterInfo`.

    Parameters
    ----------
    files : SafeFiles
    rel : str
        Member path relative to the product root.
    what : str
        What the raster is, for messages (``"band B4"``).
    dtypes : collection of str, optional
        Data types accepted for every band (numpy names); any if None.
    count : int, optional
        Band count expected; any if None.

    Raises
    ------
    MissingFileError, CorruptRasterError, RasterKindError
        Naming the file.
    """
    location = files.location(rel)
    with open_raster(location, what, dtypes=dtypes, count=count) as ds:
        return RasterInfo(files.display(rel), location, Grid(ds.transform, ds.height, ds.width), ds.crs,
                          ds.dtypes[0], ds.count)
