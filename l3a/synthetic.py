"""A synthetic country of L3A products, for the mosaic's tests and benchmarks (``scripts/bench_mosaic.py``).

Tiles sit on their true MGRS footprints (109.8 km squares, 9.8 km overlaps within a zone) in two UTM zones
(EPSG:32630 and EPSG:32631) that overlap by ~30 km around 0.5-0.9 degrees East. The landscape is defined in one
common frame (longitude/latitude), so overlapping tiles agree except for a per-tile, per-band radiometric offset that
makes seams measurable. Always-cloudy discs (FLG 1), a lake (FLG 3, WGT 0 in Theia style), a swath gap (FLG 0) and
per-tile holes are placed in the same common frame.

Used by ``tests/mosaic`` (coarse pixels, fast) and by ``scripts/bench_mosaic.py`` (finer pixels). Unlike the
scene simulator (:mod:`l2a.simulate`, whose L2A products ``l3a compose`` turns into real syntheses), it writes L3A
products directly, with known values everywhere, so that the mosaic's blending and seams can be measured exactly.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS

from l2a.constants import REFLECTANCE_NODATA
from l2a.grid import Grid
from l2a.sensors import R1_BANDS, band_resolution

from .dates import month_central_date
from .flags import DTS_NODATA, FLG_CLOUD, FLG_LAND, FLG_NODATA, FLG_SNOW, FLG_WATER, WGT_NODATA
from .product import L3AMetadata
from .writer import L3AWriter

__all__ = ["MGRS_TILES", "TILE_SIZE_M", "LON0", "LAT0", "BAND_BASE", "Country", "local_metres", "default_landscape",
           "tile_grid", "write_tile", "make_country"]

#: True MGRS tiles (CRS, upper-left corner in m) around the 30/31 UTM zone boundary (south-west France).
MGRS_TILES = {
    "T30TYP": ("EPSG:32630", (699960.0, 4900020.0)),
    "T30TYN": ("EPSG:32630", (699960.0, 4800000.0)),
    "T31TCJ": ("EPSG:32631", (300000.0, 4900020.0)),
    "T31TCH": ("EPSG:32631", (300000.0, 4800000.0)),
    "T31TDJ": ("EPSG:32631", (399960.0, 4900020.0)),
    "T31TDH": ("EPSG:32631", (399960.0, 4800000.0)),
}
TILE_SIZE_M = 109800.0
#: Common frame: local metres from (LON0, LAT0), equirectangular.
LON0, LAT0 = 1.0, 43.7
_M_PER_DEG_LAT = 110_950.0
_M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
#: Mean reflectance x10000 of each band in the synthetic landscape (vegetated land).
BAND_BASE = {"B2": 450, "B3": 750, "B4": 650, "B8": 3000, "B5": 1100, "B6": 2200, "B7": 2700, "B8A": 3100,
             "B11": 2100, "B12": 1200}

Landscape = Callable[[np.ndarray, np.ndarray, str], np.ndarray]


def local_metres(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Common-frame coordinates (m east, m north of LON0, LAT0)."""
    return (lon - LON0) * _M_PER_DEG_LON, (lat - LAT0) * _M_PER_DEG_LAT


def default_landscape(lon: np.ndarray, lat: np.ndarray, band: str) -> np.ndarray:
    """Smooth, textured reflectance x10000: waves of 40 km down to 1.3 km wavelength in several directions."""
    x, y = local_metres(lon, lat)
    base = BAND_BASE[band]
    shift = (sum(map(ord, band)) % 7) * 0.3
    v = np.zeros_like(x)
    for amp, wavelength, angle in ((0.30, 40_000, 0.3), (0.18, 13_000, 1.4), (0.12, 4_100, 2.2), (0.08, 1_300, 0.9)):
        k = 2 * math.pi / wavelength
        v += amp * np.sin(k * (x * math.cos(angle) + y * math.sin(angle)) + shift)
    return (base * (1.0 + v)).astype(np.float32)


