"""One Level-1C product -> one Theia-format Level-2A product (single-date mode, MAJA's "init" mode).

Steps, in MAJA's order (reference-l2a-formats.md 1.1): read every band once (digital numbers, kept as uint16) ->
per coarse cell (240 m), the mean TOA reflectance of each band -> water vapour (B9/B8A) -> gas + Rayleigh correction
at AOT 0.05 -> masks (:mod:`l2a.process.masks`) -> AOT from dark vegetation (:mod:`l2a.process.aerosols`) -> the
6S terms of every band at each cell's AOT, water vapour and angles -> surface reflectance of every pixel, the terms
interpolated bilinearly between cell centres -> masks, ATB and IAB at 10 and 20 m -> an atomic Theia product.

A product is not written (a :class:`ProcessResult` with status ``skipped`` and the reason) when the mean sun zenith
exceeds 80 degrees or when more than ``max_cloud_pct`` of the observed pixels are cloud or shadow, as MAJA declares
such products not valid. A per-tile state (MAJA's reference composite, for the multi-temporal tests of a later
mode) has its place in :func:`process_source`'s ``state`` argument, unused in single-date mode.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from affine import Affine
from rasterio.windows import Window

from ..atmosphere import load_table
from ..atmosphere.kernels import (N_TERMS, TERM_GAS, TERM_PATH, TERM_SPHERICAL_ALBEDO, TERM_T_DOWN, TERM_T_UP,
                                  atmosphere_terms_flat)
from ..errors import InvalidParameterError, MetadataError, MissingFileError
from ..formats.theia.bits import CLM_ALL, CLM_ALL_CLOUDS, CLM_CIRRUS, CLM_REFL, CLM_SHADOWS, encode_mg2, encode_sat
from ..formats.theia.values import AOT_QUANTIFICATION, WVC_QUANTIFICATION
from ..formats.theia.writer import L2AMetadata, TheiaL2AWriter, theia_product_name
from ..grid import Grid
from ..sensors import CALIBRATION_VERSION, R1_BANDS, R2_BANDS
from .aerosols import estimate_aot, water_vapour_cells
from .kernels import (N_CORR, PIXEL_SHADOW, PIXEL_SNOW, PIXEL_WATER, bilinear_upsample, cell_mean,
                      cell_mean_excluding, correct_block, dark_pixel_sums, refine_pixels)
from .dem import altitude_cells, pressure_hpa
from .masks import CoarseMasks, CoarseScene, cell_factor, compute_masks
from .params import ProcessParams

__all__ = ["ProcessResult", "process_source", "REQUIRED_BANDS", "PROCESSING_MODE"]

logger = logging.getLogger(__name__)

#: Bands an input must have (the ten of a Theia product); B9 (water vapour) and B10 (cirrus) are optional.
REQUIRED_BANDS = R1_BANDS + R2_BANDS
PROCESSING_MODE = "single-date (MAJA init mode: mono-temporal tests only)"
_ROWS_PER_BLOCK = 512
#: Largest credible viewing zenith angle, degrees (Sentinel-2 sees up to about 12 at its swath edges).
MAX_VIEW_ZENITH = 25.0
_SATURATED_DN = 65535


@dataclass(frozen=True)
class ProcessResult:
    """Outcome of processing one input.

    Attributes
    ----------
    source : pathlib.Path
        The L1C input.
    status : str
        ``written``, ``skipped`` (not valid: low sun, too cloudy) or ``exists`` (kept, no ``overwrite``).
    product : pathlib.Path or None
        The L2A product folder (written or existing).
    reason : str or None
        Why it was skipped.
    figures : dict
        Cloud and snow percentages, mean AOT and water vapour, AOT estimation pools, seconds.
    """

    source: Path
    status: str
    product: Path | None = None
    reason: str | None = None
    figures: dict = field(default_factory=dict)


def _band_factor(grid: Grid, cell_m: float, shape: tuple[int, int], source) -> int:
    """Pixels of a band grid per coarse cell side (the cells must tile every band grid alike), or minus the cells
    per pixel side of a band coarser than the cells (60 m bands of simulated products at 100 m)."""
    f = cell_m / grid.resolution
    if f < 1:
        m = int(round(1 / f))
        if abs(1 / f - m) < 1e-6 and (grid.height * m >= shape[0] and grid.width * m >= shape[1]):
            return -m
    else:
        n = int(round(f))
        if abs(f - n) < 1e-6 and (-(-grid.height // n), -(-grid.width // n)) == shape:
            return n
    raise MetadataError(f"band grid of {grid.resolution:g} m pixels does not fit the {cell_m:g} m cells of the "
                        f"10 m grid", source.path)


def band_group(band: str) -> str:
    return "R1" if band in R1_BANDS else "R2"


def _read_on(source, band: str, grid: Grid) -> np.ndarray:
    """DNs of a band on a product grid: as stored, or averaged 2 x 2 when the input holds it at half the pixel
    size (crops resampled to 10 m); no-data (0) where no fine pixel is valid, saturated where one is."""
    own = source.band_grid(band)
    data = source.read_dn(band)
    if own.transform == grid.transform and own.shape == grid.shape:
        return data
    if not (abs(2 * own.resolution - grid.resolution) < 1e-9 and own.transform.c == grid.transform.c
            and own.transform.f == grid.transform.f):
        raise MetadataError(f"band {band} on a grid of {own.resolution:g} m pixels that is not the product's "
                            f"{grid.resolution:g} m grid nor half of it", source.path)
    rows, cols = grid.shape
    padded = np.zeros((2 * rows, 2 * cols), np.uint16)
    padded[:data.shape[0], :data.shape[1]] = data
    blocks = padded.reshape(rows, 2, cols, 2).astype(np.float64)
    valid = (blocks != 0) & (blocks != _SATURATED_DN)
    n = valid.sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.where(valid, blocks, 0.0).sum(axis=(1, 3)) / np.maximum(n, 1), 0.0)
    out = np.clip(np.floor(mean + 0.5), 0, _SATURATED_DN - 1).astype(np.uint16)
    out[(blocks == _SATURATED_DN).any(axis=(1, 3))] = _SATURATED_DN
    out[(n > 0) & (out == 0)] = 1
    return out


def _check_angles(name: str, values: np.ndarray, lo: float, hi: float, source) -> None:
    if values.size == 0:
        return
    if not np.isfinite(values).all() or values.min() < lo or values.max() > hi:
        bad = values[~np.isfinite(values) | (values < lo) | (values > hi)].flat[0]
        raise MetadataError(f"nonsense {name} angle {float(bad)!r} (expected {lo:g}-{hi:g} degrees)", source.path)


def _terms(table, band, platform, sz, vz, az, aot, wv, pressure) -> np.ndarray:
    """(N_TERMS, ny, nx) 6S terms of one band per cell (pressure in hPa)."""
    shape = sz.shape
    flat = [np.ascontiguousarray(a, np.float64).ravel() for a in np.broadcast_arrays(sz, vz, az, aot, wv, pressure)]
    out = np.empty((N_TERMS, flat[0].size))
    atmosphere_terms_flat(table.arrays, table.band_index(band), platform, *flat, out)
    return out.reshape((N_TERMS,) + shape)


def _best_dem(dem, source, coarse: Affine, shape) -> tuple[Path, np.ndarray, float]:
    """The DEM of ``dem`` (a path or several) covering most of the tile: (path, altitude per cell, coverage)."""
    paths = [dem] if isinstance(dem, (str, os.PathLike)) else list(dem)
    best = None
    for path in paths:
        try:
            altitude, coverage = altitude_cells(path, source.crs, coarse, shape)
        except InvalidParameterError:
            if len(paths) == 1:
                raise
            continue  # another DEM may cover this tile
        if best is None or coverage > best[2]:
            best = (Path(path), altitude, coverage)
    if best is None:
        raise InvalidParameterError(f"none of the {len(paths)} DEMs covers tile {source.tile}", source.path)
    return best


def _correction_terms(terms: np.ndarray) -> np.ndarray:
    corr = np.empty((N_CORR,) + terms.shape[1:])
    corr[0] = terms[TERM_PATH]
    corr[1] = terms[TERM_GAS] * terms[TERM_T_DOWN] * terms[TERM_T_UP]
    corr[2] = terms[TERM_SPHERICAL_ALBEDO]
    return corr


def _surface(toa: np.ndarray, terms: np.ndarray) -> np.ndarray:
    c = _correction_terms(terms)
    y = (toa - c[0]) / c[1]
    return y / (1.0 + c[2] * y)


def _upsample(cells: np.ndarray, factor: int, row0: int, shape: tuple[int, int]) -> np.ndarray:
    out = np.empty(shape, np.float32)
    bilinear_upsample(np.asarray(cells, np.float64), factor, row0, 0, out)
    return out


def _nearest(cells: np.ndarray, factor: int, row0: int, shape: tuple[int, int]) -> np.ndarray:
    rows = (np.arange(row0, row0 + shape[0]) // factor)
    cols = (np.arange(shape[1]) // factor)
    return cells[np.ix_(rows, cols)]


def process_source(source, out_dir: str | os.PathLike, params: ProcessParams = ProcessParams(), *,
                   overwrite: bool = False, threads: int = 2,
                   dem: str | os.PathLike | Sequence[str | os.PathLike] | None = None, state=None) -> ProcessResult:
    """Process one L1C product (or bare bands with the same interface) into a Theia L2A product.

    Parameters
    ----------
    source : L1CProduct or BareL1C
        The input: ``bands``, ``band_grid``, ``read_dn``, ``radio_add_offset``, ``quantification``, ``angles``,
        ``platform``, ``tile``, ``datetime``, ``crs``, ``path``, ``product_id``.
    out_dir : path-like
        Folder of the L2A products.
    params : ProcessParams
        Thresholds and options.
    overwrite : bool
        Replace an existing product of the same name.
    threads : int
        Threads for the per-pixel correction and the COG compression.
    dem : path-like or sequence of them, optional
        DEMs (:mod:`l2a.process.dem`; of several, the one covering most of the tile): surface pressure and the
        cirrus test's altitude term per cell. Without one, flat ground at sea level.
    state : None
        Reserved for the per-tile reference composite of the multi-temporal mode (must be None).

    Raises
    ------
    MissingFileError
        A band of :data:`REQUIRED_BANDS` is missing.
    MetadataError
        Angles missing or nonsense; band grids that do not fit together.
    CorruptRasterError
        A band (or the DEM) cannot be decoded (nothing is left of the product).
    InvalidParameterError
        A DEM without CRS or away from the tile.
    """
    if state is not None:
        raise InvalidParameterError("the multi-temporal mode (a per-tile state) is not available yet")
    t0 = time.perf_counter()
    missing = [b for b in REQUIRED_BANDS if b not in source.bands]
    if missing:
        raise MissingFileError(f"band{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing", source.path)
    table = load_table()
    platform, platform_warning = table.platform_code(source.platform)
    r1 = source.band_grid("B2")
    # the product's 20 m grid shares the 10 m grid's origin (crops whose 20 m bands were resampled to 10 m get
    # them averaged back to 20 m)
    grids = {"R1": r1, "R2": Grid(Affine(2 * r1.transform.a, 0.0, r1.transform.c, 0.0, 2 * r1.transform.e,
                                         r1.transform.f), -(-r1.height // 2), -(-r1.width // 2))}
    meta = L2AMetadata(platform=source.platform, tile=source.tile, datetime=source.datetime, crs=source.crs,
                       grids=grids, angles=source.angles if not source.angles.is_empty else None)
    name = theia_product_name(meta)
    target = Path(out_dir) / name
    if target.exists() and not overwrite:
        return ProcessResult(Path(source.path), "exists", target)

    # --- sun: MAJA declares a product at grazing sun not valid
    mean_sun = source.angles.mean_sun
    if mean_sun is None:
        raise MetadataError("no sun angles (no MTD_TL.xml?)", source.path)
    _check_angles("sun zenith", np.array([mean_sun[0]]), 0.0, 90.0, source)
    if mean_sun[0] > params.max_sun_zenith:
        return ProcessResult(Path(source.path), "skipped", reason=f"sun zenith {mean_sun[0]:.1f} degrees > "
                             f"{params.max_sun_zenith:g} (too low for a valid product)")

    # --- coarse grid and angles
    f1 = cell_factor(r1.resolution, params.cell_m)
    cell_m = f1 * r1.resolution
    shape = (-(-r1.height // f1), -(-r1.width // f1))
    coarse = Affine(cell_m, 0.0, r1.transform.c, 0.0, -cell_m, r1.transform.f)
    band_grids = {b: grids[band_group(b)] if b in REQUIRED_BANDS else source.band_grid(b) for b in source.bands}
    factors = {b: _band_factor(band_grids[b], cell_m, shape, source) for b in source.bands}
    dem_used, altitude, dem_coverage = None, np.zeros(shape), 0.0
    if dem is not None:
        dem_used, altitude, dem_coverage = _best_dem(dem, source, coarse, shape)
    pressure = pressure_hpa(altitude)
    sun = source.angles.sun_on(coarse, shape)
    sz, sa = (np.asarray(a, np.float64) for a in sun)
    _check_angles("sun zenith", sz, 0.0, 90.0, source)
    view = {}
    for b in REQUIRED_BANDS + tuple(x for x in ("B9",) if x in source.bands):
        got = source.angles.view_on(b, coarse, shape)
        if got is None:
            raise MetadataError(f"no viewing angles for band {b}", source.path)
        view[b] = tuple(np.asarray(a, np.float64) for a in got)
    rel_az = {b: sa - va for b, (_, va) in view.items()}

    # --- read every band once; cell means
    dn = {b: _read_on(source, b, band_grids[b]) for b in source.bands if b in REQUIRED_BANDS or b in ("B9", "B10")}
    offsets = {b: float(source.radio_add_offset.get(b, 0.0)) for b in dn}
    q = float(source.quantification)
    toa_cells, counts, saturated_counts = {}, {}, {}
    for b, d in dn.items():
        f = factors[b]
        own = shape if f > 0 else d.shape
        mean = np.empty(own, np.float32)
        count = np.empty(own, np.int32)
        n_saturated = np.empty(own, np.int32)
        cell_mean(d, offsets[b], q, 0, _SATURATED_DN, max(f, 1), mean, count, n_saturated)
        if f < 0:  # a band coarser than the cells: each cell takes the pixel it lies in
            mean, count, n_saturated = (np.repeat(np.repeat(a, -f, axis=0), -f, axis=1)[:shape[0], :shape[1]]
                                        for a in (mean, count, n_saturated))
        toa_cells[b], counts[b], saturated_counts[b] = mean.astype(np.float64), count, n_saturated
    valid = np.logical_and.reduce([counts[b] > 0 for b in REQUIRED_BANDS])
    # viewing angles are judged where there are data: outside the swath the grids are extrapolated
    for b, (vz, _) in view.items():
        _check_angles(f"{b} view zenith", vz[valid] if valid.any() else vz[:0], 0.0, MAX_VIEW_ZENITH, source)
        np.clip(vz, 0.0, MAX_VIEW_ZENITH, out=vz)
    saturated = np.logical_or.reduce([saturated_counts[b] > 0 for b in ("B2", "B4", "B8A", "B11")])

    # --- water vapour, Rayleigh-corrected reflectance, masks
    wv, wv_interpolated = water_vapour_cells(toa_cells.get("B9"), toa_cells["B8A"], np.nan_to_num(sz),
                                             view["B8A"][0], table, params)
    rayleigh_aot = np.full(shape, params.rayleigh_aot)
    tocr, rayleigh_corr, rayleigh_terms = {}, {}, {}
    for b in ("B2", "B3", "B4", "B8A", "B11", "B12"):
        rayleigh_terms[b] = _terms(table, b, platform, sz, view[b][0], rel_az[b], rayleigh_aot, wv, pressure)
        tocr[b] = _surface(toa_cells[b], rayleigh_terms[b])
        rayleigh_corr[b] = _correction_terms(rayleigh_terms[b])[:2]
    thresholds = np.array([params.ndsi_min, params.snow_red_min, params.snow_swir_max, params.snow_nir_min,
                           params.water_ndvi_max, params.water_nir_max, params.water_ndwi_min,
                           params.shadow_darkening_max])
    refine_args = (dn["B3"], dn["B4"], dn["B8A"], dn["B11"],
                   np.array([offsets[b] for b in ("B3", "B4", "B8A", "B11")]), q, factors["B3"] // factors["B8A"],
                   np.stack([rayleigh_corr[b] for b in ("B3", "B4", "B8A", "B11")]), factors["B8A"])
    pixel_bits = np.empty(dn["B8A"].shape, np.uint8)
    no_cells = np.zeros(shape, bool)
    refine_pixels(*refine_args, no_cells, no_cells, np.full(shape, np.inf), np.full(shape, np.inf), thresholds,
                  pixel_bits)
    snow_pixels = (pixel_bits & PIXEL_SNOW) != 0
    tocr_without_snow, snow_fraction = None, np.zeros(shape)
    if snow_pixels.any():
        tocr_without_snow = {}
        for b in ("B2", "B4", "B8A", "B11"):
            mean, rest = np.empty(shape), np.empty(shape, np.int32)
            cell_mean_excluding(dn[b], offsets[b], q, factors[b], snow_pixels, factors[b] // factors["B8A"], mean,
                                rest)
            tocr_without_snow[b] = _surface(mean, rayleigh_terms[b])
            if b == "B8A":  # the share of a cell's valid 20 m pixels that are snow
                snow_fraction = np.where(counts[b] > 0, 1.0 - rest / np.maximum(counts[b], 1), 0.0)
    scene = CoarseScene(tocr=tocr, b10=toa_cells.get("B10"), saturated=saturated, valid=valid, sun_zenith=sz,
                        sun_azimuth=sa, view_zenith=view["B8A"][0], view_azimuth=view["B8A"][1], cell_m=cell_m,
                        altitude=altitude,
                        snow_fraction=snow_fraction,
                        tocr_without_snow=tocr_without_snow)
    masks = compute_masks(scene, params)
    cloudy = masks.cloud_or_shadow & valid
    weights = counts["B2"].astype(np.float64)
    cloud_pct = 100.0 * float((weights * cloudy).sum() / max(weights[valid].sum(), 1.0))
    if cloud_pct > params.max_cloud_pct:
        return ProcessResult(Path(source.path), "skipped", reason=f"{cloud_pct:.0f} % cloud or shadow > "
                             f"{params.max_cloud_pct:g} % (not a valid product; --max-cloud 100 writes it)",
                             figures={"cloud_pct": round(cloud_pct, 2)})

    # --- AOT
    if params.aot is not None:
        aot = np.full(shape, float(params.aot))
        aot_interpolated = np.zeros(shape, bool)
        n_estimates = 0
    else:
        from scipy import ndimage

        blocked = ndimage.binary_dilation(masks.cloud_or_shadow, np.ones((3, 3), bool)) | masks.water | masks.snow
        eligible = valid & ~blocked
        # the selection's surface NDVI and B12 at the default AOT (path and gain of B4, B8, B12 per cell)
        corr = np.stack([_correction_terms(_terms(table, b, platform, sz, view[b][0], rel_az[b],
                                                  np.full(shape, params.default_aot), wv, pressure))[:2]
                         for b in ("B4", "B8", "B12")])
        sums = np.zeros((4,) + shape)
        k = factors["B2"] // factors["B12"]  # 10 m pixels per 20 m pixel side (1 for crops on one grid)
        dark_pixel_sums(dn["B2"], dn["B4"], dn["B8"], np.array([offsets["B2"], offsets["B4"], offsets["B8"]]), q,
                        k, dn["B12"], offsets["B12"], corr, eligible, factors["B12"], params.ddv_ndvi_min,
                        params.ddv_swir_min, params.ddv_swir_max, sums)
        aot, aot_interpolated, n_estimates = estimate_aot(
            sums, sz, {b: view[b][0] for b in ("B2", "B4", "B12")}, {b: rel_az[b] for b in ("B2", "B4", "B12")}, wv,
            pressure, table, platform, params)

    # --- write
    extra = {
        "PROCESSING_MODE": PROCESSING_MODE,
        "INPUT_L1C": source.product_id,
        "ATMOSPHERE_TABLE": table.version,
        "ATMOSPHERE_TABLE_MODEL": table.provenance.get("model", ""),
        "ATMOSPHERE_TABLE_BUILD_DATE": table.provenance.get("build_date", ""),
        "AEROSOL_MODEL": "continental",
        "AOT_METHOD": "forced" if params.aot is not None else (
            f"dark dense vegetation (red = {params.ddv_red_swir:g} B12, blue = {params.ddv_blue_red:g} red)"),
        "SHADOW_METHOD": "union of cloud projections over 250-8000 m with a NIR darkening threshold (MAJA)",
        "CALIBRATION_TABLE": CALIBRATION_VERSION,
        "DEM": (f"{Path(dem_used).name} (covers {100 * dem_coverage:.1f} % of the tile; surface pressure and "
                "cirrus altitude term; no slope correction)") if dem_used is not None
        else "none (flat ground at sea level: 1013.25 hPa, no cirrus altitude term)",
        "L1C_PROCESSING_BASELINE": str(getattr(source, "processing_baseline", "") or ""),
        **params.record(),
    }
    if platform_warning:
        extra["PLATFORM_WARNING"] = platform_warning
    meta = L2AMetadata(platform=source.platform, tile=source.tile, datetime=source.datetime, crs=source.crs,
                       grids=grids, angles=meta.angles, extra=extra,
                       relative_orbit=getattr(source, "relative_orbit", None))
    band_terms = {b: _correction_terms(_terms(table, b, platform, sz, view[b][0], rel_az[b], aot, wv, pressure))
                  for b in REQUIRED_BANDS}
    # per-pixel water, snow and shadow on the 20 m grid, now with the clouds and their shadow zone
    refine_pixels(*refine_args, masks.cloud_core, masks.shadow_zone, masks.nir_reference, masks.swir_reference,
                  thresholds, pixel_bits)
    with TheiaL2AWriter(out_dir, meta, threads=threads, write_sre="link", overwrite=overwrite,
                        quicklook_clouds=True) as writer:
        _write_bands(writer, dn, offsets, q, band_terms, factors, threads)
        for res, bands in (("R1", R1_BANDS), ("R2", R2_BANDS)):
            _write_masks(writer, res, bands, dn, factors[bands[0]], masks, pixel_bits, aot, aot_interpolated, wv,
                         wv_interpolated, params)
    figures = {"cloud_pct": round(cloud_pct, 2), "aot_mean": round(float(aot[valid].mean()), 4) if valid.any()
               else None, "aot_estimates": n_estimates, "water_vapour_mean": round(float(wv[valid].mean()), 3)
               if valid.any() else None, "seconds": round(time.perf_counter() - t0, 2)}
    return ProcessResult(Path(source.path), "written", writer.path, figures=figures)


def _write_bands(writer, dn, offsets, q, band_terms, factors, threads) -> None:
    """Correct every band in row blocks (threads compute, this thread writes in order)."""
    def block(args):
        b, row0, n = args
        out = np.empty((n, dn[b].shape[1]), np.int16)
        correct_block(dn[b][row0:row0 + n], offsets[b], q, 0, band_terms[b], factors[b], row0, 0, out)
        return out

    with concurrent.futures.ThreadPoolExecutor(max(1, threads)) as pool:
        for b in REQUIRED_BANDS:
            rows, cols = dn[b].shape
            jobs = [(b, r, min(_ROWS_PER_BLOCK, rows - r)) for r in range(0, rows, _ROWS_PER_BLOCK)]
            for (_, row0, n), out in zip(jobs, pool.map(block, jobs)):
                writer.write_band(b, out, Window(0, row0, cols, n))


def _write_masks(writer, res, bands, dn, factor, masks: CoarseMasks, pixel_bits, aot, aot_interpolated, wv,
                 wv_interpolated, params) -> None:
    rows, cols = dn[bands[0]].shape
    thr = params.upsample_threshold
    for row0 in range(0, rows, _ROWS_PER_BLOCK):
        n = min(_ROWS_PER_BLOCK, rows - row0)
        win = Window(0, row0, cols, n)
        shape = (n, cols)
        edge = np.zeros(shape, bool)
        for b in bands:
            edge |= dn[b][row0:row0 + n] == 0

        def up(mask, threshold=thr):
            return (_upsample(mask.astype(np.float64), factor, row0, shape) > threshold) & ~edge

        cloud_all, refl, cirrus = (up(m) for m in (masks.cloud_all, masks.cloud_refl, masks.cirrus))
        # water, snow and shadow from the 20 m pixel tests (each 10 m pixel takes its 20 m pixel's)
        if res == "R2":
            bits = pixel_bits[row0:row0 + n]
        else:
            bits = pixel_bits[(np.arange(row0, row0 + n) // 2)[:, None], (np.arange(cols) // 2)[None, :]]
        # the pixel tests overrule the coarse clouds and their dilation for two classes: a pixel darkened in NIR
        # and SWIR in the shadow zone is shadow, one that passes the snow test is snow (patchy snow on rock makes
        # whole cells pass the cloud test)
        shadow = ((bits & PIXEL_SHADOW) != 0) & ~edge
        snow = ((bits & PIXEL_SNOW) != 0) & ~edge
        cloud_all &= ~(shadow | snow)
        refl &= ~(shadow | snow)
        cirrus &= ~(shadow | snow)
        # not in the clouds' dilation: at a cloud's edge, band-to-band parallax puts the cloud in the 10 m green
        # and its shadow in the 20 m NIR, a water-like spectrum
        water = ((bits & PIXEL_WATER) != 0) & ~cloud_all & ~edge
        clm = (((cloud_all | shadow) << CLM_ALL) | (cloud_all << CLM_ALL_CLOUDS) | (refl << CLM_REFL)
               | (shadow << CLM_SHADOWS) | (cirrus << CLM_CIRRUS)).astype(np.uint8)
        writer.write_mask("CLM", res, clm, win)
        writer.write_mask("MG2", res, encode_mg2(water, snow, cloud_all, shadow), win)
        writer.write_mask("SAT", res, encode_sat([dn[b][row0:row0 + n] == _SATURATED_DN for b in bands]), win)
        writer.write_mask("EDG", res, edge.astype(np.uint8), win)
        atb = np.empty((2,) + shape, np.uint8)
        atb[0] = np.clip(np.floor(_upsample(wv, factor, row0, shape) * WVC_QUANTIFICATION + 0.5), 1, 255)
        atb[1] = np.clip(np.floor(_upsample(aot, factor, row0, shape) * AOT_QUANTIFICATION + 0.5), 1, 255)
        atb[:, edge] = 0
        writer.write_atb(res, atb, win)
        iab = ((_nearest(wv_interpolated, factor, row0, shape).astype(np.uint8))
               | (_nearest(aot_interpolated, factor, row0, shape).astype(np.uint8) << 1))
        iab[edge] = 0
        writer.write_mask("IAB", res, iab, win)

