"""``mosaic compare``: a self-contained static site comparing two months side by side.

Layout of the site folder ``DIR`` (nothing outside it is referenced; open it with ``mosaic serve DIR``)::

    index.html                 the page; its settings (layers, bounds, zooms, labels, legend) are inlined as JSON
    viewer.js, viewer.css      the viewer (swipe, layer choice, flags toggle, legend, scale, full screen, URL state)
    favicon.svg
    vendor/                    Leaflet + leaflet-side-by-side bundled from the npm registry (with their licences)
    left/, right/              the two months' pyramids: {z}/{x}/{y}.png, flags/{z}/{x}/{y}.png, metadata.json
    change/                    NDVI(right) - NDVI(left) pyramid (:mod:`mosaic.change`), when both sources allow it
    compare.json               what was compared, with which labels and layers (marks the folder as a site)

LEFT and RIGHT are pyramids written by ``mosaic tiles`` (their tiles are hard-linked into the site when on the same
file system, copied otherwise) or mosaics (a ``mosaic build`` folder or a mosaic raster), which are tiled into the
site (with a scheduler, the tiling and the change layer run as dask tasks on its workers, :mod:`mosaic.cluster`,
which must share the file system of the inputs and ``DIR``). The change layer needs the source mosaics named in the
pyramids' ``metadata.json`` with bands B4 and B8: when one is missing or lacks a band, or the months do not overlap,
the site is written without it and the reason is logged and returned. The site is written in a temporary folder beside ``DIR`` and moved in place when complete.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from l2a._version import __version__
from l2a.errors import MissingFileError, SyntheoError
from l2a.grid import Grid
from l2a.io.atomic import AtomicFolder
from l2a.io.raster import open_raster

from .build import OUTPUT_FILES
from .change import build_change_pyramid, missing_ndvi_bands
from .documents import read_json, write_json
from .errors import MosaicFormatError, OutputExistsError, ZoomRangeError
from .outputs import check_output_dir, output_errors, parent_folders
from .params import DEFAULT_LIMIT, MAX_ZOOM, TILE_FORMATS, PyramidParams
from .pyramid import METADATA, native_zoom, tile_ranges, tms

__all__ = ["write_compare_site", "CompareResult", "SITE_FILES", "VENDOR_FILES", "SITE_DIR", "MANIFEST"]

logger = logging.getLogger(__name__)

#: Package folder of the site's templates and static files.
SITE_DIR = Path(__file__).with_name("site")
#: Static files copied from :data:`SITE_DIR` (index.html is rendered).
SITE_FILES = ("index.html", "viewer.js", "viewer.css", "favicon.svg")
#: Bundled front-end libraries in ``SITE_DIR/vendor`` (built from package-lock.json by ``make install``).
VENDOR_FILES = ("viewer-libs.js", "viewer-libs.css", "LICENSE-leaflet.txt", "LICENSE-leaflet-side-by-side.txt")
#: Manifest of a site; its presence lets ``--overwrite`` replace the folder.
MANIFEST = "compare.json"
_MOSAIC_NAMES = (OUTPUT_FILES["mosaic"], OUTPUT_FILES["vrt"])
_SIDES = ("left", "right")
_ATTRIBUTION = "Contains modified Copernicus Sentinel data, processed with syntheo"
#: Shrink of the layer bounds given to the viewer, degrees (~1 cm): the tiles the viewer asks for are then always a
#: subset of those ``mosaic tiles`` wrote (it takes every tile that meets the bounds by more than 1e-9 degrees).
_BOUNDS_MARGIN_DEG = 1e-7
#: A pyramid's tile path template: ``{z}/{x}/{y}.ext`` below plain sub-folders (nothing that leaves the pyramid, no
#: other replacement field).
_TEMPLATE = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*/)*\{z\}/\{x\}/\{y\}\.(?:%s)" % "|".join(TILE_FORMATS))
#: Largest pyramid metadata.json accepted, bytes (``mosaic tiles`` writes ~2 kB).
_METADATA_MAX_BYTES = 2**20


@dataclass
class CompareResult:
    """What ``mosaic compare`` wrote.

    Attributes
    ----------
    out_dir : Path
    labels : (str, str)
    layers : dict
        Per layer (``left``, ``right``, ``change``): zooms and tile count.
    change_skipped : str or None
        Why the site has no change layer.
    seconds : float
    """

    out_dir: Path
    labels: tuple[str, str]
    layers: dict = field(default_factory=dict)
    change_skipped: str | None = None
    seconds: float = 0.0

    def summary(self) -> dict:
        return {"out": str(self.out_dir), "index": str(self.out_dir / "index.html"), "labels": list(self.labels),
                "layers": self.layers, "change": "change" in self.layers, "change_skipped": self.change_skipped,
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class _Input:
    """One month given to compare: a pyramid folder, or a mosaic raster to tile."""

    path: Path
    kind: str                     # "pyramid" or "mosaic"
    metadata: dict | None = None  # pyramid's metadata.json

    @property
    def source(self) -> Path | None:
        """The mosaic behind the month (None when the pyramid does not name one)."""
        if self.kind == "mosaic":
            return self.path
        src = (self.metadata or {}).get("source")
        return Path(src) if src else None


def _is_file(path: Path) -> bool:
    """Whether a path read from a document names a file (False for a name the file system cannot even look up)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _metadata_problem(meta) -> str | None:
    """What makes a pyramid's metadata unusable (types, ranges, tile templates), or None."""
    if not isinstance(meta, dict):
        return "not a JSON object"
    missing = [k for k in ("tiles", "minzoom", "maxzoom", "bounds") if k not in meta]
    if missing:
        return f"lacks {', '.join(missing)} (not a `mosaic tiles` pyramid)"
    for key in ("tiles", "flags_tiles"):
        value = meta.get(key)
        if (key == "tiles" or value is not None) and not (isinstance(value, str) and _TEMPLATE.fullmatch(value)):
            return f"{key} must be a tile path such as {{z}}/{{x}}/{{y}}.png inside the pyramid, not {value!r:.80}"
    zooms = meta["minzoom"], meta["maxzoom"]
    if not all(isinstance(z, int) and not isinstance(z, bool) and 0 <= z <= MAX_ZOOM for z in zooms):
        return f"minzoom and maxzoom must be zoom levels 0-{MAX_ZOOM}, not {zooms!r:.80}"
    if zooms[0] > zooms[1]:
        return f"zoom range {zooms[0]}-{zooms[1]} is inverted"
    bounds = meta["bounds"]
    if not (isinstance(bounds, list) and len(bounds) == 4 and all(map(_is_number, bounds))
            and -180 <= bounds[0] < bounds[2] <= 180 and -90 <= bounds[1] < bounds[3] <= 90):
        return f"bounds must be [west, south, east, north] in degrees, not {bounds!r:.80}"
    counts = meta.get("tile_counts", {})
    if not (isinstance(counts, dict) and all(isinstance(n, int) and not isinstance(n, bool) for n in counts.values())):
        return f"tile_counts must map zooms to numbers of tiles, not {counts!r:.80}"
    if not isinstance(meta.get("source", ""), (str, type(None))):
        return "source must be the path of a mosaic"
    return None


