"""Driver of ``mosaic build``: L3A tiles of one month, any UTM zones -> one seamless national grid.

Everything is checked before any output is created (products, dates, bands, CRS, cutline, output folder). For every
output block (512 x 512 pixels, the COG's internal tile) and every tile whose footprint meets it, the tile's pixels
are read on its working grid, given a blending weight (``max(WGT, 1) / 1000 x ramp``, the ramp rising over
``feather_m`` from the edges of the tile's valid data where another tile has data) and reprojected onto the block,
then the tiles are merged: :mod:`mosaic.blocks` computes a block. Blocks run in a thread pool (GDAL, numpy and the
reads release the GIL); at most ``2 x workers`` blocks are in flight.

Memory: each block in flight holds its inputs' windows (about ``(bands + 3) x 4 bytes x (block + margin)^2`` per
covering tile, ~30 MB for 10 bands and 4 tiles), each input tile keeps its ramp (float16 cells, ~1 MB), and GDAL's
block cache is bounded (:data:`mosaic.sources.GDAL_CACHE_BYTES`; its default, 5 % of the machine's memory, filled
with the output's blocks as the run went on: ~9 bytes per output pixel); the country's size only adds blocks to the
queue, and coarse previews read the sources in row chunks. A COG is finished by :class:`l2a.io.cog.CogWriter` (a
temporary GeoTIFF on disk, overviews computed strip by strip, then GDAL's COG driver).

Layouts (``MosaicParams.layout``): ``single`` writes the outputs below; ``tiled`` (asked for, or ``auto`` above
``tiled_above_px`` pixels) writes the grid as COG tiles of a fixed size plus VRTs and a STAC collection, resumable
tile by tile (:mod:`mosaic.national`). With ``scheduler``, a running dask cluster computes the tiles, or the single
layout's blocks (:func:`mosaic.national.cluster_block_computer`).

Outputs of the single layout in ``--out`` (written in a temporary folder, then moved in place):

* ``mosaic.tif``: COG, int16 reflectance x10000, nodata -10000, one band per output band (described ``B4`` ...),
  internal mask 0 on every pixel that is not valid (nodata and always cloudy); always-cloudy pixels that no tile sees
  clear keep the mean of the tiles' cloudy values, masked;
* ``flags.tif``: COG, uint8, band ``FLG`` (0 nodata, 1 always cloudy, 2 snow, 3 water, 4 land: the class of the
  largest valid one among the contributing tiles; 255 outside the tiles and the cutline, the raster's nodata) and
  band ``NTILES`` (number of tiles contributing a valid value);
* ``mosaic.vrt``: the true-colour view (B4, B3, B2) of ``mosaic.tif``, when those bands are present;
* ``mosaic_STAC.json``: a STAC item (footprint, central date, inputs, assets, projection).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from rasterio.errors import NotGeoreferencedWarning

from l2a._version import __version__
from l2a.constants import REFLECTANCE_NODATA as NODATA
from l2a.errors import MissingFileError
from l2a.grid import Grid
from l2a.io.xmldoc import sub_element
from l2a.sensors import band_resolution
from l3a.product import L3AProduct

from .blocks import Mosaicker, TileSource, compute_ramps, plan_group
from .errors import InvalidParameterError, OutputExistsError
from .grid import footprint, load_cutline, parse_crs, target_grid
from .outputs import check_output_dir, output_errors, parent_folders
from .rasters import SCALE, write_rasters
from .params import MosaicParams
from .sources import check_dates, find_inputs, gdal_cache, open_inputs, select_bands

__all__ = ["build_mosaic", "MosaicResult", "OUTPUT_FILES"]

logger = logging.getLogger(__name__)

#: Names of the outputs in ``--out``.
OUTPUT_FILES = {"mosaic": "mosaic.tif", "flags": "flags.tif", "vrt": "mosaic.vrt", "stac": "mosaic_STAC.json"}
#: Characters of the output folder's name kept in the name of its temporary sibling (file names have a limit).
_TMP_NAME_CHARS = 64


@dataclass
class MosaicResult:
    """What ``mosaic build`` wrote.

    Attributes
    ----------
    out_dir : Path
    files : dict name -> Path
        ``mosaic``, ``flags``, ``stac`` and (when B4/B3/B2 are present) ``vrt``.
    grid : Grid
        The output grid, with its CRS.
    bands : tuple of str
    inputs : list of str
        Product names, in blending order.
    seconds : float
        Wall time, s.
    """

    out_dir: Path
    files: dict
    grid: Grid
    bands: tuple
    inputs: list
    central_date: dt.date
    seconds: float = 0.0
    blocks: int = 0
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {"out": str(self.out_dir), "files": {k: str(v) for k, v in self.files.items()},
                "crs": self.grid.crs.to_string(), "resolution": self.grid.resolution,
                "shape": list(self.grid.shape), "bounds": list(self.grid.bounds), "bands": list(self.bands),
                "central_date": self.central_date.isoformat(), "inputs": self.inputs, "blocks": self.blocks,
                "seconds": round(self.seconds, 3), "layout": "single", **self.extra}


def _prepare(inputs: Sequence[str | os.PathLike], params: MosaicParams):
    """Everything checked before any output is created: products, dates, bands, CRS, cutline, grid."""
    crs = parse_crs(params.crs)
    products = open_inputs(find_inputs(inputs), params.month)
    check_dates(products, params.allow_mixed_dates)
    bands = select_bands(products, params.bands)
    flags_res = "R1" if all(p.has_mask("FLG", "R1") and p.has_mask("WGT", "R1") for p in products) else "R2"
    for p in products:
        for kind in ("FLG", "WGT"):
            if not p.has_mask(kind, flags_res):
                raise MissingFileError(f"{kind} mask at {flags_res} not found", p.mask_path(kind, flags_res))
    groups = {band_resolution(b) for b in bands} | {flags_res}
    sources = []
    for p in products:
        frame = p.grids["R1"] if "R1" in p.grids else next(iter(p.grids.values()))
        sources.append(TileSource(p, footprint(p.crs, frame.bounds, crs),
                                  {res: plan_group(p, res, crs, params) for res in groups}))
    cutline = load_cutline(params.cutline, crs, params.buffer_m) if params.cutline else None
    grid = target_grid([s.footprint for s in sources], crs, params.resolution, cutline, params.cutline)
    return grid, sources, bands, flags_res, cutline


def build_mosaic(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike, params: MosaicParams, *,
                 workers: int = 1, overwrite: bool = False, show_progress: bool = False,
                 scheduler: str | None = None) -> MosaicResult:
    """Mosaic L3A products of one month into ``out_dir`` (see the module docstring for the outputs).

    Parameters
    ----------
    inputs : sequence of path-like
        L3A product folders, or folders holding them; STAC sources of L3A items (:func:`mosaic.sources.find_inputs`).
    out_dir : path-like
        Output folder (created; other files in it are left alone).
    params : MosaicParams
    workers : int
        Threads computing blocks.
    overwrite : bool
        Replace an existing mosaic in ``out_dir``.
    show_progress : bool
        tqdm bar on stderr.
    scheduler : str, optional
        Address of a running dask scheduler whose workers compute the mosaic: COG tiles of the tiled layout, or
        groups of blocks of the single layout (written here). Its workers must see ``inputs`` and ``out_dir`` at
        the same paths and offer the ``tile-month`` resource (:mod:`l3a.batch.cluster`).

    Raises
    ------
    SyntheoError subclasses for every bad input (nothing is written then); among them
    OutputExistsError, OutputPathError
        ``out_dir`` holds a mosaic (without ``overwrite``) or is a path the file system refuses.
    CorruptRasterError
        An input raster that cannot be decoded when its pixels are read (nothing is left in ``out_dir`` then).
    """
    start = time.perf_counter()
    if workers < 1:
        raise InvalidParameterError(f"workers must be >= 1, not {workers}")
    grid, sources, bands, flags_res, cutline = _prepare(inputs, params)
    out = check_output_dir(out_dir)
    products = [s.product for s in sources]
    central_date = min(p.central_date for p in products)
    if is_tiled(params, grid):
        from .national import build_national

        return build_national(out, grid, sources, bands, flags_res, params, cutline, central_date, workers=workers,
                              overwrite=overwrite, show_progress=show_progress, scheduler=scheduler, start=start)
    from .national import national_files

    if not overwrite and any((out / name).exists() for name in [*OUTPUT_FILES.values(), *national_files(out)]):
        raise OutputExistsError("holds a mosaic already (use --overwrite to replace it)", out)
    with contextlib.ExitStack() as stack:
        stack.enter_context(parent_folders(out))
        stack.enter_context(gdal_cache())
        client = None
        if scheduler is not None:
            from .cluster import scheduler_client

            client = stack.enter_context(scheduler_client(scheduler))
        files = _write_outputs(out, grid, sources, bands, flags_res, params, cutline, products, central_date, workers,
                               show_progress, client)
    from .national import remove_national

    remove_national(out, keep=tuple(OUTPUT_FILES.values()))  # a tiled mosaic of an earlier run in the same folder, replaced (--overwrite)
    result = MosaicResult(out, files, grid, bands, [p.name for p in products], central_date,
                          time.perf_counter() - start, len(grid.blocks(params.block_size)))
    logger.info("mosaic of %d tiles, %d x %d pixels, written to %s in %.1f s", len(products), grid.height,
                grid.width, out, result.seconds)
    return result


def is_tiled(params: MosaicParams, grid: Grid) -> bool:
    """Whether ``mosaic build`` writes ``grid`` as COG tiles (:mod:`mosaic.national`): asked for, or ``auto`` and
    more than ``params.tiled_above_px`` pixels."""
    return params.layout == "tiled" or (params.layout == "auto" and grid.width * grid.height > params.tiled_above_px)


def _write_outputs(out: Path, grid: Grid, sources: list[TileSource], bands: tuple[str, ...], flags_res: str,
                   params: MosaicParams, cutline, products: list[L3AProduct], central_date: dt.date, workers: int,
                   show_progress: bool, client=None) -> dict:
    """Compute the blocks and write every output in a temporary folder beside ``out``, then move them into ``out``;
    returns the outputs' paths. On any failure the temporary folder is removed and ``out`` is left as it was.
    With a dask ``client``, the blocks are computed by its workers and written here."""
    with output_errors(out):
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out.name[:_TMP_NAME_CHARS]}-", dir=out.parent))
    worker = Mosaicker(grid, sources, bands, flags_res, params, cutline)
    tags = mosaic_tags(params, products, central_date)
    try:
        compute = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # see mosaic.rasters.write_rasters
            if params.method == "blend":
                compute_ramps(worker, workers, show_progress)
        if client is not None:
            from .national import cluster_block_computer

            compute = cluster_block_computer(client, worker, show_progress)
        write_rasters(worker, tmp / OUTPUT_FILES["mosaic"], tmp / OUTPUT_FILES["flags"], tags, workers,
                      error_scope=out, show_progress=show_progress, compute=compute)
        with output_errors(out):
            files = _write_documents(tmp, out, grid, bands, products, central_date, sources, cutline, params)
            out.mkdir(parents=True, exist_ok=True)
            for name in OUTPUT_FILES.values():
                if (tmp / name).exists():
                    os.replace(tmp / name, out / name)
                elif (out / name).exists():
                    (out / name).unlink()  # an older mosaic's VRT that no longer applies
    finally:
        worker.pool.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return files


def mosaic_tags(params: MosaicParams, products: list[L3AProduct], central_date: dt.date) -> dict:
    """Dataset metadata of a mosaic's rasters: central date, inputs, method, feathering, software, flags file."""
    return {"CENTRAL_DATE": central_date.isoformat(), "INPUTS": ",".join(p.name for p in products),
            "METHOD": params.method, "FEATHER_M": params.feather_m, "SOFTWARE": f"syntheo {__version__}",
            "FLAGS": OUTPUT_FILES["flags"]}


