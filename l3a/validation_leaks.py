"""Cloud and shadow leaks of a synthesis: which truly cloudy observations it averaged into land pixels, and how much.

The weight each used date got at each pixel is recomputed from the L2A products' own (detected) masks, with the
product's recorded :class:`~l3a.params.CompositeParams`, by the very functions :func:`l3a.compose` runs:
:func:`l3a.inputs.select_inputs` and :func:`l3a.inputs.prepare_grids` (coarse W_cloud and W_edge grids of the whole
tile), then the per-date block preparation of :mod:`l3a.compose` (:func:`~l3a.kernels.prepare_date_block`: class,
W_cloud x W_edge x W_aot x W_date per pixel). then, when the synthesis ran it, its multi-temporal outlier test
(:func:`l3a.compose.screen_block`, which reads the BRDF-normalised reflectance of every date: only then are the
c-factors computed, since they change the reflectance, never the weight). :class:`SynthesisWeights` checks itself against the product: over land pixels,
``round(1000 x sum of the land observations' weights)`` must be the product's WGT (``wgt_match``).

Leak of a land pixel (FLG 4): the synthesis averaged into it, with a weight share above ``share_min`` (5 %), an
observation it took as clear land while the truth has cloud there (``cloud >= 1``: thin clouds count, since a thin
cloud of optical thickness 0.05-1 still brightens the blue by 0.005-0.05, the size of the target itself) or cloud
shadow (``shadow >= 1``). The weight share of a date is its weight over the sum of the weights of the pixel's land
observations (1 / count when they sum to 0, as the kernel's plain mean). The leak *rate* is the fraction of land
pixels with at least one leak.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np
from rasterio.windows import Window

from l2a.formats.theia.raw import RawReader
from l2a.sensors import band_resolution

from . import weights
from .flags import FLG_LAND
from .inputs import mask_resolution, prepare_grids, select_inputs
from .kernels.compose import WGT_MAX
from .params import CompositeParams
from .product import L3AProduct

__all__ = ["SynthesisWeights", "LeakCounter"]


class SynthesisWeights:
    """Per-date weight and class the synthesis gave each pixel, recomputed from its L2A inputs (see the module).

    Parameters
    ----------
    paths : sequence of Path
        The used L2A products (:func:`l3a.validation_truth.locate_inputs`).
    product : L3AProduct
        The synthesis (tile, central date, bands, grids).
    params : CompositeParams
        Its recorded parameters.
    order : sequence of str
        Product ids in the order the caller stacks dates (the truth acquisitions'); :meth:`block` returns dates in
        this order.

    Raises
    ------
    MetadataError
        When the products selected again are not exactly the ``order`` ones.
    """

    def __init__(self, paths: Sequence[Path], product: L3AProduct, params: CompositeParams, order: Sequence[str]):
        from l2a.errors import MetadataError

        from .compose import date_grids_of  # the synthesis' own per-date preparation

        self.params = params
        kept, _ = select_inputs(paths, product.tile, product.central_date, params)
        ids = [s.product.product_id for s in kept]
        if sorted(ids) != sorted(order):
            raise MetadataError(f"the L2A products found ({len(ids)}) are not the {len(order)} inputs the synthesis "
                                f"used", product.path)
        self._bands = {res: tuple(b for b in product.bands if band_resolution(b) == res) for res in product.grids}
        # c-factors change reflectance, not weights, and are only needed when the outlier test reads reflectance
        grid_params = params if params.outlier_test else dataclasses.replace(params, brdf=False)
        grid_bands = tuple(b for bs in self._bands.values() for b in bs) if params.outlier_test else ()
        for s in kept:
            if not prepare_grids(s, grid_bands, grid_params):
                raise MetadataError(f"used input {s.product.product_id} has no valid pixel", s.product.path)
        self.kept = kept
        #: position in the kept (acquisition) order of each date of ``order``
        self.position = np.array([ids.index(pid) for pid in order], dtype=np.intp)
        ref = kept[0].product
        mask_grid = ref.grid(mask_resolution(ref))
        cell = weights.coarse_factor(mask_grid.resolution, params.coarse_resolution_m) * mask_grid.resolution
        self._grids = {res: [date_grids_of(s, bands, cell) for s in kept] for res, bands in self._bands.items()}
        self._pixel = {res: ref.grid(res).resolution for res in product.grids}
        self._readers: dict[str, list[RawReader]] = {}

    def block(self, res: str, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Weights and classes of every used date in a window of one resolution group.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            float32 (dates, rows, cols) weight W and uint8 (dates, rows, cols) observation class (FLG codes: 0 not
            observed, 1 cloud or shadow, 2 snow, 3 water, 4 land), dates in acquisition order (``self.kept``).
        """
        from .compose import load_date, screen_block

        bands = self._bands[res]
        shape = (int(window.height), int(window.width))
        n = len(self.kept)
        weight = np.empty((n,) + shape, np.float32)
        obs_class = np.empty((n,) + shape, np.uint8)
        # every date's reflectance when the outlier test compares them, one date's at a time otherwise
        screened = self.params.outlier_test
        refl = np.empty(((n if screened else 1), len(bands)) + shape, np.float32)
        if res not in self._readers:
            self._readers[res] = [RawReader(s.product, res, bands) for s in self.kept]
        for d, s in enumerate(self.kept):
            load_date(self._readers[res][d], s, self._grids[res][d], window, self._pixel[res], self.params,
                      refl[d if screened else 0], weight[d], obs_class[d])
        screen_block(refl, obs_class, bands, self.params)  # the synthesis' multi-temporal outlier test, if on
        return weight, obs_class

    def close(self) -> None:
        """Close the L2A rasters opened by :meth:`block`."""
        for readers in self._readers.values():
            for reader in readers:
                reader.close()
        self._readers.clear()


class LeakCounter:
    """Accumulates the leak figures of one resolution group block by block (see the module docstring).

    Parameters
    ----------
    share_min : float
        Weight share above which a truly cloudy observation counts as a leak (0-1; 0.05).
    """

    def __init__(self, share_min: float):
        self.share_min = share_min
        self.land = 0
        self.leaks = 0
        self.by_kind = {"opaque": 0, "thin": 0, "shadow": 0}
        self.wgt_checked = 0
        self.wgt_match = 0
        self.max_share = 0.0

    def add(self, weight: np.ndarray, obs_class: np.ndarray, position: np.ndarray, cloud: np.ndarray,
            shadow: np.ndarray, flg: np.ndarray, wgt: np.ndarray) -> None:
        """Count one block.

        Parameters
        ----------
        weight, obs_class : numpy.ndarray
            float32 and uint8 (dates, rows, cols) from :meth:`SynthesisWeights.block` (acquisition order).
        position : numpy.ndarray
            intp (dates,): for each date of ``cloud`` and ``shadow``, its index in ``weight``.
        cloud, shadow : numpy.ndarray
            uint8 (dates, rows, cols), the truth's cloud (0 clear, 1 thin, 2 opaque) and shadow (0, 1) codes.
        flg, wgt : numpy.ndarray
            uint8 and int16 (rows, cols), the product's FLG and WGT.
        """
        land_obs = obs_class == FLG_LAND
        w = weight.astype(np.float64)
        w = np.where(land_obs & (w > 0.0) & (w < np.inf), w, 0.0)
        total = np.zeros(flg.shape, np.float64)
        for d in range(w.shape[0]):  # in acquisition order, as the kernel sums
            total += w[d]
        n_land = land_obs.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0.0, w / total, np.where(land_obs, 1.0 / np.maximum(n_land, 1), 0.0))
        share = share[position]
        taken = land_obs[position] & (share > self.share_min)
        land = flg == FLG_LAND
        self.land += int(land.sum())
        cloudy = (cloud >= 1) | (shadow >= 1)
        self.leaks += int(((taken & cloudy).any(axis=0) & land).sum())
        for kind, where in (("opaque", cloud >= 2), ("thin", cloud == 1), ("shadow", shadow >= 1)):
            self.by_kind[kind] += int(((taken & where).any(axis=0) & land).sum())
        if land.any():
            leaked_share = np.where(cloudy, share, 0.0).max(axis=0)[land]
            self.max_share = max(self.max_share, float(leaked_share.max()))
            expected = np.floor(np.minimum(1000.0 * total, float(WGT_MAX)) + 0.5)
            self.wgt_checked += int(land.sum())
            self.wgt_match += int((expected[land] == wgt[land]).sum())

    def result(self) -> dict:
        """JSON-ready: ``land_pixels``, ``leak_pixels``, ``rate`` (fraction of land pixels), ``by_kind`` (pixels
        with an opaque-cloud, thin-cloud or shadow leak; a pixel may count in several), ``max_share`` (largest weight
        share of a truly cloudy observation in a land pixel, 0-1), ``wgt_match`` (fraction of land pixels whose
        recomputed weights give the product's WGT: 1 when the weights are those of the synthesis)."""
        return {"land_pixels": self.land, "leak_pixels": self.leaks,
                "rate": self.leaks / self.land if self.land else None, "share_min": self.share_min,
                "by_kind": dict(self.by_kind), "max_share": round(self.max_share, 4),
                "wgt_match": self.wgt_match / self.wgt_checked if self.wgt_checked else None}