def _open_input(path: str | os.PathLike) -> _Input:
    p = Path(path).absolute()
    if not p.exists():
        raise MissingFileError("not found", p)
    if p.is_dir() and (p / METADATA).is_file():
        meta = read_json(p / METADATA, "pyramid metadata", max_bytes=_METADATA_MAX_BYTES)
        problem = _metadata_problem(meta)
        if problem:
            raise MosaicFormatError(problem, p / METADATA)
        if meta.get("complete") is False:
            raise MosaicFormatError("incomplete pyramid (interrupted `mosaic tiles`): run it again to finish", p)
        return _Input(p, "pyramid", meta)
    if p.is_dir():
        for name in _MOSAIC_NAMES:
            if (p / name).is_file():
                return _Input(p / name, "mosaic")
        raise MosaicFormatError(f"neither a tile pyramid ({METADATA}) nor a mosaic folder (mosaic.tif)", p)
    with open_raster(p, "mosaic"):
        pass
    return _Input(p, "mosaic")


def _default_label(item: _Input) -> str:
    """"July 2018" from the mosaic's CENTRAL_DATE tag, else the folder name."""
    source = item.source
    if source is not None and _is_file(source):
        try:
            with open_raster(source, "mosaic") as ds:
                date = ds.tags().get("CENTRAL_DATE")
            if date:
                return dt.date.fromisoformat(date[:10]).strftime("%B %Y")
        except (OSError, ValueError) as exc:
            logger.debug("%s: no central date (%s)", source, exc)
    return item.path.name if item.kind == "pyramid" else item.path.parent.name


