"""Raw layout of L2A products (band_source / mask_source / aot_source): stored values read through the sources
agree with the reader's reads; resampled and missing rasters are told apart; the base class has no raw layout."""

import os
import warnings

import numpy as np
import pytest
import rasterio

from l2a import open_l2a
from l2a.constants import REFLECTANCE_NODATA
from l2a.errors import (
    BandNotFoundError,
    IncompleteProductWarning,
    InvalidParameterError,
)
from l2a.product import L2AProduct, RasterSource
from l2a.sensors import band_resolution

from .conftest import small_grids, write_bare_product

NAME = "SENTINEL2B_20200101-101010-123_L2A_T31TCJ_C_V2-2"


def quiet_open(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IncompleteProductWarning)
        return open_l2a(path)


def read_source(src: RasterSource) -> np.ndarray:
    with rasterio.open(src.path) as ds:
        return ds.read(src.index)


def test_theia_band_sources_hold_what_read_band_returns(written_product):
    folder, content = written_product
    p = open_l2a(folder)
    for band in p.bands:
        src = p.band_source(band)
        res = band_resolution(band)
        assert src == RasterSource(src.path, 1, res, 10000.0, 0.0, -10000.0)
        assert os.path.basename(src.path).endswith(f"_FRE_{band}.tif")
        stored = read_source(src)
        np.testing.assert_array_equal(stored, content.bands[band])
        edge = content.truth[res]["nodata"]
        np.testing.assert_array_equal(p.read_band(band), np.where(edge, REFLECTANCE_NODATA, stored))
    assert p.band_source("B02") == p.band_source("B2")
    with pytest.raises(BandNotFoundError):
        p.band_source("B1")


def test_theia_mask_and_aot_sources(written_product):
    folder, content = written_product
    p = open_l2a(folder)
    assert p.mask_kinds == ("CLM", "MG2", "EDG", "SAT")
    for res in ("R1", "R2"):
        for kind in p.mask_kinds:
            src = p.mask_source(kind, res)
            assert (src.index, src.res, src.quantification, src.add_offset, src.nodata) == (1, res, 1.0, 0.0, None)
            assert os.path.basename(src.path).endswith(f"_{kind}_{res}.tif")
            np.testing.assert_array_equal(read_source(src), content.masks[kind, res])
        aot = p.aot_source(res)
        assert (aot.index, aot.res, aot.quantification, aot.add_offset, aot.nodata) == (2, res, 200.0, 0.0, 0.0)
        dn = read_source(aot)
        np.testing.assert_array_equal(dn, content.atb[res][1])
        valid = (dn != aot.nodata) & ~content.truth[res]["nodata"]
        np.testing.assert_allclose(p.read_aot(res=res)[valid], (dn / aot.quantification)[valid], rtol=1e-6)
    assert p.mask_source("SCL", "R1") is None
    with pytest.raises(InvalidParameterError):
        p.mask_source("CLM", "R3")
    with pytest.raises(InvalidParameterError):
        p.aot_source("R3")


def test_theia_sources_of_the_other_group_or_none(product_copy):
    folder, _ = product_copy
    for pattern in ("MASKS/*_CLM_R2.tif", "MASKS/*_SAT_R1.tif", "MASKS/*_SAT_R2.tif", "*_ATB_R2.tif"):
        os.remove(next(folder.glob(pattern)))
    p = quiet_open(folder)
    assert p.mask_source("CLM", "R2").res == "R1"      # read_masks resamples CLM_R1
    assert p.mask_source("CLM", "R1").res == "R1"
    assert p.mask_source("SAT", "R1") is None and p.mask_source("SAT", "R2") is None
    assert p.aot_source("R2").res == "R1" and p.aot_source("R2").index == 2
    os.remove(next(folder.glob("*_ATB_R1.tif")))
    p = quiet_open(folder)
    assert not p.has_aot and p.aot_source("R1") is None and p.aot_source("R2") is None


def test_theia_float_and_stack_sources(tmp_path):
    grids = small_grids(8, 10)
    rng = np.random.default_rng(5)
    refl = rng.uniform(0.0, 0.6, grids["R1"].shape).astype(np.float32)
    dn = rng.integers(0, 5000, grids["R2"].shape).astype(np.float32)
    p = quiet_open(write_bare_product(tmp_path, NAME, grids, {"FRE_B2": refl, "FRE_B5": dn}))
    assert p.band_source("B2").quantification == 1.0       # reflectance 0-1
    assert p.band_source("B5").quantification == 10000.0   # floats holding DN
    assert p.band_source("B2").nodata is None

    stack = rng.integers(1, 5000, (2,) + grids["R1"].shape).astype(np.int16)
    p = quiet_open(write_bare_product(tmp_path / "stack", NAME, grids, {"FRE_STACK": stack}))
    b3 = p.band_source("B3")
    assert (os.path.basename(b3.path), b3.index, b3.res) == (f"{NAME}_FRE_STACK.tif", 2, "R1")


class _Bare(L2AProduct):
    """A product without raw layout (only the abstract reads)."""

    def read_band(self, name, window=None):
        raise NotImplementedError

    def read_masks(self, res="R1", window=None):
        raise NotImplementedError

    has_aot = False

    def read_aot(self, window=None, res="R1"):
        raise NotImplementedError


def test_base_product_has_no_raw_layout(written_product):
    folder, _ = written_product
    p = open_l2a(folder)
    bare = _Bare(folder, platform=p.platform, tile=p.tile, datetime=p.datetime, crs=p.crs, grids=p.grids,
                 bands=("B2",))
    assert bare.mask_kinds == ()
    assert bare.band_source("B2") is None and bare.mask_source("CLM", "R2") is None and bare.aot_source() is None
    with pytest.raises(BandNotFoundError):
        bare.band_source("B5")
    with pytest.raises(InvalidParameterError):
        bare.mask_source("CLM", "R9")
