"""Blending rules of the mosaic: feathering ramps and the merge methods. Arrays only, no I/O.

Weight of tile ``i`` at an output pixel (method ``blend``)::

    w_i = max(WGT_i, min_wgt) / 1000 * ramp_i          for pixels of FLG 2, 3, 4 (snow, water, land)
    w_i = 0                                           for FLG 0 (nodata) and 1 (always cloudy)
    ramp_i = clip((d_i - 0.5 cell) / feather, min_ramp, 1)
    value = sum_i w_i * value_i / sum_i w_i

with ``d_i`` the distance from the pixel to the nearest pixel that tile ``i`` cannot use (outside its frame, FLG
0/1) but another tile can: the *edges* of its valid data. The ramp therefore falls to ``min_ramp`` at every edge
where another tile takes over (frame, swath edge, cloud hole), and stays up along the country's outline and around
holes all tiles share; normalised weights ``w_i / sum w`` change continuously across every edge, so no seam shows,
while a pixel seen by one tile only keeps that tile's value whatever its ramp. The distance is computed on coarse
cells (1/64 of the ramp; :func:`coarse_valid`, a cell is usable when all its pixels are) aligned on the tile's own
grid, then interpolated bilinearly (:func:`upsample_ramp`): cheap, and independent of how the output is cut into
blocks. Where two frames cross (a T-junction) the weights turn from one tile to the other around the crossing point:
any partition of unity does.
"""

from __future__ import annotations

import abc
from types import MappingProxyType

import numpy as np
from scipy import ndimage

__all__ = ["coarse_valid", "distance_ramp", "upsample_ramp", "tile_weight", "MergeMethod", "WeightedBlend",
           "LastValid", "MERGE_METHODS"]


