"""National mosaics as COG tiles: the tiled layout of ``mosaic build``, and its runs on a dask cluster.

One COG through one temporary GeoTIFF does not scale to a country (France at 10 m is ~100,000 x 100,000 pixels per
band, one writer on one disk). In the tiled layout the output grid is cut into square COG tiles of
``grid_tile_px`` pixels (:attr:`mosaic.params.MosaicParams.grid_tile_px`) on a lattice anchored at the CRS origin,
so that every month at one resolution has the same tiles with the same names. Each tile is an independent job: any
worker computes its blocks (:mod:`mosaic.blocks`) and writes its two COGs, each atomically, then its STAC item, the
mark that the tile is finished. Outputs in ``--out``:

* ``tiles/E{i}_N{j}_mosaic.tif``, ``tiles/E{i}_N{j}_flags.tif``: the rasters of one tile (as ``mosaic.tif`` and
  ``flags.tif`` of the single layout), whose upper-left corner is at ``(i, j) x grid_tile_px x resolution`` in the
  CRS; ``tiles/E{i}_N{j}.json``: its STAC item. Only tiles that meet the inputs' footprints (and the cutline) exist.
* ``mosaic.vrt``: every band over the tiles, with the mask, the metadata of ``mosaic.tif`` and ``FLAGS=flags.vrt``;
  ``mosaic tiles``, ``mosaic compare`` and GIS read it as they read ``mosaic.tif`` (GDAL uses the tiles' overviews).
* ``flags.vrt``: FLG and NTILES over the tiles; ``collection.json``: the STAC collection of the tiles' items.
* ``national.json``: the run's manifest (parameters, inputs, grid, tiles, ``complete``). A run that stops (Ctrl-C,
  a lost node) is resumed by the same command: finished tiles are kept, the others are written, and the VRTs and the
  collection are written when every tile is there.

Memory does not depend on the country's size: a tile job holds its blocks in flight and GDAL's bounded cache
(:data:`mosaic.sources.GDAL_CACHE_BYTES`); its COGs are finished from temporary files on disk. The client holds the
inputs' feathering ramps (~1 MB per input tile) and the list of tiles.

With ``--scheduler`` the tile jobs are dask tasks on a running cluster (workers that share the file system, each
offering the ``tile-month`` resource of :mod:`l3a.batch.cluster`, so that one heavy task runs per worker at a time);
the single layout's blocks can also be computed there (:func:`cluster_block_computer`), in groups of
:data:`BLOCKS_PER_TASK`, and written by the client.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import logging
import math
import shutil
import time
import uuid
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from l2a._version import __version__
from l2a.constants import REFLECTANCE_NODATA as NODATA
from l2a.grid import Grid
from l2a.io.xmldoc import sub_element

from .blocks import Mosaicker, TileSource, compute_ramps
from .cluster import RETRIES, cancel_unfinished, run_task, scheduler_client, task_result
from .documents import read_json, write_json
from .errors import MosaicFormatError, OutputExistsError
from .flags import FLG_DESCRIPTION, FLG_OUTSIDE
from .outputs import output_errors, parent_folders
from .params import MosaicParams
from .rasters import SCALE, write_rasters
from .sources import gdal_cache

__all__ = ["TILES_DIR", "NATIONAL_FILES", "BLOCKS_PER_TASK", "GridTile", "lattice_grid", "grid_tiles",
           "build_national", "write_grid_tile", "national_files", "remove_national", "cluster_block_computer"]

logger = logging.getLogger(__name__)

#: Folder of the COG tiles and their items, in ``--out``.
TILES_DIR = "tiles"
#: Documents of the tiled layout, in ``--out``.
NATIONAL_FILES = {"mosaic": "mosaic.vrt", "flags": "flags.vrt", "collection": "collection.json",
                  "manifest": "national.json"}
#: Blocks of the single layout computed by one dask task: 16 blocks of 512 x 512 pixels are ~80 MB of int16 for
#: 10 bands sent back to the client, and seconds of work, so the scheduler's ~ms per task is negligible.
BLOCKS_PER_TASK = 16
#: Manifest keys that must match for a run to resume an interrupted one.
_RESUME_KEYS = ("layout", "params", "inputs", "crs", "transform", "shape", "tile_px", "tiles")


@dataclass(frozen=True)
class GridTile:
    """One COG tile of the tiled layout.

    Attributes
    ----------
    name : str
        ``E{i}_N{j}``: the lattice indices of its upper-left corner (``i x side``, ``j x side`` in CRS units, side =
        ``grid_tile_px x resolution``).
    window : Window
        Its pixels in the national grid (:func:`lattice_grid`).
    """

    name: str
    window: Window


def lattice_grid(grid: Grid, tile_px: int) -> tuple[Grid, int, int]:
    """``grid`` grown to whole tiles of ``tile_px`` pixels of a lattice anchored at the CRS origin.

    Returns
    -------
    (Grid, i0, j0)
        The grown grid (same pixels, a multiple of ``tile_px`` on each side) and the lattice indices of its upper-left
        tile (its corner is at ``(i0 x side, j0 x side)``).
    """
    res = grid.resolution
    side = tile_px * res
    left, bottom, right, top = grid.bounds
    i0 = math.floor(round(left / side, 9))
    j0 = math.ceil(round(top / side, 9))
    cols = max(1, math.ceil(round((right - i0 * side) / side, 9)))
    rows = max(1, math.ceil(round((j0 * side - bottom) / side, 9)))
    grown = Grid(Affine(res, 0.0, i0 * side, 0.0, -res, j0 * side), rows * tile_px, cols * tile_px, grid.crs)
    return grown, i0, j0


def grid_tiles(grid: Grid, tile_px: int, i0: int, j0: int, area) -> list[GridTile]:
    """The tiles of a lattice grid (:func:`lattice_grid`) that meet ``area`` (a shapely geometry in the grid's CRS:
    the inputs' footprints, cut by the cutline), row by row from the north-west."""
    from shapely.geometry import box

    tiles = []
    for r in range(grid.height // tile_px):
        for c in range(grid.width // tile_px):
            window = Window(c * tile_px, r * tile_px, tile_px, tile_px)
            if box(*grid.window_bounds(window)).intersection(area).area > 0:
                tiles.append(GridTile(f"E{i0 + c}_N{j0 - r}", window))
    return tiles


@dataclass(frozen=True)
class _NationalJob:
    """Everything a worker needs to write a tile (picklable; scattered once to every worker)."""

    out: Path
    grid: Grid
    sources: tuple[TileSource, ...]
    bands: tuple[str, ...]
    flags_res: str
    params: MosaicParams
    cutline: object
    tags: dict
    central_date: dt.date
    collection_id: str
    inputs: tuple[str, ...]

    def tile_paths(self, tile: GridTile) -> dict[str, Path]:
        folder = self.out / TILES_DIR
        return {"mosaic": folder / f"{tile.name}_mosaic.tif", "flags": folder / f"{tile.name}_flags.tif",
                "item": folder / f"{tile.name}.json"}


def write_grid_tile(job: _NationalJob, tile: GridTile, threads: int = 1) -> dict:
    """Write one COG tile (reflectance, flags, then its STAC item) unless its item is there already.

    Returns
    -------
    dict
        ``tile``, ``status`` (``written`` or ``exists``), ``seconds``.
    """
    start = time.perf_counter()
    paths = job.tile_paths(tile)
    if paths["item"].exists():
        return {"tile": tile.name, "status": "exists", "seconds": 0.0}
    tile_grid = Grid(job.grid.window_transform(tile.window), int(tile.window.height), int(tile.window.width),
                     job.grid.crs)
    worker = Mosaicker(tile_grid, list(job.sources), job.bands, job.flags_res, job.params, job.cutline)
    try:
        with gdal_cache():
            write_rasters(worker, paths["mosaic"], paths["flags"], job.tags, threads, error_scope=paths["mosaic"])
    finally:
        worker.pool.close()
    with output_errors(paths["item"]):
        write_json(paths["item"], _tile_item(job, tile, tile_grid))
    return {"tile": tile.name, "status": "written", "seconds": round(time.perf_counter() - start, 3)}


def _write_tile_task(job: _NationalJob, tile: GridTile) -> dict:
    """A dask task (through :func:`mosaic.cluster.run_task`): :func:`write_grid_tile` with the worker's threads."""
    from .cluster import worker_threads

    return write_grid_tile(job, tile, max(1, worker_threads()))


def _tile_item(job: _NationalJob, tile: GridTile, tile_grid: Grid) -> dict:
    """STAC item of one tile: footprint (the tile cut by the inputs' area), central date, projection, assets."""
    from .build import mosaic_item

    item = mosaic_item(f"{job.collection_id}_{tile.name}", tile_grid, [s.footprint for s in job.sources],
                       job.cutline, job.central_date, job.params, job.bands, {"syntheo:grid_tile": tile.name},
                       f"./{tile.name}_mosaic.tif", f"./{tile.name}_flags.tif")
    item.collection_id = job.collection_id
    doc = item.to_dict(include_self_link=False)
    doc["links"] = [{"rel": "collection", "href": f"../{NATIONAL_FILES['collection']}", "type": "application/json"},
                    {"rel": "parent", "href": f"../{NATIONAL_FILES['collection']}", "type": "application/json"}]
    return doc


def _overview_vrts(out: Path) -> list[Path]:
    return [*out.glob("mosaic.x*.vrt"), *out.glob("flags.x*.vrt")]


def national_files(out: Path) -> list[Path]:
    """The tiled layout's documents and tile folder present in ``out``."""
    return [p for p in [*(out / n for n in NATIONAL_FILES.values()), out / TILES_DIR, *_overview_vrts(out)]
            if p.exists()]


def remove_national(out: Path, keep: tuple[str, ...] = ()) -> None:
    """Remove a tiled mosaic from ``out`` (documents first, so that a partial removal never looks complete), but
    the files named in ``keep`` (``mosaic.vrt`` is also the single layout's true-colour view)."""
    for name in ("mosaic", "flags", "collection", "manifest"):
        if NATIONAL_FILES[name] not in keep:
            (out / NATIONAL_FILES[name]).unlink(missing_ok=True)
    for path in _overview_vrts(out):
        path.unlink(missing_ok=True)
    shutil.rmtree(out / TILES_DIR, ignore_errors=True)


def _manifest(job: _NationalJob, tiles: list[GridTile]) -> dict:
    return {"layout": "tiled", "params": json.loads(json.dumps(job.params.to_dict())), "inputs": list(job.inputs),
            "crs": job.grid.crs.to_string(), "transform": list(job.grid.transform)[:6], "shape": list(job.grid.shape),
            "tile_px": job.params.grid_tile_px, "tiles": [t.name for t in tiles],
            "central_date": job.central_date.isoformat(), "software": f"syntheo {__version__}", "complete": False}


def _check_previous(out: Path, manifest: dict, overwrite: bool) -> None:
    """Refuse to write over another mosaic unless ``overwrite`` (then remove it); an interrupted run of the same
    inputs and parameters is resumed."""
    from .build import OUTPUT_FILES

    single = [out / n for n in OUTPUT_FILES.values() if (out / n).exists()]
    path = out / NATIONAL_FILES["manifest"]
    if overwrite:
        for p in single:
            p.unlink()
        remove_national(out)
        return
    if single:
        raise OutputExistsError("holds a mosaic already (use --overwrite to replace it)", out)
    if not path.exists():
        if (out / TILES_DIR).exists():
            raise OutputExistsError(f"has a {TILES_DIR}/ folder but no {NATIONAL_FILES['manifest']} "
                                    "(use --overwrite to replace it)", out)
        return
    try:
        old = read_json(path, "national mosaic manifest")
    except MosaicFormatError:
        old = {}
    old = old if isinstance(old, dict) else {}
    if old.get("complete") is True:
        raise OutputExistsError("holds a mosaic already (use --overwrite to replace it)", out)
    diff = [k for k in _RESUME_KEYS if old.get(k) != manifest[k]]
    if diff:
        raise OutputExistsError(f"holds an unfinished mosaic of other inputs or parameters ({', '.join(diff)}); "
                                "use --overwrite to replace it", out)
    logger.info("%s: resuming an interrupted mosaic (finished tiles are kept)", out)


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary files of tile writers that died (a killed worker, Ctrl-C): a resumed run rewrites those tiles."""
    for p in folder.glob(".tmp-*"):
        p.unlink(missing_ok=True)


def build_national(out: Path, grid: Grid, sources: list[TileSource], bands: tuple[str, ...], flags_res: str,
                   params: MosaicParams, cutline, central_date: dt.date, *, workers: int = 1, overwrite: bool = False,
                   show_progress: bool = False, scheduler: str | None = None, start: float | None = None):
    """Write the tiled layout (see the module docstring) of a prepared mosaic; returns a
    :class:`mosaic.build.MosaicResult` (``files``: ``mosaic`` and ``flags`` VRTs, ``collection``, ``manifest``,
    ``tiles`` folder; ``extra``: tiles written and found finished).

    Parameters as :func:`mosaic.build.build_mosaic`, after its checks (``grid``: the grid of the inputs'
    footprints, grown here to whole tiles).
    """
    from shapely.ops import unary_union

    from .build import MosaicResult, mosaic_tags

    start = time.perf_counter() if start is None else start
    grown, i0, j0 = lattice_grid(grid, params.grid_tile_px)
    area = unary_union([s.footprint for s in sources])
    if cutline is not None:
        area = area.intersection(cutline)
    tiles = grid_tiles(grown, params.grid_tile_px, i0, j0, area)
    products = [s.product for s in sources]
    tags = {**mosaic_tags(params, products, central_date), "FLAGS": NATIONAL_FILES["flags"]}
    job = _NationalJob(out, grown, tuple(sources), bands, flags_res, params, cutline, tags, central_date,
                       f"mosaic_{central_date:%Y%m%d}", tuple(p.name for p in products))
    manifest = _manifest(job, tiles)
    records: list[dict] = []
    with contextlib.ExitStack() as stack:
        # the cluster first: a scheduler that does not answer leaves nothing behind
        client = stack.enter_context(scheduler_client(scheduler)) if scheduler is not None else None
        _check_previous(out, manifest, overwrite)
        stack.enter_context(parent_folders(out))
        stack.enter_context(gdal_cache())
        with output_errors(out):
            (out / TILES_DIR).mkdir(parents=True, exist_ok=True)
            _remove_stale_temporaries(out / TILES_DIR)
            write_json(out / NATIONAL_FILES["manifest"], manifest)
        todo = [t for t in tiles if not job.tile_paths(t)["item"].exists()]
        records += [{"tile": t.name, "status": "exists", "seconds": 0.0} for t in tiles if t not in todo]
        if todo and params.method == "blend":
            ramps = Mosaicker(grown, sources, bands, flags_res, params, cutline)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NotGeoreferencedWarning)  # see mosaic.rasters.write_rasters
                    compute_ramps(ramps, workers, show_progress)
            finally:
                ramps.pool.close()
        if todo and client is None:
            from tqdm import tqdm

            for tile in tqdm(todo, desc="mosaic tiles", unit="tile", disable=not show_progress, leave=False):
                records.append(write_grid_tile(job, tile, workers))
        elif todo:
            records += _run_tiles_on_cluster(client, job, todo, show_progress)
        with output_errors(out):
            # every task has ended: what a killed worker left (its task was given to another) can go
            _remove_stale_temporaries(out / TILES_DIR)
            written = [t for t in tiles if job.tile_paths(t)["item"].exists()]
            _write_vrts(out, job, written, "mosaic")
            _write_vrts(out, job, written, "flags")
            write_json(out / NATIONAL_FILES["collection"], _collection(job, written, area))
            write_json(out / NATIONAL_FILES["manifest"], {**manifest, "complete": True})
    files = {**{k: out / v for k, v in NATIONAL_FILES.items()}, "tiles": out / TILES_DIR}
    n_written = sum(r["status"] == "written" for r in records)
    result = MosaicResult(out, files, grown, bands, [p.name for p in products], central_date,
                          time.perf_counter() - start, len(tiles) * (params.grid_tile_px // params.block_size) ** 2,
                          extra={"layout": "tiled", "grid_tiles": len(tiles), "tiles_written": n_written,
                                 "tiles_existing": len(records) - n_written})
    logger.info("tiled mosaic of %d tiles, %d x %d pixels in %d COG tiles (%d written), in %s in %.1f s",
                len(products), grown.height, grown.width, len(tiles), n_written, out, result.seconds)
    return result


def _run_tiles_on_cluster(client, job: _NationalJob, tiles: list[GridTile], show_progress: bool) -> list[dict]:
    """The tile jobs as dask tasks (:func:`mosaic.cluster.run_task`: other than data errors, retried twice); the
    first error cancels the rest and is raised here."""
    from distributed import as_completed
    from tqdm import tqdm

    from l3a.batch.params import TILE_MONTH_RESOURCE

    job_future = client.scatter(job, broadcast=True)
    run = uuid.uuid4().hex[:12]
    futures = [client.submit(run_task, _write_tile_task, job_future, tile, key=f"mosaic-tile-{tile.name}-{run}",
                             resources={TILE_MONTH_RESOURCE: 1}, retries=RETRIES, pure=False) for tile in tiles]
    records = []
    try:
        with tqdm(total=len(futures), desc="mosaic tiles", unit="tile", disable=not show_progress,
                  leave=False) as bar:
            for fut in as_completed(futures):
                records.append(task_result(fut.result()))
                bar.update()
    except BaseException:
        cancel_unfinished(client, futures)
        raise
    return records


def _compute_blocks(job: _NationalJob, windows: list[Window]) -> list:
    """A dask task (through :func:`mosaic.cluster.run_task`): blocks of the single layout
    (:meth:`mosaic.blocks.Mosaicker.block`'s tuples)."""
    worker = Mosaicker(job.grid, list(job.sources), job.bands, job.flags_res, job.params, job.cutline)
    try:
        with gdal_cache(), warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return [worker.block(w) for w in windows]
    finally:
        worker.pool.close()


def cluster_block_computer(client, worker: Mosaicker, show_progress: bool = False):
    """``compute(blocks, write)`` for :func:`mosaic.rasters.write_rasters`: the single layout's blocks computed by
    the cluster's workers in groups of :data:`BLOCKS_PER_TASK`, at most two groups per worker in flight (the
    results come back to the client), and written here as they come."""
    from distributed import as_completed
    from tqdm import tqdm

    from l3a.batch.params import TILE_MONTH_RESOURCE

    def compute(blocks: list[Window], write) -> None:
        job = _NationalJob(Path("."), worker.grid, tuple(worker.sources), worker.bands, worker.flags_res,
                           worker.params, worker.cutline, {}, dt.date.min, "", ())
        job_future = client.scatter(job, broadcast=True)
        run = uuid.uuid4().hex[:12]
        groups = [blocks[i:i + BLOCKS_PER_TASK] for i in range(0, len(blocks), BLOCKS_PER_TASK)]
        in_flight = 2 * max(1, len(client.scheduler_info().get("workers", {})))
        todo = iter(enumerate(groups))

        def submit(index, group):
            return client.submit(run_task, _compute_blocks, job_future, group, key=f"mosaic-blocks-{index}-{run}",
                                 resources={TILE_MONTH_RESOURCE: 1}, retries=RETRIES, pure=False)

        submitted = [submit(i, g) for i, g in itertools.islice(todo, in_flight)]
        pending = as_completed(submitted)
        try:
            with tqdm(total=len(blocks), desc="mosaic blocks", unit="block", disable=not show_progress,
                      leave=False) as bar:
                for fut in pending:
                    for block in task_result(fut.result()):
                        write(block)
                        bar.update()
                    fut.release()
                    nxt = next(todo, None)
                    if nxt is not None:
                        new = submit(*nxt)
                        submitted.append(new)
                        pending.add(new)
        except BaseException:
            cancel_unfinished(client, submitted)
            raise

    return compute


def _overview_factors(tile_px: int) -> list[int]:
    """Decimation factors of the internal overviews of a COG tile (:func:`l2a.io.cog.overview_shapes`) that divide the
    tile side exactly, so that the tiles' overviews butt on a coarser lattice."""
    from l2a.io.cog import overview_shapes

    factors = []
    for rows, _cols in overview_shapes(tile_px, tile_px):
        factor = round(tile_px / rows)
        if rows * factor != tile_px:
            break
        factors.append(factor)
    return factors


def _write_vrts(out: Path, job: _NationalJob, tiles: list[GridTile], kind: str) -> None:
    """The ``kind`` VRT (``mosaic`` or ``flags``) and, for each overview level of the tiles, an overview VRT over the
    tiles' own overviews (``mosaic.x2.vrt`` ...), declared as the VRT's overviews: a GIS showing the whole country
    reads the tiles' overviews, not their full resolution (GDAL builds no implicit overviews for a VRT of many
    sources)."""
    path = out / NATIONAL_FILES[kind]
    stem = path.name[:-len(".vrt")]
    overviews = [(f, f"{stem}.x{f}.vrt") for f in _overview_factors(job.params.grid_tile_px)]
    for level, (factor, name) in enumerate(overviews):
        _write_vrt(out / name, job, tiles, kind, factor=factor, level=level)
    _write_vrt(path, job, tiles, kind, overviews=[name for _f, name in overviews])


def _write_vrt(path: Path, job: _NationalJob, tiles: list[GridTile], kind: str, *, factor: int = 1,
               level: int | None = None, overviews: list[str] = ()) -> None:
    """VRT of every band of the ``kind`` rasters (``mosaic`` or ``flags``) over the tiles, with the mosaic's mask and
    metadata; ``factor`` and ``level``: the same over the tiles' overview ``level`` (decimation ``factor``).
    Source sizes are declared so that GDAL opens a tile only when its pixels are read."""
    grid = job.grid
    if kind == "mosaic":
        names, dtype, nodata = list(job.bands), "Int16", NODATA
        tags = job.tags
    else:
        names, dtype, nodata = ["FLG", "NTILES"], "Byte", FLG_OUTSIDE
        tags = {**job.tags, "FLG_VALUES": FLG_DESCRIPTION}
    root = ET.Element("VRTDataset", rasterXSize=str(grid.width // factor), rasterYSize=str(grid.height // factor))
    sub_element(root, "SRS", grid.crs.to_wkt(), dataAxisToSRSAxisMapping="1,2")
    sub_element(root, "GeoTransform", ", ".join(repr(v) for v in (grid.transform @ Affine.scale(factor)).to_gdal()))
    if level is None:
        meta = sub_element(root, "Metadata")
        for key, value in tags.items():
            sub_element(meta, "MDI", str(value), key=key)

    def sources(parent, src_band: str, src_dtype: str) -> None:
        side = job.params.grid_tile_px // factor
        block = str(min(512, side))
        for tile in tiles:
            s = sub_element(parent, "SimpleSource")
            sub_element(s, "SourceFilename", f"{TILES_DIR}/{tile.name}_{kind}.tif", relativeToVRT="1")
            if level is not None:
                sub_element(sub_element(s, "OpenOptions"), "OOI", str(level), key="OVERVIEW_LEVEL")
            sub_element(s, "SourceBand", src_band)
            sub_element(s, "SourceProperties", RasterXSize=side, RasterYSize=side, DataType=src_dtype,
                        BlockXSize=block, BlockYSize=block)
            sub_element(s, "SrcRect", xOff="0", yOff="0", xSize=side, ySize=side)
            sub_element(s, "DstRect", xOff=int(tile.window.col_off) // factor, yOff=int(tile.window.row_off) // factor,
                        xSize=side, ySize=side)

    for i, name in enumerate(names, start=1):
        b = sub_element(root, "VRTRasterBand", dataType=dtype, band=i)
        sub_element(b, "Description", name)
        sub_element(b, "NoDataValue", nodata)
        if kind == "mosaic":
            sub_element(b, "Scale", f"{SCALE:.4f}")
        sources(b, str(i), dtype)
        for overview in overviews:
            o = sub_element(b, "Overview")
            sub_element(o, "SourceFilename", overview, relativeToVRT="1")
            sub_element(o, "SourceBand", str(i))
    if kind == "mosaic":
        mask = sub_element(sub_element(root, "MaskBand"), "VRTRasterBand", dataType="Byte")
        sources(mask, "mask,1", "Byte")
    ET.indent(root)
    data = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    from l2a.io.atomic import atomic_write_bytes

    atomic_write_bytes(path, data, fsync=False)


def _collection(job: _NationalJob, tiles: list[GridTile], area) -> dict:
    """STAC collection of the tiles' items, with the two VRTs as its assets."""
    import pystac
    from rasterio.warp import transform_bounds

    when = dt.datetime.combine(job.central_date, dt.time(), dt.timezone.utc)
    bbox = list(transform_bounds(job.grid.crs, "EPSG:4326", *area.bounds, densify_pts=21))
    collection = pystac.Collection(
        id=job.collection_id, description=f"syntheo mosaic of {job.central_date:%B %Y} in {len(tiles)} COG tiles "
                                          f"of {job.params.grid_tile_px} px",
        extent=pystac.Extent(pystac.SpatialExtent([bbox]), pystac.TemporalExtent([[when, when]])),
        license="other", extra_fields={"syntheo:inputs": list(job.inputs), "syntheo:version": __version__})
    collection.add_asset("mosaic", pystac.Asset(f"./{NATIONAL_FILES['mosaic']}", media_type="application/xml",
                                                roles=["data"], title="Reflectance x10000, every band (VRT)"))
    collection.add_asset("flags", pystac.Asset(f"./{NATIONAL_FILES['flags']}", media_type="application/xml",
                                               roles=["metadata"], title="FLG and NTILES (VRT)"))
    doc = collection.to_dict(include_self_link=False)
    doc["links"] = [{"rel": "item", "href": f"./{TILES_DIR}/{t.name}.json", "type": "application/geo+json"}
                    for t in tiles]
    return doc