def _auto_zooms(mosaic: Path) -> tuple[int, int]:
    """Zooms for tiling a mosaic: from the zoom where one tile spans it to its native zoom
    (:func:`mosaic.pyramid.native_zoom`; the viewer magnifies the deepest tiles beyond it)."""
    from rasterio.warp import transform_bounds

    with open_raster(mosaic, "mosaic") as ds:
        if ds.crs is None:
            raise MosaicFormatError("mosaic has no CRS", mosaic)
        grid = Grid(ds.transform, ds.height, ds.width, ds.crs)
    extent = transform_bounds(grid.crs, "EPSG:3857", *grid.bounds, densify_pts=21)
    native = min(native_zoom(grid), MAX_ZOOM)
    left, bottom, right, top = tms().xy_bbox
    span = max(extent[2] - extent[0], extent[3] - extent[1], 1e-9)
    whole = max(0, min(native, int(math.floor(math.log2((right - left) / span)))))
    return whole, native


def _tile_zooms(inputs: list[_Input], zoom: tuple[int, int] | None) -> tuple[int, int] | None:
    mosaics = [i for i in inputs if i.kind == "mosaic"]
    if not mosaics:
        return None
    if zoom is not None:
        return zoom
    autos = [_auto_zooms(i.path) for i in mosaics]
    return min(a[0] for a in autos), max(a[1] for a in autos)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _copy_pyramid(item: _Input, dst: Path) -> dict:
    """Copy the tiles a viewer can ask for (every tile of the bounds at every zoom, and the flags overlay's)."""
    meta = item.metadata
    zooms = range(int(meta["minzoom"]), int(meta["maxzoom"]) + 1)
    ranges = tile_ranges(tuple(meta["bounds"]), zooms)
    templates = {"tiles": meta["tiles"]}
    flags = meta.get("flags_tiles")
    if flags:
        first = next(iter(ranges.items()))
        probe = item.path / flags.format(z=first[0], x=first[1][0], y=first[1][2])
        if probe.is_file():
            templates["flags_tiles"] = flags
        else:
            logger.warning("%s: flags overlay pyramid not found (%s); the site has no flags for this month",
                           item.path, probe)
    made = set()
    for template in templates.values():
        for z, (x0, x1, y0, y1) in ranges.items():
            for x in range(x0, x1 + 1):
                for y in range(y0, y1 + 1):
                    rel = template.format(z=z, x=x, y=y)
                    src = item.path / rel
                    if not src.is_file():
                        raise MosaicFormatError(f"tile {rel} is missing (incomplete pyramid: run `mosaic tiles` "
                                                "again)", item.path)
                    target = dst / rel
                    if target.parent not in made:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        made.add(target.parent)
                    _link_or_copy(src, target)
    out_meta = dict(meta)
    if "flags_tiles" not in templates:
        out_meta.pop("flags_tiles", None)
    write_json(dst / METADATA, out_meta)
    return out_meta


def _tile_mosaic(item: _Input, dst: Path, zooms: tuple[int, int], workers: int, show_progress: bool,
                 scheduler: str | None) -> dict:
    from .tiles import build_pyramid

    build_pyramid(item.path, dst, PyramidParams(zooms[0], zooms[1]), workers=workers, show_progress=show_progress,
                  scheduler=scheduler)
    return read_json(dst / METADATA, "pyramid metadata")


def _intersection(a, b):
    west, south = max(a[0], b[0]), max(a[1], b[1])
    east, north = min(a[2], b[2]), min(a[3], b[3])
    return (west, south, east, north) if east > west and north > south else None


