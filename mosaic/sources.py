"""Input side of ``mosaic build``: finding and checking the L3A products, and reading one product's pixels for one
output block at a working resolution, masked before any resampling.

Inputs are L3A product folders (or folders holding them) and STAC: an L3A item's JSON file (a product's own
``*_STAC.json``), an ItemCollection file, a static catalogue or collection (file, or folder holding ``catalog.json``
/ ``collection.json``), or the http(s) URL of any of these (:func:`find_inputs`). An item is read as the product it
describes (:func:`l3a.product.open_l3a_item`): its rasters may be remote COGs, read with GDAL's ``/vsicurl/`` under
the retry and timeout settings of :func:`gdal_cache`.

A product's resolution group (R1 or R2) is read on a *working grid* (its grid scaled by the read factor of
:func:`mosaic.grid.read_factor`): its own pixels (factor 1), or, when the output pixel is at least twice the source
pixel (previews), blocks of ``factor`` x ``factor`` pixels averaged over their valid (FLG 2-4) pixels only, read in
row chunks so that memory does not grow with the output pixel size. Always-cloudy pixels (FLG 1) are averaged apart,
for the fallback value of pixels that no tile sees clear.

Rasters are read through a :class:`DatasetPool` (one open dataset per thread); a raster that opens but cannot be
decoded when its pixels are read (a band truncated after the product was checked) is a one-line
:class:`~l2a.errors.CorruptRasterError` naming the file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import numpy as np
from rasterio.errors import RasterioError
from rasterio.windows import Window

from l2a.constants import REFLECTANCE_NODATA
from l2a.errors import CorruptRasterError, MissingFileError
from l2a.io.raster import open_raster, root_cause
from l2a.sensors import band_resolution
from l3a.bands import select_bands as select_output_bands
from l3a.product import L3AProduct, is_l3a_folder, open_l3a, open_l3a_item

from .errors import DuplicateTileError, MixedDatesError, NoInputError
from .flags import FLG_CLOUD, FLG_NODATA, FLG_SNOW

__all__ = ["GDAL_CACHE_BYTES", "gdal_cache", "StacItemRef", "Input", "find_inputs", "open_inputs", "select_month",
           "select_bands", "check_dates", "DatasetPool", "WorkingRead", "read_working", "coarse_usable"]

logger = logging.getLogger(__name__)

#: Full-resolution pixels read at once when averaging source pixels into a coarser working grid.
_CHUNK_PIXELS = 4_000_000


@dataclass(frozen=True)
class StacItemRef:
    """One item of a STAC source that holds several (ItemCollection, catalogue) or that is read over HTTP: what
    :func:`open_inputs` needs to open it, frozen and hashable (the document is kept as JSON text).

    Attributes
    ----------
    source : str
        The file or URL given, named in messages.
    base : str
        Folder or URL the item's relative hrefs resolve against.
    item_id : str
    document : str
        The item document, JSON.
    """

    source: str
    base: str
    item_id: str
    document: str

    def open(self) -> L3AProduct:
        """The product the item describes (``path``: ``Path(item_id)``)."""
        return open_l3a_item(json.loads(self.document), self.base, self.source)


#: An input of :func:`open_inputs`: a product folder or a JSON file of one item (Path), or an item of a larger source.
Input = Union[Path, StacItemRef]
#: Products opened at once by :func:`open_inputs`.
OPEN_THREADS = 8
#: Names of a folder's STAC catalogue.
_CATALOGUE_FILES = ("catalog.json", "collection.json")


def find_inputs(paths: Sequence[str | os.PathLike]) -> list[Input]:
    """The inputs of the paths given: L3A product folders, or folders holding them; JSON files of STAC (an item, an
    ItemCollection, a catalogue or collection), or folders holding ``catalog.json`` / ``collection.json``; http(s)
    URLs of STAC documents.

    Returns
    -------
    list of Path or StacItemRef
        Paths (product folders, and JSON files holding exactly one item), sorted, then the items of the other
        STAC sources, by source and id; each once.

    Raises
    ------
    NoInputError
        No path given, a path that does not exist, a folder with no L3A product nor catalogue, a source with no
        item, a file that is neither a folder nor JSON.
    NotAProductError, MetadataError, MissingFileError
        A JSON document that is not STAC or cannot be read (:func:`l2a.formats.stac.read_items`).
    """
    if not paths:
        raise NoInputError("no L3A product given")
    found: list[Input] = []
    for given in paths:
        text = os.fspath(given)
        if text.startswith(("http://", "https://")):
            found.extend(_stac_inputs(text))
            continue
        p = Path(text)
        if not p.exists():
            raise NoInputError("no such file or folder", p)
        if is_l3a_folder(p):
            found.append(p.absolute())
        elif p.is_dir():
            found.extend(_folder_inputs(p))
        elif p.suffix.lower() == ".json":
            found.extend(_stac_inputs(p.absolute()))
        else:
            raise NoInputError("neither an L3A product folder nor a STAC JSON file", p)
    return sorted(set(found), key=_input_order)


def _folder_inputs(folder: Path) -> list[Input]:
    """The L3A products in a folder, else the items of its STAC catalogue."""
    inner = sorted(c.absolute() for c in folder.iterdir() if is_l3a_folder(c))
    if inner:
        return inner
    if any((folder / name).is_file() for name in _CATALOGUE_FILES):
        return _stac_inputs(folder.absolute())
    raise NoInputError("neither an L3A product nor a folder of L3A products or with a STAC catalogue "
                       f"({' or '.join(_CATALOGUE_FILES)})", folder)


def _stac_inputs(source: str | Path) -> list[Input]:
    """The items of a STAC source: the file itself when it is a local JSON file of one item (opened by
    :func:`l3a.product.open_l3a`), else one :class:`StacItemRef` per item."""
    from l2a.formats.stac import read_items

    items = read_items(source)
    if not items:
        raise NoInputError("holds no STAC item", source)
    if isinstance(source, Path) and source.is_file() and len(items) == 1:
        return [source]
    return [StacItemRef(os.fspath(source), base, str(doc.get("id", "")) if isinstance(doc, dict) else "",
                        json.dumps(doc)) for doc, base in items]


def _input_order(item: Input) -> tuple:
    """Paths first, in Path order (as before items were inputs), then items by source and id."""
    if isinstance(item, StacItemRef):
        return 1, item.source, item.item_id, item.base
    return 0, item


def open_inputs(inputs: Sequence[Input], month: str | None = None) -> list[L3AProduct]:
    """Open the products (those of ``month`` only, see :func:`select_month`), sorted by tile name (the blending
    order), refusing a tile given twice (a product folder and its own item, too).

    Parameters
    ----------
    inputs : sequence of Path or StacItemRef
        From :func:`find_inputs`: product folders and item files (:func:`l3a.product.open_l3a`), items of other
        STAC sources.

    Raises
    ------
    DuplicateTileError
        Two inputs of one tile.
    the errors of :func:`l3a.product.open_l3a` and :func:`l3a.product.open_l3a_item`
    """
    from l2a.io.threads import env_thread_pool, map_or_cancel

    # opening reads every raster's header: a request or two each for a remote item, latency-bound, so in parallel
    with env_thread_pool(min(OPEN_THREADS, len(inputs))) as pool:
        opened = map_or_cancel(pool, lambda p: p.open() if isinstance(p, StacItemRef) else open_l3a(p), inputs)
    products = sorted(select_month(opened, month), key=lambda prod: (prod.tile, prod.name))
    for a, b in zip(products, products[1:]):
        if a.tile == b.tile:
            raise DuplicateTileError(f"tile {a.tile} is given twice ({a.name} and {b.name})", b.path)
    return products


def select_month(products: Sequence[L3AProduct], month: str | None) -> list[L3AProduct]:
    """The products whose central date falls in ``month`` (``YYYY-MM``; None keeps them all).

    Raises
    ------
    NoInputError
        If none does.
    """
    if month is None:
        return list(products)
    kept = [p for p in products if f"{p.central_date:%Y-%m}" == month]
    if not kept:
        months = sorted({f"{p.central_date:%Y-%m}" for p in products})
        raise NoInputError(f"no input product of {month} (months present: {', '.join(months)})")
    logger.info("%d of %d products are of %s", len(kept), len(products), month)
    return kept


def check_dates(products: Sequence[L3AProduct], allow_mixed: bool = False) -> None:
    """All central dates must be equal (seams came from inconsistent central dates); logged if ``allow_mixed``.

    Raises
    ------
    MixedDatesError
    """
    dates = sorted({p.central_date for p in products})
    if len(dates) <= 1:
        return
    first = next(p for p in products if p.central_date == dates[0])
    other = next(p for p in products if p.central_date != dates[0])
    text = (f"central dates differ: {first.tile} {first.central_date} vs {other.tile} {other.central_date} "
            f"({len(dates)} dates)")
    if not allow_mixed:
        raise MixedDatesError(text + "; use --allow-mixed-dates to mosaic them anyway", other.path)
    logger.warning("%s; mosaicking them as asked", text)


def select_bands(products: Sequence[L3AProduct], bands: Sequence[str] | None) -> tuple[str, ...]:
    """Output bands: those asked (checked in every product, in the order asked), or every band common to all
    products, L2A order (:func:`l3a.bands.select_bands`); then the masks they need are checked.

    Raises
    ------
    BandNotFoundError
        A band asked for is missing from a product, or the products have no band in common.
    MissingFileError
        A product lacks the FLG or WGT mask of a resolution group it needs.
    """
    wanted = select_output_bands(products, bands, keep_request_order=True)
    for res in {band_resolution(b) for b in wanted}:
        for p in products:
            for kind in ("FLG", "WGT"):
                if not p.has_mask(kind, res):
                    raise MissingFileError(f"{kind} mask at {res} not found (needed for the {res} bands)",
                                           p.mask_path(kind, res))
    return wanted


class DatasetPool:
    """Open datasets per thread (a rasterio dataset must not be shared between threads), closed together.

    :meth:`read` (pixels or masks) turns GDAL's read failures into :class:`~l2a.errors.CorruptRasterError`.
    """

    def __init__(self):
        self._local = threading.local()
        self._all: list = []
        self._lock = threading.Lock()

    def get(self, path: str | os.PathLike):
        """The dataset of the raster at ``path`` (a file or a GDAL path) in this thread, opened at first use.

        Raises
        ------
        MissingFileError, CorruptRasterError
            The raster is absent or cannot be opened; the message names ``path``.
        """
        cache = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = {}
        key = os.fspath(path)
        ds = cache.get(key)
        if ds is None:
            try:
                ds = cache[key] = open_raster(_sidecar_free(key))
            except (MissingFileError, CorruptRasterError) as exc:
                raise type(exc)(exc.problem, key) from exc  # named as the product names it
            with self._lock:
                self._all.append(ds)
        return ds

    def read(self, path: str | os.PathLike, indexes=None, *, masks: bool = False, **kwargs) -> np.ndarray:
        """``DatasetReader.read`` (or ``read_masks`` when ``masks``) of the raster at ``path``, in this thread.

        Raises
        ------
        MissingFileError, CorruptRasterError
            The raster is absent, or cannot be opened or decoded (a truncated file); the message names it.
        """
        ds = self.get(path)
        try:
            return ds.read_masks(indexes, **kwargs) if masks else ds.read(indexes, **kwargs)
        except RasterioError as exc:
            raise CorruptRasterError(f"cannot read pixels ({root_cause(exc)})", os.fspath(path)) from exc

    def close(self) -> None:
        with self._lock:
            for ds in self._all:
                ds.close()
            self._all.clear()
        self._local = threading.local()


def _sidecar_free(path: str) -> str:
    """The GDAL path that opens a ``/vsicurl/`` raster without listing its folder or probing its sidecar files
    (``.aux.xml``, ``.msk``... : a HEAD request each, 9 per raster and thread, 70 % of the requests of a remote
    build), by GDAL's per-file option ``empty_dir`` (what ``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`` does for
    every file, local ones included); any other path as it is."""
    if not path.startswith("/vsicurl/"):
        return path
    from urllib.parse import quote

    return "/vsicurl?empty_dir=yes&url=" + quote(path[len("/vsicurl/"):], safe="")


def _read_padded(pool: DatasetPool, path: Path, rows: tuple[int, int], cols: tuple[int, int], fill) -> np.ndarray:
    """Read rows [r0, r1) x cols [c0, c1) of band 1, padding with ``fill`` where the window leaves the raster."""
    (r0, r1), (c0, c1) = rows, cols
    ds = pool.get(path)
    out = np.full((r1 - r0, c1 - c0), fill, dtype=ds.dtypes[0])
    rr0, rr1, cc0, cc1 = max(r0, 0), min(r1, ds.height), max(c0, 0), min(c1, ds.width)
    if rr1 > rr0 and cc1 > cc0:
        out[rr0 - r0:rr1 - r0, cc0 - c0:cc1 - c0] = pool.read(path, 1, window=Window(cc0, rr0, cc1 - cc0, rr1 - rr0))
    return out


def _reduce(block: np.ndarray, factor: int, how: str) -> np.ndarray:
    rows, cols = block.shape
    view = block.reshape(rows // factor, factor, cols // factor, factor)
    if how == "sum":
        return view.sum(axis=(1, 3))
    return view.max(axis=(1, 3)) if how == "max" else view.min(axis=(1, 3))


def coarse_usable(pool: DatasetPool, product: L3AProduct, res: str, cell_px: int) -> np.ndarray:
    """Cells of ``cell_px`` x ``cell_px`` source pixels (aligned on the tile's origin) whose pixels are all valid
    (FLG 2-4), over the whole tile, with one unusable cell all around (outside the frame).

    Returns
    -------
    bool (ceil(rows / cell_px) + 2, ceil(cols / cell_px) + 2); cells partly outside the frame are unusable.
    """
    path = product.mask_path("FLG", res)
    ds = pool.get(path)
    rows_c, cols_c = -(-ds.height // cell_px), -(-ds.width // cell_px)
    out = np.zeros((rows_c + 2, cols_c + 2), bool)
    step = max(1, _CHUNK_PIXELS // max(1, cols_c * cell_px * cell_px))
    for a in range(0, rows_c, step):
        b = min(rows_c, a + step)
        flg = _read_padded(pool, path, (a * cell_px, b * cell_px), (0, cols_c * cell_px), FLG_NODATA)
        out[1 + a:1 + b, 1:-1] = _reduce((flg >= FLG_SNOW).astype(np.uint8), cell_px, "min") > 0
    return out

#: GDAL's block cache in the mosaic commands, bytes. GDAL's default is 5 % of the machine's memory (1.2 GB on 24 GB),
#: and the blocks written to the output rasters and read from the inputs fill it as a run goes on: ``mosaic build``
#: peaked at 1.9-2.1 GB for 28-111 Mpx outputs of 3 bands, 0.7 GB with a 64 MiB cache. 128 MiB holds the input
#: blocks of the blocks in flight (each read once per block that meets it) and keeps the peak flat with the output.
GDAL_CACHE_BYTES = 128 * 2**20


def gdal_cache():
    """``rasterio.Env`` bounding GDAL's block cache to :data:`GDAL_CACHE_BYTES` (rasterio takes ``GDAL_CACHEMAX`` in
    bytes: a bare 128 would be a 128-byte cache), with the HTTP settings of
    :data:`l2a.formats.stac.remote.REMOTE_DEFAULTS` that the environment leaves unset, for the inputs read from
    STAC items over ``/vsicurl/`` (retries with back-off, a timeout, merged range requests).

    ``GDAL_DISABLE_READDIR_ON_OPEN`` is left alone here: it applies to local files too, and would hide their
    sidecar files (external overviews, ``.aux.xml``, ``.msk``) from GDAL; :class:`DatasetPool` opens remote
    rasters without sidecars file by file instead."""
    import rasterio

    from l2a.formats.stac.remote import REMOTE_DEFAULTS

    http = {k: v for k, v in REMOTE_DEFAULTS.items() if k not in os.environ and k != "GDAL_DISABLE_READDIR_ON_OPEN"}
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES, **http)


@dataclass
class WorkingRead:
    """One product's pixels of one resolution group on a working window.

    Attributes
    ----------
    reflectance : float32 (bands, rows, cols)
        Mean reflectance x10000 of the valid source pixels; NaN where none.
    wgt : float32 (rows, cols)
        Mean WGT (x1000) of the valid source pixels (0 where none).
    fraction : float32 (rows, cols)
        Fraction of the working pixel's source pixels that are valid, 0-1.
    flg : uint8 (rows, cols)
        FLG of the working pixels: the largest valid class present (land > water > snow), else 1 if any pixel is
        always cloudy, else 0.
    cloud : float32 (bands, rows, cols) or None
        Mean reflectance of the FLG 1 pixels (NaN where none); None when the window has none.
    """

    flg: np.ndarray
    reflectance: np.ndarray
    wgt: np.ndarray
    fraction: np.ndarray
    cloud: np.ndarray | None


def _mean(values: np.ndarray, count: np.ndarray, factor: int) -> np.ndarray:
    """Mean of the (already zeroed where unused) values over working pixels; NaN where ``count`` is 0."""
    total = _reduce(values, factor, "sum") if factor > 1 else values
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def read_working(pool: DatasetPool, product: L3AProduct, res: str, bands: Sequence[str], factor: int,
                 rows: tuple[int, int], cols: tuple[int, int]) -> WorkingRead:
    """Read FLG, reflectance and WGT of working rows/cols (inside the working grid), masked by FLG before
    averaging ``factor`` x ``factor`` source pixels."""
    (r0, r1), (c0, c1) = rows, cols
    shape = (r1 - r0, c1 - c0)
    refl = np.full((len(bands),) + shape, np.nan, np.float32)
    wgt = np.zeros(shape, np.float32)
    fraction = np.zeros(shape, np.float32)
    flg_out = np.zeros(shape, np.uint8)
    cloud = None
    flg_path, wgt_path = product.mask_path("FLG", res), product.mask_path("WGT", res)
    band_paths = [product.frc_path(b) for b in bands]
    step = max(1, _CHUNK_PIXELS // max(1, (c1 - c0) * factor * factor))
    for a in range(r0, r1, step):
        b = min(r1, a + step)
        out_rows = slice(a - r0, b - r0)
        src = ((a * factor, b * factor), (c0 * factor, c1 * factor))
        flg = _read_padded(pool, flg_path, *src, FLG_NODATA)
        if not (flg >= FLG_CLOUD).any():
            continue
        planes = [_read_padded(pool, path, *src, REFLECTANCE_NODATA) for path in band_paths]
        present = np.logical_and.reduce([p != REFLECTANCE_NODATA for p in planes]) if planes else True
        valid = (flg >= FLG_SNOW) & present
        is_cloud = (flg == FLG_CLOUD) & present
        best = np.where(valid, flg, np.where(is_cloud, FLG_CLOUD, FLG_NODATA)).astype(np.uint8)
        flg_out[out_rows] = _reduce(best, factor, "max") if factor > 1 else best
        count = _reduce(valid.astype(np.float32), factor, "sum") if factor > 1 else valid.astype(np.float32)
        fraction[out_rows] = count / float(factor * factor)
        raw_wgt = _read_padded(pool, wgt_path, *src, 0).astype(np.float32)
        wgt[out_rows] = np.nan_to_num(_mean(np.where(valid, raw_wgt, np.float32(0)), count, factor))
        for i, p in enumerate(planes):
            refl[i, out_rows] = _mean(np.where(valid, p.astype(np.float32), np.float32(0)), count, factor)
        if is_cloud.any():
            if cloud is None:
                cloud = np.full((len(bands),) + shape, np.nan, np.float32)
            ccount = (_reduce(is_cloud.astype(np.float32), factor, "sum") if factor > 1
                      else is_cloud.astype(np.float32))
            for i, p in enumerate(planes):
                cloud[i, out_rows] = _mean(np.where(is_cloud, p.astype(np.float32), np.float32(0)), ccount, factor)
    return WorkingRead(flg_out, refl, wgt, fraction, cloud)

