"""The BRDF model (Roy et al. 2016): kernel values, symmetry, magnitudes, the numba kernels against their numpy twin,
and the simulator's use of the same coefficients."""

import math

import numpy as np
import pytest

from l2a.errors import BandNotFoundError
from l2a.brdf import (
    BRDF_COEFFICIENTS,
    c_factor,
    kernels,
    kernels_ref,
    li_sparse_r,
    model_reflectance,
    relative_azimuth,
    ross_thick,
)
from l2a.simulate.atmosphere import BAND_CONSTANTS, C_GEO, C_ISO, C_VOL


def test_kernels_at_nadir_nadir_are_zero():
    # Ross-Thick: xi = 0 -> (pi/2) / 2 - pi/4 = 0; Li-Sparse-R: D = 0, t = pi/2, O = 1 -> 1 - 2 + 1 = 0
    for raa in (0.0, 90.0, 180.0):
        assert ross_thick(0.0, 0.0, raa) == pytest.approx(0.0, abs=1e-7)
        assert li_sparse_r(0.0, 0.0, raa) == pytest.approx(0.0, abs=1e-7)
    assert model_reflectance("B4", 0.0, 0.0, 0.0) == pytest.approx(BRDF_COEFFICIENTS["B4"][0])


def test_kernel_values_by_hand():
    # sza 45, vza 0 (raa irrelevant): xi = 45 deg
    c = math.cos(math.radians(45))
    k_vol = ((math.pi / 2 - math.pi / 4) * c + c) / (c + 1) - math.pi / 4
    assert ross_thick(45.0, 0.0, 0.0) == pytest.approx(k_vol, abs=1e-6)  # -0.0459
    # Li-Sparse-R: tan = 1, D = 1, sec = sqrt 2 and 1, cos t = 2 * 1 / (sqrt 2 + 1)
    sec_sum = math.sqrt(2) + 1
    t = math.acos(2 / sec_sum)
    overlap = (t - math.sin(t) * math.cos(t)) * sec_sum / math.pi
    k_geo = overlap - sec_sum + 0.5 * (1 + c) * math.sqrt(2)
    assert li_sparse_r(45.0, 0.0, 123.0) == pytest.approx(k_geo, abs=1e-6)  # -1.107
    assert k_geo == pytest.approx(-1.107, abs=1e-3)


def test_li_sparse_overlap_is_clipped_at_large_angles():
    # cos t > 1 before clipping (wide angles, h/b = 2): t = 0, no overlap
    value = li_sparse_r(60.0, 60.0, 180.0)
    sec = 2.0
    assert value == pytest.approx(-2 * sec + 0.5 * (1 + math.cos(math.radians(120))) * sec * sec, abs=1e-6)


def test_kernels_are_reciprocal():
    rng = np.random.default_rng(0)
    sza, vza, raa = rng.uniform(0, 70, 200), rng.uniform(0, 15, 200), rng.uniform(0, 180, 200)
    np.testing.assert_allclose(ross_thick(sza, vza, raa), ross_thick(vza, sza, raa), atol=1e-6)
    np.testing.assert_allclose(li_sparse_r(sza, vza, raa), li_sparse_r(vza, sza, raa), atol=1e-6)


def test_relative_azimuth_folds_to_0_180():
    got = relative_azimuth(np.array([150.0, 10.0, 350.0, 100.0]), np.array([100.0, 350.0, 10.0, 280.0]))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [50.0, 20.0, 20.0, 180.0])
    # only cos(raa) matters
    assert c_factor("B4", 35, 10, -60) == pytest.approx(c_factor("B4", 35, 10, 60))


def test_c_factor_is_one_at_nadir_view():
    sza = np.linspace(0, 70, 15)
    np.testing.assert_array_equal(c_factor("B8A", sza, 0.0, 77.0), np.float32(1.0))


def test_red_c_factor_magnitude_at_sza_35():
    # reference-wasp.md section 6.3: 0.94-1.05 with the kernels assigned as in Roy et al. (h/b = 2)
    raa = np.linspace(0, 180, 37)
    c = c_factor("B4", 35.0, 10.0, raa)
    assert c.dtype == np.float32
    assert c.min() == pytest.approx(0.94, abs=0.01) and c.max() == pytest.approx(1.05, abs=0.01)
    assert c[0] < 1 < c[-1]  # backscatter looks brighter than nadir, forward scatter darker
    assert np.all(np.diff(c) > 0)


def test_c_factor_bands_and_nan():
    assert c_factor("B08", 30, 8, 30) == c_factor("B8A", 30, 8, 30)  # B8 and B8A share coefficients
    assert c_factor("B2", 30, 8, 30) != c_factor("B4", 30, 8, 30)
    assert c_factor("B4", np.nan, 8, 30) == 1.0  # no angle: no correction
    with pytest.raises(BandNotFoundError):
        c_factor("B1", 30, 8, 30)


def test_numba_kernels_match_their_numpy_twin():
    rng = np.random.default_rng(1)
    sza, vza, raa = np.radians(rng.uniform(0, 75, 300)), np.radians(rng.uniform(0, 15, 300)), rng.uniform(-4, 4, 300)
    got = np.array([kernels(*a) for a in zip(sza, vza, raa)])
    np.testing.assert_allclose(got, np.stack(kernels_ref(sza, vza, raa), axis=1), rtol=1e-12, atol=1e-14)
    assert kernels(0.0, 0.0, 1.0) == pytest.approx((0.0, 0.0), abs=1e-12)


def test_simulator_reference_columns_are_roys_coefficients():
    # the simulator renders each land cover with its own weights (l2a.simulate.surface_brdf), as multipliers of these
    # reference columns, which hold Roy's global values once (tests/l2a/test_simulate_honest.py checks the covers
    # differ from them). BAND_CONSTANTS rows in ESA order (B1..B12 with B8A); B1 as B2, B9 as B8A, B10 as B11
    rows = {"B2": 1, "B3": 2, "B4": 3, "B5": 4, "B6": 5, "B7": 6, "B8": 7, "B8A": 8, "B11": 11, "B12": 12}
    for band, row in rows.items():
        k = BAND_CONSTANTS[row]
        assert (k[C_ISO], k[C_GEO], k[C_VOL]) == BRDF_COEFFICIENTS[band]