def _write_documents(tmp: Path, out: Path, grid: Grid, bands, products, central_date: dt.date, sources, cutline,
                     params: MosaicParams) -> dict:
    """The VRT (when B4, B3 and B2 are present) and the STAC item in ``tmp``; returns the outputs' final paths."""
    files = {"mosaic": out / OUTPUT_FILES["mosaic"], "flags": out / OUTPUT_FILES["flags"]}
    if all(b in bands for b in ("B4", "B3", "B2")):
        _write_vrt(tmp / OUTPUT_FILES["vrt"], grid, bands)
        files["vrt"] = out / OUTPUT_FILES["vrt"]
    files["stac"] = out / OUTPUT_FILES["stac"]
    footprints = [s.footprint for s in sources]
    _write_stac(tmp / OUTPUT_FILES["stac"], grid, bands, products, central_date, footprints, cutline, params,
                sorted(files))
    return files


def mosaic_item(item_id: str, grid: Grid, footprints, cutline, central_date: dt.date, params: MosaicParams,
                bands, properties: dict, mosaic_href: str, flags_href: str):
    """STAC item (pystac) of a mosaic's two rasters on ``grid``: footprint (the inputs' footprints on the grid, cut
    by the cutline, in lon/lat), central date, projection, the reflectance and flags assets, ``properties`` added."""
    import pystac
    from pystac.extensions.projection import ProjectionExtension
    from rasterio.warp import transform_geom
    from shapely.geometry import box, mapping, shape
    from shapely.ops import unary_union

    area = unary_union(list(footprints)).intersection(box(*grid.bounds))
    if cutline is not None:
        area = area.intersection(cutline)
    geom = shape(transform_geom(grid.crs, "EPSG:4326", mapping(area.simplify(grid.resolution)), precision=6))
    item = pystac.Item(
        id=item_id, geometry=mapping(geom), bbox=list(geom.bounds),
        datetime=dt.datetime.combine(central_date, dt.time(), dt.timezone.utc),
        properties={"processing:level": "L3A mosaic", "syntheo:version": __version__,
                    "syntheo:method": params.method, "syntheo:feather_m": params.feather_m, **properties})
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.epsg = grid.crs.to_epsg()
    if proj.epsg is None:
        proj.wkt2 = grid.crs.to_wkt()
    proj.shape = list(grid.shape)
    proj.transform = list(grid.transform)[:6]
    item.add_asset("mosaic", pystac.Asset(mosaic_href, media_type=pystac.MediaType.COG,
                                          roles=["data", "reflectance"], title="Reflectance x10000",
                                          extra_fields={"syntheo:bands": list(bands), "nodata": NODATA}))
    item.add_asset("flags", pystac.Asset(flags_href, media_type=pystac.MediaType.COG, roles=["metadata"],
                                         title="FLG and NTILES"))
    return item


