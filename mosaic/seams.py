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

The index is built from sums of absolute differences and pair counts (:class:`SeamSums`), additive over pairs:
:func:`seam_sums` adds the pairs of some rows of a grid, :func:`seam_index_from_sums` turns the totals into a
:class:`SeamIndex`. :func:`seam_index_np` is the computation on a whole grid held in memory (the reference);
:func:`seam_index_strips` streams a grid by strips of rows and gives the same result (the same pair counts, the same
sums up to the order of the floating-point additions: exactly the same on integer reflectances). Each vertical pair
belongs to the strip of its upper pixel, each horizontal pair to the strip of its row; boundaries and the distances
to them (``margin_px``) are computed on the strip plus ``margin_px + 1`` rows above and below (a distance below
``margin_px + 1`` comes from a pixel at most that many rows away; the one row more is the lower pixel of the strip's
last vertical pairs and the neighbours that make a pixel a boundary), rows read once and carried to the next strip.

:func:`mosaic_seam_index` reads a ``mosaic build`` output (``mosaic.tif``, or a national mosaic's ``mosaic.vrt`` over
its COG tiles) by strips of rows, with the L3A products it came from: the coverage sets of a strip come from each
product's FLG, the window of it under the strip only, taken with nearest neighbour (:func:`coverage_bits`, which gives
any strip the pixels of the whole grid); products whose footprint misses the strip are not read. Memory is flat with
the mosaic's height: about ``(strip_rows + 2 (margin_px + 1)) x width x (4 bands + 60)`` bytes (float32
reflectances, the uint64 coverage bits, the distance transforms and the float64 differences of one band), plus the
FLG lookups of one product over :data:`_LOOKUP_ROWS` rows of its footprint.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from l2a.constants import REFLECTANCE_NODATA
from l2a.grid import Grid

from .flags import FLG_SNOW

__all__ = ["SeamIndex", "SeamSums", "seam_index_np", "seam_sums", "seam_index_from_sums", "seam_index_strips",
           "mosaic_seam_index", "coverage_bits", "DEFAULT_STRIP_ROWS"]

#: Rows of a strip of :func:`mosaic_seam_index`: a multiple of the mosaic's 512-pixel blocks (each block row is read
#: and decoded once); ~2.6 GB for a 100,000-pixel-wide mosaic of 10 bands.
DEFAULT_STRIP_ROWS = 512
#: Name of a national mosaic's VRT over its COG tiles, read when a folder has no ``mosaic.tif``. Hard-coded: the
#: ``vrt`` entry of :data:`mosaic.build.OUTPUT_FILES` has the same name but is the true-colour view of ``mosaic.tif``.
_NATIONAL_VRT = "mosaic.vrt"
#: Pixels added around a product's footprint on the mosaic grid.
_PAD = 3
#: Rows and columns of the mosaic grid between the pixel centres projected exactly onto a product's grid, bilinear in
#: between: the curvature of the projections leaves ~1e-4 source pixel at 300 m, ~1e-6 at 10 m (Lambert-93 / UTM).
_LATTICE = 16
#: Rows of the mosaic looked up in a product at once (float64 source coordinates of that many rows x its footprint).
_LOOKUP_ROWS = 256
_KINDS = ("boundary", "interior", "edge")


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


@dataclass
class SeamSums:
    """Sums of absolute neighbour differences (all bands) and pair counts, by pair kind (``boundary``, ``interior``,
    ``edge``) and direction (axis 0: vertical pairs, 1: horizontal); additive over pairs.

    Attributes
    ----------
    bands : int
        Number of bands (0 until pairs are added).
    sums : dict (kind, axis) -> float
    counts : dict (kind, axis) -> int
    """

    bands: int = 0
    sums: dict = field(default_factory=lambda: {(k, a): 0.0 for k in _KINDS for a in (0, 1)})
    counts: dict = field(default_factory=lambda: {(k, a): 0 for k in _KINDS for a in (0, 1)})


