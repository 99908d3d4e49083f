"""Format detection: :func:`open_l2a` and :func:`open_l1c` look at a path (folder or .zip) and hand it to the right
reader. A path that is no product, or a folder holding several products, is a :class:`NotAProductError`."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from l2a.io.archive import ZipIndex, open_zip_index
from l2a.io.members import list_members

from .errors import MissingFileError, NotAProductError

__all__ = ["open_l2a", "open_l1c", "detect_format", "find_products"]

#: Sen2Cor L2A, L1C SAFE and Theia markers, matched on member paths relative to the product root.
_MARKERS = {
    "sen2cor": ("MTD_MSIL2A.xml", "*/MTD_MSIL2A.xml"),
    "l1c": ("MTD_MSIL1C.xml", "*/MTD_MSIL1C.xml"),
    "theia": ("*_L2A_*_MTD_ALL.xml", "*_L2A_*_FRE_B*.tif", "*_L2A_*_SRE_B*.tif", "*_L2A_*_FRE_STACK.tif"),
}


def _matches(names, patterns) -> list[str]:
    return [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]


def _product_roots(names: list[str], kind: str) -> set[str]:
    """Distinct product roots (the folder part before the marker) among member names."""
    roots = set()
    for n in _matches(names, _MARKERS[kind]):
        # Theia images and the SAFE metadata both sit at the product root (MASKS/, GRANULE/ are below it)
        roots.add(n.rpartition("/")[0])
    return roots


#: Largest JSON file looked at as a STAC item, bytes (an item is a few tens of kB).
_ITEM_MAX_BYTES = 16 * 2**20


def _detect_item(p: Path) -> str:
    """``"stac"`` for a STAC item JSON file; NotAProductError for any other JSON file."""
    from l2a.io.jsondoc import read_json

    doc = read_json(p, "STAC item", error=NotAProductError, max_bytes=_ITEM_MAX_BYTES)
    if not isinstance(doc, dict) or doc.get("type") != "Feature" or "assets" not in doc:
        raise NotAProductError("is a JSON file but not a STAC item (a GeoJSON Feature with assets)", p)
    return "stac"


def detect_format(path: str | os.PathLike) -> tuple[str, Path, ZipIndex | None, str]:
    """Identify a product.

    Returns
    -------
    kind : str
        ``"theia"``, ``"sen2cor"``, ``"l1c"``, or ``"stac"`` (a STAC item JSON file, :mod:`l2a.formats.stac`).
    path : Path
        The path as given (absolute).
    zip_index : ZipIndex or None
        Checked member list for an archive.
    root : str
        Product root inside the folder or archive (``""`` when the path is the product itself).
    """
    p = Path(path).absolute()
    if not p.exists():
        raise MissingFileError("no such file or folder", p)
    zindex = None
    if p.is_file() and p.suffix.lower() == ".json":
        return _detect_item(p), p, None, ""
    if not p.is_dir():
        if p.suffix.lower() != ".zip" or not p.is_file():   # a device or a pipe is no product either
            raise NotAProductError("not a product (expected a product folder or .zip archive)", p)
        zindex = open_zip_index(p)
        names = list(zindex.names)
    else:
        names = list_members(p)
    found = {k: _product_roots(names, k) for k in _MARKERS}
    kinds = [k for k, roots in found.items() if roots]
    total = sum(len(r) for r in found.values())
    if total == 0:
        raise NotAProductError("not a Sentinel-2 product (no Theia, Sen2Cor or L1C SAFE layout found)", p)
    if total > 1 or len(kinds) > 1:
        raise NotAProductError(f"holds {total} products; give one product at a time", p)
    kind = kinds[0]
    return kind, p, zindex, next(iter(found[kind]))


def open_l2a(path: str | os.PathLike, *, reflectance: str = "FRE"):
    """Open a Level-2A product, whatever its format.

    Parameters
    ----------
    path : str or path-like
        Theia/MUSCATE product folder or .zip, Sen2Cor L2A SAFE folder or .zip, or a Sentinel-2 L2A STAC item JSON
        file (assets read where their hrefs point).
    reflectance : {"FRE", "SRE"}
        Theia products and Theia-layout STAC items: flat (slope-corrected, default) or surface reflectance.

    Returns
    -------
    L2AProduct

    Raises
    ------
    NotAProductError, ProductFormatError, MissingFileError, UnsafeArchiveError, MetadataError
    """
    kind, p, zindex, root = detect_format(path)
    if kind == "theia":
        from l2a.formats.theia.reader import open_theia
        return open_theia(p, zip_index=zindex, root=root, reflectance=reflectance)
    if kind == "sen2cor":
        from l2a.formats.safe.sen2cor import open_sen2cor
        return open_sen2cor(p, zip_index=zindex, root=root)
    if kind == "stac":
        from l2a.formats.stac import open_stac
        return open_stac([p], reflectance=reflectance)[0]
    raise NotAProductError("is a Level-1C product; use open_l1c (or run the L2A core) instead", p)


def open_l1c(path: str | os.PathLike):
    """Open an ESA Level-1C SAFE product (folder or .zip); returns an :class:`l2a.formats.safe.l1c.L1CProduct`."""
    kind, p, zindex, root = detect_format(path)
    if kind != "l1c":
        raise NotAProductError(f"is a {kind} Level-2A product, not a Level-1C SAFE", p)
    from l2a.formats.safe.l1c import open_l1c_safe
    return open_l1c_safe(p, zip_index=zindex, root=root)


def find_products(paths, kinds=("theia", "sen2cor", "stac")) -> list[Path]:
    """Expand inputs into product paths: each path is a product, or a folder whose direct entries are scanned
    (entries that are not products are ignored). Sorted, duplicates removed."""
    out: list[Path] = []
    for path in paths:
        p = Path(path).absolute()
        try:
            kind, *_ = detect_format(p)
            if kind in kinds:
                out.append(p)
                continue
        except NotAProductError:
            if not p.is_dir():
                raise
        for child in sorted(p.iterdir()) if p.is_dir() else []:
            if child.name.startswith(".") or not (child.is_dir() or child.suffix.lower() in (".zip", ".json")):
                continue
            try:
                kind, *_ = detect_format(child)
            except NotAProductError:
                continue
            if kind in kinds:
                out.append(child)
    return sorted(set(out))
