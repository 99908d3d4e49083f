"""Fixtures of the l2a tests: tiny grids, random L2A content, products written in the Theia format, raw GeoTIFFs.

Sizes stay tiny (tens of pixels) so the suite runs in seconds on two cores.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from l2a.angles import AngleGrid, Angles
from l2a.formats.theia.bits import encode_clm, encode_mg2, encode_sat
from l2a.formats.theia.writer import L2AMetadata, write_l2a
from l2a.grid import Grid
from l2a.sensors import R1_BANDS, band_resolution

#: Upper-left corner of tile T31TCJ, m (EPSG:32631).
T31TCJ_ULX, T31TCJ_ULY = 300000.0, 4900020.0


def small_grids(rows: int = 24, cols: int = 30, ulx: float = T31TCJ_ULX, uly: float = T31TCJ_ULY) -> dict[str, Grid]:
    """R1 (10 m, rows x cols) and R2 (20 m, half size) grids sharing their upper-left corner."""
    return {"R1": Grid(Affine(10.0, 0.0, ulx, 0.0, -10.0, uly), rows, cols),
            "R2": Grid(Affine(20.0, 0.0, ulx, 0.0, -20.0, uly), rows // 2, cols // 2)}


def random_angles(rng: np.random.Generator, bands=("B2", "B4", "B11")) -> Angles:
    """3 x 4 node grids at 5 km with a NaN node in each viewing grid (as outside a detector)."""
    sun = AngleGrid(rng.uniform(25, 35, (3, 4)), rng.uniform(140, 160, (3, 4)), T31TCJ_ULX, T31TCJ_ULY)
    view = {}
    for b in bands:
        zen, az = rng.uniform(2, 10, (3, 4)), rng.uniform(90, 290, (3, 4))
        zen[0, 0] = az[0, 0] = np.nan
        view[b] = AngleGrid(zen, az, T31TCJ_ULX, T31TCJ_ULY)
    return Angles(sun=sun, view=view)


def make_meta(rng: np.random.Generator | None = None, **overrides) -> L2AMetadata:
    """L2AMetadata of a small S2B product of T31TCJ (override any field)."""
    rng = rng or np.random.default_rng(0)
    fields = dict(platform="S2B", tile="31TCJ", datetime=dt.datetime(2018, 7, 15, 10, 53, 2, 456000),
                  crs=CRS.from_epsg(32631), grids=small_grids(), angles=random_angles(rng), relative_orbit=51,
                  orbit_number=7012, extra={"seed": "7"})
    fields.update(overrides)
    return L2AMetadata(**fields)


@dataclass
class ProductContent:
    """Arrays written into a test product (before the reader applies EDG to the bands)."""

    meta: L2AMetadata
    bands: dict
    masks: dict
    atb: dict
    truth: dict          # res -> dict of boolean planes cloud/shadow/water/snow/nodata/saturated


def random_content(meta: L2AMetadata, seed: int = 0, *, edge_cols: int = 4) -> ProductContent:
    """Random reflectance (with nodata pixels), CLM/MG2/EDG/SAT at R1 and R2 (edge in the first columns) and ATB."""
    rng = np.random.default_rng(seed)
    bands, masks, atb, truth = {}, {}, {}, {}
    for res, grid in meta.grids.items():
        shape = grid.shape
        edge = np.zeros(shape, bool)
        edge[:, :edge_cols // (1 if res == "R1" else 2)] = True
        cloud, shadow = rng.random(shape) < 0.2, rng.random(shape) < 0.1
        water, snow = rng.random(shape) < 0.1, rng.random(shape) < 0.1
        group = [b for b in meta.bands if band_resolution(b) == res]
        sat_planes = [rng.random(shape) < 0.02 for _ in group] or [np.zeros(shape, bool)]
        masks["CLM", res] = encode_clm(cloud, shadow)
        masks["MG2", res] = encode_mg2(water, snow, cloud, shadow)
        masks["EDG", res] = edge.astype(np.uint8)
        masks["SAT", res] = encode_sat(sat_planes)
        truth[res] = dict(cloud=cloud, shadow=shadow, water=water, snow=snow, nodata=edge,
                          saturated=np.any(sat_planes, axis=0))
        for b in group:
            data = rng.integers(-200, 12000, shape).astype(np.int16)
            data[rng.random(shape) < 0.05] = -10000
            bands[b] = data
        a = rng.integers(1, 256, (2,) + shape).astype(np.uint8)
        a[:, rng.random(shape) < 0.05] = 0
        atb[res] = a
    return ProductContent(meta, bands, masks, atb, truth)


@pytest.fixture(scope="session")
def written_product(tmp_path_factory) -> tuple[Path, ProductContent]:
    """A complete product written once per session (read-only: copy it before modifying)."""
    content = random_content(make_meta(), seed=3)
    out = tmp_path_factory.mktemp("written")
    path = write_l2a(out, content.meta, content.bands, content.masks, content.atb)
    return path, content


@pytest.fixture
def product_copy(written_product, tmp_path) -> tuple[Path, ProductContent]:
    """A private copy of :func:`written_product`, free to damage."""
    src, content = written_product
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst, content


def write_geotiff(path, array: np.ndarray, transform: Affine, crs=CRS.from_epsg(32631), nodata=None) -> Path:
    """Write a plain (non-COG) GeoTIFF, 2-D or (bands, rows, cols)."""
    arr = np.asarray(array)
    arr3 = arr[None] if arr.ndim == 2 else arr
    with rasterio.open(path, "w", driver="GTiff", height=arr3.shape[1], width=arr3.shape[2], count=arr3.shape[0],
                       dtype=arr3.dtype, crs=crs, transform=transform, nodata=nodata) as ds:
        ds.write(arr3)
    return Path(path)


def write_bare_product(folder: Path, name: str, grids: dict[str, Grid], arrays: dict[str, np.ndarray],
                       nodata=None) -> Path:
    """A product folder made by hand: ``arrays`` maps a file role (``FRE_B2``, ``MASKS/CLM_R1``, ``ATB_R1``,
    ``FRE_STACK``) to data; the grid comes from the role's band or resolution."""
    product = folder / name
    (product / "MASKS").mkdir(parents=True, exist_ok=True)
    for role, data in arrays.items():
        sub, _, base = role.rpartition("/")
        suffix = base.rsplit("_", 1)[-1]
        res = suffix if suffix in ("R1", "R2") else ("R1" if suffix == "STACK" or suffix in R1_BANDS else "R2")
        target = product / sub / f"{name}_{base}.tif" if sub else product / f"{name}_{base}.tif"
        write_geotiff(target, data, grids[res].transform, nodata=nodata)
    return product