def coarse_valid(valid: np.ndarray, cell: int) -> np.ndarray:
    """Coarse cells in which every pixel is usable.

    Parameters
    ----------
    valid : bool (rows, cols)
        Usable pixels; ``rows`` and ``cols`` multiples of ``cell``.
    cell : int
        Cell side, pixels (>= 1).

    Returns
    -------
    bool (rows // cell, cols // cell)
    """
    rows, cols = valid.shape
    if rows % cell or cols % cell:
        raise ValueError(f"array shape {valid.shape} is not a multiple of the cell size {cell}")
    if cell == 1:
        return valid.copy()
    return valid.reshape(rows // cell, cell, cols // cell, cell).all(axis=(1, 3))


def distance_ramp(valid: np.ndarray, cell_m: float, feather_m: float) -> np.ndarray:
    """Feathering ramp on a grid of cells: 0 on unusable cells, rising linearly with the distance to the nearest
    unusable cell to 1 at ``feather_m``.

    Parameters
    ----------
    valid : bool (rows, cols)
        Usable cells.
    cell_m : float
        Cell size, m.
    feather_m : float
        Ramp length, m (0: a step, 1 on every usable cell).

    Returns
    -------
    float32 (rows, cols), 0-1. Distances run from the centre of a cell to the edge of the nearest unusable cell
    (``d - 0.5`` cells); cells farther than the array reaches count as usable, so the caller gives a margin of at
    least ``feather_m`` around the cells it keeps.
    """
    if valid.all() or feather_m <= 0:
        return valid.astype(np.float32)
    if not valid.any():
        return np.zeros(valid.shape, np.float32)
    distance = ndimage.distance_transform_edt(valid)
    ramp = (distance - 0.5) * (cell_m / feather_m)
    return np.clip(ramp, 0.0, 1.0).astype(np.float32) * valid


def _axis_interpolation(n_out: int, offset: float, cell: float, n_coarse: int):
    # centre of output pixel j (coarse-array pixel offset + j) in coarse-cell index units
    pos = (offset + np.arange(n_out) + 0.5) / cell - 0.5
    pos = np.clip(pos, 0.0, n_coarse - 1.0)
    lo = np.minimum(np.floor(pos).astype(np.intp), max(n_coarse - 2, 0))
    hi = np.minimum(lo + 1, n_coarse - 1)
    t = (pos - lo).astype(np.float32)
    return lo, hi, t


def upsample_ramp(coarse: np.ndarray, cell: float, row_off: float, col_off: float, rows: int,
                  cols: int) -> np.ndarray:
    """Bilinear interpolation of a coarse ramp at the centres of fine pixels.

    Parameters
    ----------
    coarse : float (coarse_rows, coarse_cols)
        Ramp on cells of ``cell`` x ``cell`` fine pixels; cell (0, 0) covers fine pixels [0, cell).
    cell : float
        Cell side, fine pixels (need not be whole: the cells may belong to another resolution group).
    row_off, col_off : float
        Offset of the first wanted fine pixel from the coarse array's origin, fine pixels.
    rows, cols : int
        Size of the wanted fine block.

    Returns
    -------
    float32 (rows, cols)
    """
    r0, r1, tr = _axis_interpolation(rows, row_off, cell, coarse.shape[0])
    c0, c1, tc = _axis_interpolation(cols, col_off, cell, coarse.shape[1])
    rows_lo, rows_hi = coarse[r0].astype(np.float32), coarse[r1].astype(np.float32)
    top = rows_lo[:, c0] * (1 - tc) + rows_lo[:, c1] * tc
    bottom = rows_hi[:, c0] * (1 - tc) + rows_hi[:, c1] * tc
    return (top * (1 - tr)[:, None] + bottom * tr[:, None]).astype(np.float32)


def tile_weight(valid: np.ndarray, wgt: np.ndarray, ramp: np.ndarray, min_wgt: float, min_ramp: float) -> np.ndarray:
    """Blending weight of one tile's pixels.

    Parameters
    ----------
    valid : bool (rows, cols)
        FLG 2, 3 or 4 (and reflectance present).
    wgt : float32 (rows, cols)
        WGT, sum of the synthesis weights x1000 (Theia writes 0 for snow and water).
    ramp : float32 (rows, cols)
        Feathering ramp, 0-1.
    min_wgt : float
        Floor of WGT for valid pixels (x1000).
    min_ramp : float
        Floor of the ramp for valid pixels.

    Returns
    -------
    float32 (rows, cols): > 0 on valid pixels, 0 elsewhere.
    """
    weight = np.maximum(wgt, np.float32(min_wgt)) * np.float32(1e-3) * np.maximum(ramp, np.float32(min_ramp))
    return np.where(valid, weight, np.float32(0)).astype(np.float32)


class MergeMethod(abc.ABC):
    """Combines the tiles covering an output block, fed one tile at a time (in tile-name order).

    Parameters
    ----------
    bands : int
    shape : (rows, cols)
    """

    def __init__(self, bands: int, shape: tuple[int, int]):
        self.shape = shape
        self.bands = bands

    @abc.abstractmethod
    def feed(self, values: np.ndarray, weight: np.ndarray) -> None:
        """Add one tile.

        Parameters
        ----------
        values : float32 (bands, rows, cols)
            Reflectance x10000 on the output grid, NaN where the tile has nothing.
        weight : float32 (rows, cols)
            Blending weight, 0 where the tile must not contribute.
        """

    @abc.abstractmethod
    def result(self) -> np.ndarray:
        """float32 (bands, rows, cols): merged reflectance x10000, NaN where no tile contributed."""


class WeightedBlend(MergeMethod):
    """Weighted mean: ``sum w_i v_i / sum w_i`` (float64 accumulators, so the order of tiles hardly matters)."""

    def __init__(self, bands: int, shape: tuple[int, int]):
        super().__init__(bands, shape)
        self._sum = np.zeros((bands,) + tuple(shape), np.float64)
        self._weight = np.zeros(shape, np.float64)

    def feed(self, values: np.ndarray, weight: np.ndarray) -> None:
        use = (weight > 0) & np.isfinite(values).all(axis=0)
        w = np.where(use, weight, 0.0)
        self._sum += np.where(use, values, 0.0) * w
        self._weight += w

    @property
    def weight_sum(self) -> np.ndarray:
        """float64 (rows, cols): sum of the weights fed."""
        return self._weight

    def result(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self._sum / self._weight
        out[:, self._weight <= 0] = np.nan
        return out.astype(np.float32)


class LastValid(MergeMethod):
    """The last tile fed with a positive weight wins (no blending: the GDAL ``gdalwarp`` chain)."""

    def __init__(self, bands: int, shape: tuple[int, int]):
        super().__init__(bands, shape)
        self._out = np.full((bands,) + tuple(shape), np.nan, np.float32)

    def feed(self, values: np.ndarray, weight: np.ndarray) -> None:
        use = (weight > 0) & np.isfinite(values).all(axis=0)
        self._out[:, use] = values[:, use]

    def result(self) -> np.ndarray:
        return self._out


#: The rule of each merge method named in :data:`mosaic.params.MERGE_METHODS` (``mosaic build --method``).
MERGE_METHODS = MappingProxyType({"blend": WeightedBlend, "last": LastValid})
