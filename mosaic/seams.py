"""Seam index of a mosaic: how much more neighbouring pixels differ across tile boundaries than inside tiles.

``seam index = MAD(boundary pairs) / MAD(interior pairs)``, MAD being the mean absolute difference of reflectance
between 4-connected neighbouring pixels, over all bands; horizontal and vertical pairs are compared separately (a
boundary crossed by horizontal pairs against horizontal interior pairs) and the two ratios weighted by their
boundary pair counts, so that a landscape with a direction does not bias the index. *Boundary pairs* are neighbours
whose sets of covering tiles differ (a tile's frame, a zone boundary, the edge of a tile's FLG 0/1 hole passes
between them); *interior pairs* lie in a single tile, at least ``margin_px`` from any boundary. Boundary pairs
within ``margin_px`` of pixels without data (the mosaic's outline, holes all tiles share) are counted apart
(``ratio_with_edges``): there two frames that nearly coincide (the northing lines of two UTM zones meet at the zone
boundary) leave one-pixel slivers seen by one tile only, next to blended pixels, and no blending can help. Pixels
not valid in the mosaic are left out. A seamless mosaic scores ~1; a last-tile-wins mosaic of tiles with radiometric
offsets scores well above.

:func:`seam_index_np` is the array computation; :func:`mosaic_seam_index` reads a ``mosaic build`` output and the
L3A products it came from (the coverage sets come from each product's FLG, reprojected with nearest neighbour onto
the mosaic's grid). That reader holds the whole grid in memory: it is an evaluation tool for test countries and
benchmarks, not for national mosaics.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import ndimage

from l2a.constants import REFLECTANCE_NODATA

from .flags import FLG_NODATA, FLG_SNOW

__all__ = ["SeamIndex", "seam_index_np", "mosaic_seam_index", "coverage_bits"]


@dataclass(frozen=True)
class SeamIndex:
    """Seam index and its parts.

    Attributes
    ----------
    ratio : float
        Seam index: boundary over interior MAD, direction by direction (NaN if either set is empty).
    boundary_mad, interior_mad : float
        Mean absolute neighbour differences, reflectance x10000.
    boundary_pairs, interior_pairs : int
        Number of pixel pairs in each set.
    ratio_with_edges : float
        The index counting also the boundary pairs within ``margin_px`` of pixels without data (the mosaic's outline,
        holes every tile shares), where frames that nearly coincide leave one-pixel slivers seen by a single tile.
    edge_pairs : int
        Number of those pairs.
    """

    ratio: float
    boundary_mad: float
    interior_mad: float
    boundary_pairs: int
    interior_pairs: int
    ratio_with_edges: float = float("nan")
    edge_pairs: int = 0

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _pairs(a: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    if axis == 0:
        return a[..., :-1, :], a[..., 1:, :]
    return a[..., :, :-1], a[..., :, 1:]


def seam_index_np(values: np.ndarray, coverage: np.ndarray, margin_px: int = 3) -> SeamIndex:
    """Seam index of a mosaic held in memory.

    Parameters
    ----------
    values : float (bands, rows, cols)
        Reflectance x10000, NaN where the mosaic is not valid.
    coverage : uint64 (rows, cols)
        Bit ``i`` set where tile ``i`` has valid data (0: no tile).
    margin_px : int
        Smallest distance from interior pairs to a boundary, pixels.

    Returns
    -------
    SeamIndex
    """
    if values.ndim != 3 or values.shape[1:] != coverage.shape:
        raise ValueError(f"values {values.shape} and coverage {coverage.shape} do not match")
    valid = np.isfinite(values).all(axis=0) & (coverage != 0)
    boundary_px = np.zeros(coverage.shape, bool)
    for axis in (0, 1):
        ca, cb = _pairs(coverage, axis)
        change = ca != cb
        pa, pb = _pairs(boundary_px, axis)
        pa |= change
        pb |= change
    cov = coverage.astype(np.uint64)
    single = (cov != 0) & ((cov & (cov - np.uint64(1))) == 0)  # one bit set: a power of two
    far = ndimage.distance_transform_edt(~boundary_px) >= margin_px if boundary_px.any() else np.ones_like(valid)
    interior_px = single & far
    inland = ndimage.distance_transform_edt(valid) > margin_px   # away from the outline and shared holes
    sums = {(k, axis): 0.0 for k in ("boundary", "interior", "edge") for axis in (0, 1)}
    counts = dict.fromkeys(sums, 0)
    for axis in (0, 1):
        ca, cb = _pairs(coverage, axis)
        va, vb = _pairs(valid, axis)
        ia, ib = _pairs(interior_px, axis)
        la, lb = _pairs(inland, axis)
        xa, xb = _pairs(values, axis)
        both = va & vb
        diff = np.abs(xa.astype(np.float64) - xb)
        crossing = both & (ca != cb)
        for name, sel in (("boundary", crossing & la & lb), ("edge", crossing & ~(la & lb)),
                          ("interior", both & ia & ib)):
            n = int(sel.sum())
            if n:
                sums[(name, axis)] += float(diff[:, sel].sum())
                counts[(name, axis)] += n
    nb = max(values.shape[0], 1)

    def mad(name, axes=(0, 1)):
        n = sum(counts[(name, a)] for a in axes)
        return sum(sums[(name, a)] for a in axes) / (n * nb) if n else float("nan")

    def index(kinds):
        # each boundary pair is compared with interior pairs of the same direction, then weighted by its count
        parts = []
        for a in (0, 1):
            n = sum(counts[(k, a)] for k in kinds)
            if n and counts[("interior", a)]:
                boundary = sum(sums[(k, a)] for k in kinds) / (n * nb)
                parts.append((n, boundary / mad("interior", (a,))))
        total = sum(n for n, _ in parts)
        return sum(n * r for n, r in parts) / total if total else float("nan")

    return SeamIndex(index(("boundary",)), mad("boundary"), mad("interior"),
                     sum(counts[("boundary", a)] for a in (0, 1)), sum(counts[("interior", a)] for a in (0, 1)),
                     index(("boundary", "edge")), sum(counts[("edge", a)] for a in (0, 1)))


def coverage_bits(products: Sequence, crs, transform, shape: tuple[int, int], res: str = "R1") -> np.ndarray:
    """Which products have valid data (FLG 2-4) at each pixel of a grid.

    Parameters
    ----------
    products : sequence of L3AProduct (at most 64)
    crs, transform, shape : the grid

    Returns
    -------
    uint64 (rows, cols): bit ``i`` set for product ``i``.
    """
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    if len(products) > 64:
        raise ValueError(f"coverage_bits handles up to 64 products, not {len(products)}")
    bits = np.zeros(shape, np.uint64)
    for i, p in enumerate(products):
        flg = p.read_mask("FLG", res)
        dst = np.zeros(shape, np.uint8)
        reproject(flg, dst, src_transform=p.grids[res].transform, src_crs=p.crs, src_nodata=None,
                  dst_transform=transform, dst_crs=crs, dst_nodata=FLG_NODATA, resampling=Resampling.nearest)
        bits |= np.where(dst >= FLG_SNOW, np.uint64(1) << np.uint64(i), np.uint64(0))
    return bits


def mosaic_seam_index(mosaic: str | os.PathLike, inputs: Sequence[str | os.PathLike],
                      bands: Sequence[str] | None = None, margin_px: int = 3) -> SeamIndex:
    """Seam index of a ``mosaic build`` output (``mosaic.tif`` or its folder) against its L3A products."""
    import rasterio

    from .build import OUTPUT_FILES
    from .sources import find_inputs, open_inputs

    path = Path(mosaic)
    if path.is_dir():
        path = path / OUTPUT_FILES["mosaic"]
    products = open_inputs(find_inputs(inputs))
    with rasterio.open(path) as ds:
        names = list(ds.descriptions)
        index = [names.index(b) + 1 for b in bands] if bands else list(range(1, ds.count + 1))
        values = ds.read(index).astype(np.float32)
        mask = ds.read_masks(1) > 0
        crs, transform, shape = ds.crs, ds.transform, (ds.height, ds.width)
    values[:, ~mask] = np.nan
    values[values <= REFLECTANCE_NODATA] = np.nan
    return seam_index_np(values, coverage_bits(products, crs, transform, shape), margin_px)