def _change_plan(metas: list[dict], inputs: list[_Input]):
    """(bounds, zooms, sources) of the change layer, or the reason there is none."""
    sources = []
    for side, meta, item in zip(_SIDES, metas, inputs):
        src = Path(meta["source"]) if meta.get("source") else item.source
        if src is None:
            return f"the {side} pyramid names no source mosaic"
        if not _is_file(src):
            return f"{src}: source mosaic of the {side} month not found"
        try:
            missing = missing_ndvi_bands(src)
        except SyntheoError as exc:
            return str(exc)
        if missing:
            return f"{src}: mosaic has no band {' nor '.join(missing)} (NDVI needs B4 and B8)"
        sources.append(src)
    bounds = _intersection(metas[0]["bounds"], metas[1]["bounds"])
    if bounds is None:
        return "the two months do not overlap"
    low = max(int(m["minzoom"]) for m in metas)
    high = min(int(m["maxzoom"]) for m in metas)
    if low > high:
        return (f"the zooms of the two months do not overlap ({metas[0]['minzoom']}-{metas[0]['maxzoom']} and "
                f"{metas[1]['minzoom']}-{metas[1]['maxzoom']})")
    return bounds, (low, high), sources


def _layer_config(folder: str, meta: dict, label: str) -> dict:
    west, south, east, north = meta["bounds"]
    m = _BOUNDS_MARGIN_DEG
    layer = {"label": label, "tiles": f"{folder}/{meta['tiles']}", "minzoom": int(meta["minzoom"]),
             "maxzoom": int(meta["maxzoom"]), "bounds": [west + m, south + m, east - m, north - m]}
    if meta.get("flags_tiles"):
        layer["flags"] = f"{folder}/{meta['flags_tiles']}"
    return layer


def _json_for_html(doc: dict) -> str:
    """JSON safe inside a <script> element."""
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _write_static(staging: Path, config: dict, title: str) -> None:
    vendor = SITE_DIR / "vendor"
    for name in SITE_FILES:
        if name != "index.html":
            shutil.copy2(SITE_DIR / name, staging / name)
    (staging / "vendor").mkdir()
    for name in VENDOR_FILES:
        shutil.copy2(vendor / name, staging / "vendor" / name)
    page = (SITE_DIR / "index.html").read_text(encoding="utf-8")
    page = page.replace("__TITLE__", html.escape(title)).replace("__CONFIG__", _json_for_html(config))
    (staging / "index.html").write_text(page, encoding="utf-8")


def _check_vendor() -> None:
    missing = [n for n in VENDOR_FILES if not (SITE_DIR / "vendor" / n).is_file()]
    if missing:
        raise MissingFileError(f"viewer libraries not built ({', '.join(missing)}): run `make install` (npm ci, "
                               "then npm run build:vendor)", SITE_DIR / "vendor")


def _check_output(out: Path, overwrite: bool) -> None:
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise OutputExistsError("exists and is not empty (use --overwrite to replace a comparison site)", out)
        if not (out / MANIFEST).is_file():
            raise OutputExistsError(f"is not a site written by `mosaic compare` (no {MANIFEST}); not replaced", out)