@dataclass(frozen=True)
class Country:
    """What to draw. Discs are (x_m, y_m, radius_m) in the common frame.

    Attributes
    ----------
    tiles : tile names (keys of MGRS_TILES)
    pixel_m : R1 pixel size, m (R2 is twice that); 109800 / (2 * pixel_m) must be an integer
    bands : bands written
    offsets_max : largest per-tile radiometric offset, reflectance x10000 (0: tiles agree)
    fixed_offsets : offset of every band per tile, reflectance x10000 (overrides offsets_max for those tiles)
    clouds : always-cloudy discs (FLG 1, in every tile)
    lakes : water discs (FLG 3)
    theia_wgt : WGT 0 on water, as Theia L3A
    gap_south_of_m : swath gap (FLG 0) south of this common-frame y, m (None: no gap)
    holes : per-tile FLG 1 discs {tile: [(x, y, r)]}
    landscape : reflectance function (lon, lat, band) -> float32 x10000
    """

    tiles: tuple[str, ...] = ("T30TYP", "T31TCJ", "T30TYN", "T31TCH")
    pixel_m: float = 300.0
    bands: tuple[str, ...] = R1_BANDS
    central_date: dt.date = month_central_date("2018-07")
    offsets_max: float = 150.0
    fixed_offsets: Mapping[str, float] = field(default_factory=dict)
    clouds: tuple = ((-40_000.0, -60_000.0, 6_000.0),)
    lakes: tuple = ((20_000.0, -30_000.0, 4_000.0),)
    theia_wgt: bool = True
    gap_south_of_m: float | None = None
    holes: Mapping[str, Sequence] = field(default_factory=dict)
    landscape: Landscape = default_landscape
    seed: int = 0

    def offsets(self) -> dict[str, dict[str, float]]:
        """Per-tile, per-band offset, reflectance x10000 (reproducible from ``seed``)."""
        rng = np.random.default_rng(self.seed)
        out = {}
        for tile in sorted(MGRS_TILES):
            draws = rng.uniform(-1.0, 1.0, size=len(BAND_BASE))
            out[tile] = {b: float(self.offsets_max * d) for b, d in zip(BAND_BASE, draws)}
            if tile in self.fixed_offsets:
                out[tile] = {b: float(self.fixed_offsets[tile]) for b in BAND_BASE}
        return out


def _in_discs(x: np.ndarray, y: np.ndarray, discs: Sequence) -> np.ndarray:
    inside = np.zeros(x.shape, bool)
    for cx, cy, r in discs:
        inside |= (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    return inside


def tile_grid(tile: str, pixel_m: float) -> Grid:
    """The tile's grid at a pixel size (its true MGRS frame)."""
    _, (ulx, uly) = MGRS_TILES[tile]
    n = TILE_SIZE_M / pixel_m
    if abs(n - round(n)) > 1e-9:
        raise ValueError(f"{TILE_SIZE_M} m is not a whole number of {pixel_m} m pixels")
    return Grid(Affine(pixel_m, 0.0, ulx, 0.0, -pixel_m, uly), int(round(n)), int(round(n)))


def _pixel_lonlat(crs: str, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0:grid.height, 0:grid.width].astype(np.float64)
    xs, ys = grid.transform @ (cols + 0.5, rows + 0.5)
    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(xs, ys)
    return np.asarray(lon), np.asarray(lat)


def write_tile(out_dir: Path, tile: str, country: Country) -> Path:
    """Write one synthetic L3A product; returns its folder."""
    crs, _ = MGRS_TILES[tile]
    groups = sorted({band_resolution(b) for b in country.bands} | {"R1"})
    grids = {res: tile_grid(tile, country.pixel_m * (1 if res == "R1" else 2)) for res in groups}
    meta = L3AMetadata(tile=tile, central_date=country.central_date, half_window_days=23, crs=CRS.from_string(crs),
                       grids=grids, bands=tuple(country.bands), platforms=("S2A", "S2B"))
    offsets = country.offsets()[tile]
    doy = country.central_date.timetuple().tm_yday - 1
    with L3AWriter(out_dir, meta, threads=1, overwrite=True) as writer:
        for res, grid in grids.items():
            lon, lat = _pixel_lonlat(crs, grid)
            x, y = local_metres(lon, lat)
            flg = np.full(grid.shape, FLG_LAND, np.uint8)
            flg[_in_discs(x, y, country.lakes)] = FLG_WATER
            flg[_in_discs(x, y, country.clouds)] = FLG_CLOUD
            flg[_in_discs(x, y, country.holes.get(tile, ()))] = FLG_CLOUD
            if country.gap_south_of_m is not None:
                flg[y < country.gap_south_of_m] = FLG_NODATA
            wgt = (1000.0 * (2.5 + np.sin(x / 23_000.0) * np.cos(y / 31_000.0))).astype(np.int16)
            if country.theia_wgt:
                wgt[(flg == FLG_WATER) | (flg == FLG_SNOW)] = 0
            wgt[flg == FLG_CLOUD] = 0
            wgt[flg == FLG_NODATA] = WGT_NODATA
            for band in (b for b in country.bands if band_resolution(b) == res):
                v = country.landscape(lon, lat, band) + offsets[band]
                v = np.where(flg == FLG_WATER, 0.25 * v, v)
                v = np.where(flg == FLG_CLOUD, 5000.0 + 0.1 * v, v)
                data = np.clip(np.rint(v), -9999, 32767).astype(np.int16)
                data[flg == FLG_NODATA] = REFLECTANCE_NODATA
                writer.write_frc(band, data)
            writer.write_mask("FLG", res, flg)
            writer.write_mask("WGT", res, wgt)
            writer.write_mask("DTS", res, np.where(flg == FLG_NODATA, DTS_NODATA, doy).astype(np.int16))
            writer.write_mask("NOB", res, np.where(flg >= FLG_SNOW, 5, 0).astype(np.uint8))
    return writer.path


def make_country(out_dir: str | Path, country: Country = Country()) -> list[Path]:
    """Write every tile of ``country`` into ``out_dir``; returns the product folders."""
    out = Path(out_dir)
    return [write_tile(out, tile, country) for tile in country.tiles]