def _pairs(a: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    if axis == 0:
        return a[..., :-1, :], a[..., 1:, :]
    return a[..., :, :-1], a[..., :, 1:]


def seam_sums(values: np.ndarray, coverage: np.ndarray, margin_px: int = 3, rows: tuple[int, int] | None = None,
              into: SeamSums | None = None) -> SeamSums:
    """Add the neighbour pairs of some rows of a grid (or of the whole grid) to the seam sums.

    Parameters
    ----------
    values : float (bands, rows, cols)
        Reflectance x10000, NaN where the mosaic is not valid: the whole grid or rows of it.
    coverage : uint64 (rows, cols)
        Bit ``i`` set where tile ``i`` has valid data (0: no tile).
    margin_px : int
        Smallest distance from interior pairs to a boundary, pixels.
    rows : (r0, r1), optional
        Rows of the arrays whose pairs are added: the horizontal pairs of rows ``r0`` to ``r1 - 1`` and the vertical
        pairs whose upper pixel is in them (their lower pixel must be in the arrays unless it is past the grid's last
        row). Boundaries and distances are computed on the whole arrays: they are those of the grid for rows ``r0`` to
        ``r1`` when the arrays hold ``margin_px + 1`` rows of the grid above ``r0`` and below ``r1 - 1`` (or all rows up
        to the grid's edge). None: every row (the arrays are the whole grid).
    into : SeamSums, optional
        Sums to add to (in place); a new one by default.

    Returns
    -------
    SeamSums
        ``into``, or the new sums.
    """
    if values.ndim != 3 or values.shape[1:] != coverage.shape:
        raise ValueError(f"values {values.shape} and coverage {coverage.shape} do not match")
    r0, r1 = (0, coverage.shape[0]) if rows is None else rows
    if not 0 <= r0 <= r1 <= coverage.shape[0]:
        raise ValueError(f"rows {rows} are not rows of arrays of {coverage.shape[0]} rows")
    out = SeamSums() if into is None else into
    out.bands = values.shape[0]
    valid = np.isfinite(values).all(axis=0) & (coverage != 0)
    boundary_px = np.zeros(coverage.shape, bool)
    for axis in (0, 1):
        ca, cb = _pairs(coverage, axis)
        change = ca != cb
        pa, pb = _pairs(boundary_px, axis)
        pa |= change
        pb |= change
    cov = coverage.astype(np.uint64, copy=False)
    single = (cov != 0) & ((cov & (cov - np.uint64(1))) == 0)  # one bit set: a power of two
    # no boundary (or no pixel without data): nothing to be near. scipy would measure from a phantom pixel outside
    far = ndimage.distance_transform_edt(~boundary_px) >= margin_px if boundary_px.any() else np.ones_like(valid)
    interior_px = single & far
    del far, boundary_px, single
    # away from the outline and shared holes
    inland = ndimage.distance_transform_edt(valid) > margin_px if not valid.all() else np.ones_like(valid)
    for axis in (0, 1):
        # the pairs of rows r0..r1-1; a vertical pair also takes its lower pixel, in row r1
        rs = slice(r0, min(r1 + 1, coverage.shape[0]) if axis == 0 else r1)
        ca, cb = _pairs(coverage[rs], axis)
        va, vb = _pairs(valid[rs], axis)
        ia, ib = _pairs(interior_px[rs], axis)
        la, lb = _pairs(inland[rs], axis)
        both = va & vb
        crossing = both & (ca != cb)
        sels = [(name, sel) for name, sel in (("boundary", crossing & la & lb), ("edge", crossing & ~(la & lb)),
                                              ("interior", both & ia & ib)) if sel.any()]
        for name, sel in sels:
            out.counts[(name, axis)] += int(sel.sum())
        for band in range(values.shape[0]):      # one band at a time: float64 differences of one band in memory
            xa, xb = _pairs(values[band, rs], axis)
            diff = np.abs(xa.astype(np.float64) - xb)
            for name, sel in sels:
                out.sums[(name, axis)] += float(diff[sel].sum())
    return out


def seam_index_from_sums(sums: SeamSums) -> SeamIndex:
    """The seam index of the pairs summed."""
    nb = max(sums.bands, 1)
    s, counts = sums.sums, sums.counts

    def mad(name, axes=(0, 1)):
        n = sum(counts[(name, a)] for a in axes)
        return sum(s[(name, a)] for a in axes) / (n * nb) if n else float("nan")

    def index(kinds):
        # each boundary pair is compared with interior pairs of the same direction, then weighted by its count
        parts = []
        for a in (0, 1):
            n = sum(counts[(k, a)] for k in kinds)
            if n and counts[("interior", a)]:
                boundary = sum(s[(k, a)] for k in kinds) / (n * nb)
                parts.append((n, boundary / mad("interior", (a,))))
        total = sum(n for n, _ in parts)
        return sum(n * r for n, r in parts) / total if total else float("nan")

    return SeamIndex(index(("boundary",)), mad("boundary"), mad("interior"),
                     sum(counts[("boundary", a)] for a in (0, 1)), sum(counts[("interior", a)] for a in (0, 1)),
                     index(("boundary", "edge")), sum(counts[("edge", a)] for a in (0, 1)))


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
    return seam_index_from_sums(seam_sums(values, coverage, margin_px))


#: ``read(r0, r1, values, coverage)``: fill ``values`` (float32 bands x (r1 - r0) x cols, NaN where not valid) and
#: ``coverage`` (uint64 (r1 - r0) x cols, zeros on entry) with rows ``r0`` to ``r1 - 1`` of the grid.
StripReader = Callable[[int, int, np.ndarray, np.ndarray], None]


def seam_index_strips(read: StripReader, shape: tuple[int, int, int], margin_px: int = 3,
                      strip_rows: int = DEFAULT_STRIP_ROWS) -> SeamIndex:
    """Seam index of a grid read by strips of rows: :func:`seam_index_np` of the whole grid, holding
    ``strip_rows + 2 (margin_px + 1)`` rows at a time.

    Parameters
    ----------
    read : StripReader
        Called on consecutive row ranges (``strip_rows`` rows each, fewer at the end), each row once.
    shape : (bands, rows, cols)
        The grid's.
    margin_px : int
    strip_rows : int
        Rows read at once (>= 1).
    """
    if strip_rows < 1:
        raise ValueError(f"strip_rows must be >= 1, not {strip_rows}")
    if margin_px < 0:
        raise ValueError(f"margin_px must be >= 0, not {margin_px}")
    bands, height, width = shape
    halo = margin_px + 1
    total = SeamSums(bands=bands)
    # rows [start, end) of the grid are held in rows [0, end - start) of the buffers; pairs of rows < done are summed
    values = np.empty((bands, min(strip_rows + 2 * halo, height), width), np.float32)
    coverage = np.empty(values.shape[1:], np.uint64)
    start = done = end = 0
    while end < height:
        new_end = min(end + strip_rows, height)
        n0, n1 = end - start, new_end - start
        coverage[n0:n1] = 0
        read(end, new_end, values[:, n0:n1], coverage[n0:n1])
        end = new_end
        core_end = end if end == height else end - halo   # the rows with margin_px + 1 rows read below them
        if core_end <= done:                               # only at the top, strips thinner than the halo
            continue
        seam_sums(values[:, :n1], coverage[:n1], margin_px, (done - start, core_end - start), total)
        done = core_end
        keep = max(start, done - halo)                     # the halo above the next strip, and its first rows
        values[:, :end - keep] = values[:, keep - start:n1]
        coverage[:end - keep] = coverage[keep - start:n1]
        start = keep
    return seam_index_from_sums(total)


class _Coverage:
    """Coverage bits of rows of a grid, from the products' FLG (see :func:`coverage_bits`)."""

    def __init__(self, products: Sequence, grid: Grid, res: str = "R1"):
        from rasterio.warp import transform_bounds

        if len(products) > 64:
            raise ValueError(f"coverage_bits handles up to 64 products, not {len(products)}")
        self.products, self.grid, self.res = list(products), grid, res
        # the grid pixels a product can cover (its frame projected, padded): the only ones looked at
        self.footprints = [grid.window_covering(transform_bounds(p.crs, grid.crs, *p.grids[res].bounds,
                                                                 densify_pts=21), pad=_PAD) for p in self.products]

    def _source_pixels(self, product, rows: tuple[int, int], cols: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Where the centres of grid pixels ``rows`` x ``cols`` fall on the product's grid (float64 pixel row and
        column): projected exactly on the lattice of every :data:`_LATTICE`-th row and column of the grid (anchored
        at its first pixel, so the same for every window), bilinear in between, each pixel by the same operations."""
        from rasterio.warp import transform

        (a, b), (c0, c1), k = rows, cols, _LATTICE
        i = np.arange(a // k, (b - 1) // k + 2)
        j = np.arange(c0 // k, (c1 - 1) // k + 2)
        jj, ii = np.meshgrid(j * k + 0.5, i * k + 0.5)
        xs, ys = self.grid.transform * (jj.ravel(), ii.ravel())
        sx, sy = transform(self.grid.crs, product.crs, xs, ys)
        col, row = ~product.grids[self.res].transform * (np.asarray(sx), np.asarray(sy))
        r, c = np.arange(a, b), np.arange(c0, c1)
        ir, fr = r // k - i[0], ((r % k) / k)[:, None]
        jc, fc = c // k - j[0], ((c % k) / k)[None, :]

        def bilinear(node: np.ndarray) -> np.ndarray:
            node = node.reshape(len(i), len(j))
            top, bottom = node[ir], node[ir + 1]
            line = top + fr * (bottom - top)
            left, right = line[:, jc], line[:, jc + 1]
            return left + fc * (right - left)

        return bilinear(row), bilinear(col)

    def rows(self, r0: int, r1: int, out: np.ndarray | None = None) -> np.ndarray:
        """uint64 (r1 - r0, cols): bit ``i`` set where product ``i`` has valid data (FLG 2-4); ORed into ``out``."""
        from rasterio.windows import Window

        bits = np.zeros((r1 - r0, self.grid.width), np.uint64) if out is None else out
        for i, (p, fp) in enumerate(zip(self.products, self.footprints)):
            if fp is None:
                continue
            c0, c1 = fp.col_off, fp.col_off + fp.width
            height, width = p.grids[self.res].shape
            bit = np.uint64(1) << np.uint64(i)
            # the footprint's part of these rows (none: the product is not read), a block of rows at a time
            for a in range(max(r0, fp.row_off), min(r1, fp.row_off + fp.height), _LOOKUP_ROWS):
                b = min(a + _LOOKUP_ROWS, r1, fp.row_off + fp.height)
                row, col = self._source_pixels(p, (a, b), (c0, c1))
                inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
                if not inside.any():
                    continue
                ri, ci = np.floor(row[inside]).astype(np.intp), np.floor(col[inside]).astype(np.intp)
                del row, col
                top, left = int(ri.min()), int(ci.min())
                flg = p.read_mask("FLG", self.res, Window(left, top, int(ci.max()) - left + 1, int(ri.max()) - top + 1))
                covered = np.zeros(inside.shape, bool)
                covered[inside] = flg[ri - top, ci - left] >= FLG_SNOW
                bits[a - r0:b - r0, c0:c1][covered] |= bit
        return bits


def coverage_bits(products: Sequence, crs, transform, shape: tuple[int, int], res: str = "R1",
                  rows: tuple[int, int] | None = None) -> np.ndarray:
    """Which products have valid data (FLG 2-4) at each pixel of a grid, or of some rows of it.

    Nearest neighbour: a grid pixel takes the FLG of the product pixel holding its centre. The centres are projected
    exactly every :data:`_LATTICE` rows and columns of the grid and bilinearly in between (~1e-4 source pixel off at
    300 m, less at finer pixels), the same way for any rows asked, so that strips of the grid get the bits of the whole
    grid. GDAL's warper does not: with its approximate transformer (up to 0.125 source pixel off) and its chunking of
    the destination, pixels whose centre is within a few hundredths of a pixel of a product pixel's edge change with
    the destination window warped. Only the FLG windows under the rows asked are read.

    Parameters
    ----------
    products : sequence of L3AProduct (at most 64)
    crs, transform, shape : the grid
    res : resolution group of the FLG read
    rows : (r0, r1), optional
        Rows of the grid wanted; None: all.

    Returns
    -------
    uint64 (rows, cols): bit ``i`` set for product ``i``.
    """
    grid = Grid(transform, shape[0], shape[1], crs)
    r0, r1 = (0, shape[0]) if rows is None else rows
    return _Coverage(products, grid, res).rows(r0, r1)


def _mosaic_path(mosaic: str | os.PathLike) -> Path:
    from .build import OUTPUT_FILES

    path = Path(mosaic)
    if path.is_dir():
        tif = path / OUTPUT_FILES["mosaic"]
        path = tif if tif.exists() else path / _NATIONAL_VRT
    return path


def mosaic_seam_index(mosaic: str | os.PathLike, inputs: Sequence[str | os.PathLike],
                      bands: Sequence[str] | None = None, margin_px: int = 3,
                      strip_rows: int = DEFAULT_STRIP_ROWS) -> SeamIndex:
    """Seam index of a mosaic against its L3A products, read by strips of ``strip_rows`` rows.

    Parameters
    ----------
    mosaic : path
        ``mosaic.tif`` of ``mosaic build``, a national mosaic's ``mosaic.vrt`` over its COG tiles, or their folder
        (``mosaic.tif`` when present, else ``mosaic.vrt``).
    inputs : paths
        The L3A products (or folders of them) the mosaic was made of.
    bands : band names, optional
        Bands compared (the mosaic's band descriptions); all by default.
    margin_px : int
        Smallest distance from interior pairs to a boundary, pixels.
    strip_rows : int
        Rows read at once: memory is about ``(strip_rows + 2 margin_px + 2) x width x (4 bands + 60)`` bytes.
    """
    import rasterio
    from rasterio.windows import Window

    from .sources import find_inputs, open_inputs

    path = _mosaic_path(mosaic)
    products = open_inputs(find_inputs(inputs))
    with rasterio.open(path) as ds:
        names = list(ds.descriptions)
        index = [names.index(b) + 1 for b in bands] if bands else list(range(1, ds.count + 1))
        grid = Grid(ds.transform, ds.height, ds.width, ds.crs)
        cover = _Coverage(products, grid)

        def read(r0: int, r1: int, values: np.ndarray, coverage: np.ndarray) -> None:
            window = Window(0, r0, ds.width, r1 - r0)
            ds.read(index, window=window, out=values)
            values[:, ds.read_masks(1, window=window) == 0] = np.nan
            values[values <= REFLECTANCE_NODATA] = np.nan
            cover.rows(r0, r1, out=coverage)

        return seam_index_strips(read, (len(index), ds.height, ds.width), margin_px, strip_rows)