def write_compare_site(left: str | os.PathLike, right: str | os.PathLike, out_dir: str | os.PathLike,
                       labels: tuple[str, str] | None = None, *, zoom: tuple[int, int] | None = None,
                       limit: float = DEFAULT_LIMIT, overwrite: bool = False, workers: int = 1,
                       show_progress: bool = False, scheduler: str | None = None) -> CompareResult:
    """Write the comparison site of two months into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    left, right : path
        Pyramid folders (``mosaic tiles`` outputs) or mosaics (``mosaic build`` folders or rasters).
    out_dir : path
        Site folder; must be absent or empty, or a site written before when ``overwrite``.
    labels : (str, str), optional
        Names of the two months; default: "July 2018" from each mosaic's central date, else the folder name.
    zoom : (min, max), optional
        Zooms for tiling mosaic inputs (pyramids keep theirs); default: from the zoom where one tile spans the mosaic
        to its native zoom.
    limit : float
        NDVI difference at the ends of the change layer's palette.
    workers : int
        Threads rendering tiles (without ``scheduler``).
    show_progress : bool
        tqdm bars over the tiling and the change layer.
    scheduler : str, optional
        Address of a running dask scheduler whose workers tile the mosaic inputs and render the change layer
        (:mod:`mosaic.cluster`); they must offer the ``tile-month`` resource and share the file system of the
        inputs and ``out_dir`` under the same absolute paths. Copying pyramid inputs stays local.

    Raises
    ------
    MissingFileError, MosaicFormatError
        An input that is neither a pyramid nor a mosaic, an incomplete pyramid or one whose metadata.json is
        unreadable, too large, too deeply nested or inconsistent; unbuilt viewer libraries.
    OutputExistsError, OutputPathError
        ``out_dir`` holds something else (or a site, without ``overwrite``), or is a path the file system refuses.
    SchedulerError
        ``scheduler`` does not answer, or its workers lack the ``tile-month`` resource (nothing is left then).
    """
    start = time.perf_counter()
    inputs = [_open_input(left), _open_input(right)]
    if labels is not None and (len(labels) != 2 or not all(str(x).strip() for x in labels)):
        raise MosaicFormatError(f"expected two non-empty labels, not {labels!r}")
    labels = tuple(str(x).strip() for x in labels) if labels else tuple(_default_label(i) for i in inputs)
    _check_vendor()
    out = check_output_dir(out_dir)
    _check_output(out, overwrite)
    zooms = _tile_zooms(inputs, zoom)
    if zooms is not None and zooms[0] > zooms[1]:
        raise ZoomRangeError(f"zoom range {zooms[0]}-{zooms[1]} is inverted")
    with parent_folders(out):
        result = _write_site(out, inputs, labels, zooms, limit, workers, show_progress, scheduler)
    result.seconds = time.perf_counter() - start
    logger.info("comparison site in %s (%.1f s)", out, result.seconds)
    return result


def _write_site(out: Path, inputs: list[_Input], labels: tuple[str, str], zooms: tuple[int, int] | None,
                limit: float, workers: int, show_progress: bool, scheduler: str | None = None) -> CompareResult:
    """Write the site in a temporary folder beside ``out``, then move it in place (nothing is left on failure)."""
    with output_errors(out):
        # the checks of write_compare_site allow replacing an empty folder, or a site with overwrite
        folder = AtomicFolder(out, overwrite=True, fsync=False)
    staging = folder.tmp
    try:
        with output_errors(out):  # any OSError here is on the output side (inputs raise syntheo errors)
            metas = []
            for side, item in zip(_SIDES, inputs):
                if item.kind == "pyramid":
                    metas.append(_copy_pyramid(item, staging / side))
                else:
                    metas.append(_tile_mosaic(item, staging / side, zooms, workers, show_progress, scheduler))
            result = CompareResult(out, labels)
            config = {"title": f"{labels[0]} | {labels[1]}", "attribution": _ATTRIBUTION,
                      "left": _layer_config("left", metas[0], labels[0]),
                      "right": _layer_config("right", metas[1], labels[1]), "change": None}
            plan = _change_plan(metas, inputs)
            if isinstance(plan, str):
                result.change_skipped = plan
                logger.warning("no change layer: %s", plan)
            else:
                bounds, change_zooms, sources = plan
                change_meta = build_change_pyramid(sources[0], sources[1], staging / "change", bounds, change_zooms,
                                                   limit=limit, workers=workers, show_progress=show_progress,
                                                   scheduler=scheduler)
                config["change"] = {**_layer_config("change", change_meta, "NDVI change"),
                                    "legend": {**change_meta["legend"],
                                               "title": f"NDVI change, {labels[1]} \u2212 {labels[0]}"}}
                result.layers["change"] = {"zooms": list(change_zooms),
                                           "tiles": sum(change_meta["tile_counts"].values())}
            for side, meta in zip(_SIDES, metas):
                result.layers[side] = {"zooms": [int(meta["minzoom"]), int(meta["maxzoom"])],
                                       "tiles": sum(int(v) for v in meta.get("tile_counts", {}).values()),
                                       "flags": bool(meta.get("flags_tiles"))}
            _write_static(staging, config, f"{labels[0]} | {labels[1]} \u2014 syntheo")
            manifest = {"software": f"syntheo {__version__}", "labels": list(labels),
                        "inputs": {s: {"path": str(i.path), "kind": i.kind} for s, i in zip(_SIDES, inputs)},
                        "layers": result.layers, "change_skipped": result.change_skipped}
            write_json(staging / MANIFEST, manifest)
            folder.publish()
    except BaseException:
        folder.discard()
        raise
    return result