def _write_vrt(path: Path, grid: Grid, bands: tuple[str, ...]) -> None:
    """True-colour VRT (B4, B3, B2) over mosaic.tif, with its mask, for GIS viewers."""
    root = ET.Element("VRTDataset", rasterXSize=str(grid.width), rasterYSize=str(grid.height))
    sub_element(root, "SRS", grid.crs.to_wkt(), dataAxisToSRSAxisMapping="1,2")
    sub_element(root, "GeoTransform", ", ".join(repr(v) for v in grid.transform.to_gdal()))

    def source(parent, src_band: str, dtype: str):
        s = sub_element(parent, "SimpleSource")
        sub_element(s, "SourceFilename", OUTPUT_FILES["mosaic"], relativeToVRT="1")
        sub_element(s, "SourceBand", src_band)
        sub_element(s, "SourceProperties", RasterXSize=grid.width, RasterYSize=grid.height, DataType=dtype,
                    BlockXSize="512", BlockYSize="512")

    for i, (band, colour) in enumerate(zip(("B4", "B3", "B2"), ("Red", "Green", "Blue")), start=1):
        b = sub_element(root, "VRTRasterBand", dataType="Int16", band=i)
        sub_element(b, "Description", band)
        sub_element(b, "NoDataValue", NODATA)
        sub_element(b, "ColorInterp", colour)
        sub_element(b, "Scale", f"{SCALE:.4f}")
        source(b, str(bands.index(band) + 1), "Int16")
    mask = sub_element(sub_element(root, "MaskBand"), "VRTRasterBand", dataType="Byte")
    source(mask, "mask,1", "Byte")
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="UTF-8")


def _write_stac(path: Path, grid: Grid, bands, products, central_date: dt.date, footprints, cutline,
                params: MosaicParams, assets: list[str]) -> None:
    import pystac

    item = mosaic_item(f"mosaic_{central_date:%Y%m%d}", grid, footprints, cutline, central_date, params, bands,
                       {"syntheo:inputs": [p.name for p in products], "syntheo:tiles": [p.tile for p in products]},
                       f"./{OUTPUT_FILES['mosaic']}", f"./{OUTPUT_FILES['flags']}")
    if "vrt" in assets:
        item.add_asset("true_colour", pystac.Asset(f"./{OUTPUT_FILES['vrt']}", media_type="application/xml",
                                                   roles=["visual"], title="B4, B3, B2 VRT"))
    path.write_text(json.dumps(item.to_dict(include_self_link=False), indent=1))
