"""Kernels of the L1C -> L2A processor against their numpy twins, the mask tests on crafted coarse scenes, and the
AOT retrieval on synthetic dark vegetation of known AOT."""

from __future__ import annotations

import numpy as np
import pytest

from l2a.atmosphere import load_table, toa_reflectance
from l2a.process import kernels as K
from l2a.process.aerosols import estimate_aot, fill_gaps
from l2a.process.masks import CoarseScene, compute_masks, shadow_shifts
from l2a.process.params import ProcessParams


def test_cell_mean_matches_twin():
    rng = np.random.default_rng(0)
    dn = rng.integers(0, 12000, (53, 47)).astype(np.uint16)
    dn[rng.random(dn.shape) < 0.1] = 0
    dn[rng.random(dn.shape) < 0.02] = 65535
    dn[:6, :6] = 0  # an empty cell
    mean, count, sat = np.empty((9, 8), np.float32), np.empty((9, 8), np.int32), np.empty((9, 8), np.int32)
    K.cell_mean(dn, -1000.0, 10000.0, 0, 65535, 6, mean, count, sat)
    ref_mean, ref_count, ref_sat = K.cell_mean_ref(dn, -1000.0, 10000.0, 0, 65535, 6)
    np.testing.assert_array_equal(count, ref_count)
    np.testing.assert_array_equal(sat, ref_sat)
    assert sat.sum() == (dn == 65535).sum()
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6)
    assert np.isnan(mean[0, 0])


def test_dark_pixel_sums_match_twin():
    rng = np.random.default_rng(1)
    fine = [rng.integers(0, 3000, (40, 36)).astype(np.uint16) for _ in range(3)]
    fine[2] += 2000  # NIR brighter: vegetation
    fine[0][3, 3] = 0
    swir = rng.integers(1, 2500, (20, 18)).astype(np.uint16)
    corr = np.stack([np.stack([rng.uniform(0, 0.03, (4, 3)), rng.uniform(0.7, 0.9, (4, 3))]) for _ in range(3)])
    eligible = rng.random((4, 3)) > 0.3
    args = (fine[0], fine[1], fine[2], np.array([-1000.0, -1000.0, -1000.0]), 10000.0, 2, swir, -1000.0, corr,
            eligible, 6, 0.3, 0.01, 0.15)
    out = np.zeros((4, 4, 3))
    K.dark_pixel_sums(*args, out)
    np.testing.assert_allclose(out, K.dark_pixel_sums_ref(*args), rtol=1e-9, atol=1e-9)
    assert out[0].sum() > 10


def test_project_shadows_matches_twin():
    rng = np.random.default_rng(2)
    cloud = rng.random((30, 40)) > 0.95
    sr, sc = rng.uniform(-1, 1, (30, 40)), rng.uniform(-1, 1, (30, 40))
    out = np.zeros((30, 40), bool)
    K.project_shadows(cloud, sr, sc, 2, 20, out)
    np.testing.assert_array_equal(out, K.project_shadows_ref(cloud, sr, sc, 2, 20))


@pytest.mark.parametrize("factor, row0", [(4, 0), (3, 5), (24, 17)])
def test_bilinear_upsample_matches_twin(factor, row0):
    rng = np.random.default_rng(3)
    coarse = rng.random((5, 7))
    out = np.empty((10, 7 * factor), np.float32)
    K.bilinear_upsample(coarse, factor, row0, 0, out)
    np.testing.assert_allclose(out, K.bilinear_upsample_ref(coarse, factor, row0, 0, out.shape), rtol=1e-6)


def test_correct_block_matches_twin_and_inverts_the_model():
    rng = np.random.default_rng(4)
    terms = np.stack([rng.uniform(0.02, 0.1, (4, 5)), rng.uniform(0.6, 0.9, (4, 5)), rng.uniform(0.05, 0.2, (4, 5))])
    dn = rng.integers(0, 6000, (30, 37)).astype(np.uint16)
    out = np.empty(dn.shape, np.int16)
    K.correct_block(dn, -1000.0, 10000.0, 0, terms, 8, 2, 0, out)
    ref = K.correct_block_ref(dn, -1000.0, 10000.0, 0, terms, 8, 2, 0)
    assert np.abs(out.astype(int) - ref).max() <= 1   # rounding at exact halves may differ
    assert (out[dn == 0] == -10000).all()
    # uniform terms: surface -> TOA with the model -> DN -> back
    flat = np.stack([np.full((2, 2), 0.05), np.full((2, 2), 0.8), np.full((2, 2), 0.1)])
    rho = 0.2
    toa = 0.05 + 0.8 * rho / (1 - 0.1 * rho)
    dn1 = np.full((4, 4), round(toa * 10000 + 1000), np.uint16)
    K.correct_block(dn1, -1000.0, 10000.0, 0, flat, 2, 0, 0, out[:4, :4])
    assert np.abs(out[:4, :4] - 2000).max() <= 1


def test_fill_gaps_fills_and_flags():
    values = np.full((12, 12), np.nan)
    values[2, 3], values[9, 8] = 0.1, 0.3
    filled, interpolated = fill_gaps(values, 1.0, 0.2)
    assert np.isfinite(filled).all() and interpolated.sum() == 142
    assert 0.1 <= filled.min() and filled.max() <= 0.3
    default, flags = fill_gaps(np.full((3, 3), np.nan), 1.0, 0.12)
    assert (default == 0.12).all() and flags.all()


# --- masks on crafted coarse scenes ---------------------------------------------------------------------------
def _scene(shape=(40, 40), **overrides):
    """A clear vegetated coarse scene (Rayleigh-corrected reflectance), sun from the south-east at 40 degrees."""
    tocr = {"B2": np.full(shape, 0.04), "B3": np.full(shape, 0.07), "B4": np.full(shape, 0.05),
            "B8A": np.full(shape, 0.35), "B11": np.full(shape, 0.18), "B12": np.full(shape, 0.08)}
    scene = CoarseScene(tocr=tocr, b10=np.full(shape, 0.002), saturated=np.zeros(shape, bool),
                        valid=np.ones(shape, bool), sun_zenith=np.full(shape, 40.0),
                        sun_azimuth=np.full(shape, 135.0), view_zenith=np.full(shape, 5.0),
                        view_azimuth=np.full(shape, 100.0), cell_m=240.0)
    for k, v in overrides.items():
        setattr(scene, k, v)
    return scene


def _set(scene, where, **values):
    for band, v in values.items():
        scene.tocr[band][where] = v


def test_clear_vegetation_has_no_mask():
    m = compute_masks(_scene(), ProcessParams())
    assert not (m.cloud_all | m.shadow | m.snow | m.water).any()


def test_white_cloud_is_cloud_and_casts_a_shadow_where_the_sun_points_away():
    scene = _scene()
    cloud = (slice(10, 14), slice(20, 24))
    _set(scene, cloud, B2=0.45, B3=0.45, B4=0.45, B8A=0.5, B11=0.35, B12=0.25)
    # the true shadow of a 1.5 km cloud: opposite to the sun (north-west of the cloud), NIR darkened
    shift_r, shift_c = shadow_shifts(scene, 1500.0)
    dr, dc = int(round(shift_r[0, 0])), int(round(shift_c[0, 0]))
    assert dr < 0 and dc < 0  # sun in the south-east: shadows fall to the north-west
    shadow = (slice(10 + dr, 14 + dr), slice(20 + dc, 24 + dc))
    _set(scene, shadow, B8A=0.12, B11=0.06, B4=0.02)
    # a dark field far from any projection is not shadow
    _set(scene, (slice(30, 34), slice(30, 34)), B8A=0.1, B11=0.05)
    m = compute_masks(scene, ProcessParams())
    assert m.cloud_refl[cloud].all() and m.cloud_all[cloud].all()
    assert m.shadow[shadow].sum() >= 12
    assert not m.shadow[30:34, 30:34].any()
    assert m.cloud_all.sum() <= (4 + 2) ** 2  # dilated by one cell, no more


def test_snow_is_not_cloud_and_water_is_water():
    scene = _scene()
    _set(scene, (slice(5, 10), slice(5, 10)), B2=0.8, B3=0.8, B4=0.78, B8A=0.7, B11=0.05, B12=0.04)
    _set(scene, (slice(25, 30), slice(5, 12)), B2=0.05, B3=0.04, B4=0.03, B8A=0.02, B11=0.01, B12=0.01)
    m = compute_masks(scene, ProcessParams())
    assert m.snow[5:10, 5:10].all() and not m.cloud_all[5:10, 5:10].any()
    assert m.water[25:30, 5:12].all() and not m.water[:20].any()


def test_bright_snow_is_not_taken_for_cirrus_without_a_dem():
    scene = _scene()
    _set(scene, (slice(5, 10), slice(5, 10)), B2=0.8, B3=0.8, B4=0.78, B8A=0.7, B11=0.05, B12=0.04)
    scene.b10[3:12, 3:12] = 0.03   # high, dry ground: B10 sees the snow
    m = compute_masks(scene, ProcessParams())
    # the snow is not tested (only the one-cell dilation of the cirrus around it reaches its edge)
    assert m.snow[6:9, 6:9].all() and not m.cirrus[6:9, 6:9].any()
    assert m.cirrus[3, 3:12].all()   # around it, the same B10 is cirrus


def test_snow_enclosed_by_cloud_becomes_cloud():
    scene = _scene()
    _set(scene, (slice(8, 18), slice(8, 18)), B2=0.45, B3=0.45, B4=0.45, B8A=0.5, B11=0.35, B12=0.25)
    _set(scene, (slice(12, 14), slice(12, 14)), B2=0.8, B3=0.8, B4=0.78, B8A=0.7, B11=0.05, B12=0.04)
    m = compute_masks(scene, ProcessParams())
    assert m.cloud_all[12:14, 12:14].all() and not m.snow.any()


def test_cirrus_from_b10_and_no_test_without_b10():
    scene = _scene()
    scene.b10[0:6, 30:40] = 0.02
    m = compute_masks(scene, ProcessParams())
    assert m.cirrus[0:6, 30:40].all() and not m.cloud_refl.any()
    assert not compute_masks(_scene(b10=None), ProcessParams()).cirrus.any()


def test_saturated_cells_are_cloud():
    sat = np.zeros((40, 40), bool)
    sat[3, 3] = True
    assert compute_masks(_scene(saturated=sat), ProcessParams()).cloud_refl[3, 3]


# --- AOT on synthetic dark vegetation of known AOT ------------------------------------------------------------
@pytest.mark.parametrize("true_aot, platform, pressure", [(0.05, "S2A", 1013.25), (0.25, "S2B", 1013.25),
                                                          (0.5, "S2A", 1013.25), (0.25, "S2A", 800.0)])
def test_aot_is_retrieved_from_dark_vegetation(true_aot, platform, pressure):
    table = load_table()
    code, _ = table.platform_code(platform)
    rng = np.random.default_rng(7)
    cells, f20 = (6, 6), 6
    rows = cells[0] * f20
    params = ProcessParams()
    swir = rng.uniform(0.03, 0.12, (rows, rows))
    red = params.ddv_red_swir * swir    # dark vegetation that follows the processor's relations exactly
    surface = {"B12": swir, "B4": red, "B2": params.ddv_blue_red * red, "B8": np.full_like(swir, 0.40)}
    geo = dict(sun_zenith=35.0, view_zenith=6.0, relative_azimuth=70.0, aot=true_aot, water_vapour=1.5,
               pressure=pressure)
    dn = {}
    for band, rho in surface.items():
        toa = toa_reflectance(rho, "B8" if band == "B8" else band, platform, **geo)
        if band != "B12":  # 10 m bands: 2 x 2 fine pixels per 20 m pixel
            toa = np.repeat(np.repeat(toa, 2, axis=0), 2, axis=1)
        dn[band] = np.round(toa * 10000 + 1000).astype(np.uint16)
    from l2a.process.driver import _correction_terms, _terms

    shape = cells
    sz, vz, az = np.full(shape, 35.0), np.full(shape, 6.0), np.full(shape, 70.0)
    wv, p = np.full(shape, 1.5), np.full(shape, pressure)
    corr = np.stack([_correction_terms(_terms(table, b, code, sz, vz, az, np.full(shape, params.default_aot),
                                              wv, p))[:2] for b in ("B4", "B8", "B12")])
    sums = np.zeros((4,) + shape)
    K.dark_pixel_sums(dn["B2"], dn["B4"], dn["B8"], np.array([-1000.0] * 3), 10000.0, 2, dn["B12"], -1000.0,
                      corr, np.ones(shape, bool), f20, params.ddv_ndvi_min, params.ddv_swir_min,
                      params.ddv_swir_max, sums)
    aot, interpolated, n = estimate_aot(sums, sz, {"B2": vz, "B4": vz, "B12": vz}, {"B2": az, "B4": az, "B12": az},
                                        wv, p, table, code, params)
    assert n == 4 and not interpolated.any()
    assert np.abs(aot - true_aot).max() < 0.02, aot


def test_aot_inversion_matches_its_twin():
    from l2a.atmosphere.reference import atmosphere_terms_ref  # noqa: F401  (the twin's own dependency)

    table = load_table()
    rng = np.random.default_rng(8)
    n = 6
    toa = np.stack([rng.uniform(0.06, 0.12, n), rng.uniform(0.04, 0.09, n), rng.uniform(0.04, 0.12, n)])
    sz, vz, az, wv = rng.uniform(20, 60, n), rng.uniform(0, 10, (3, n)), rng.uniform(0, 180, (3, n)), np.full(n, 2.)
    bands = np.array([table.band_index(b) for b in ("B2", "B4", "B12")])
    out = np.empty(n)
    pressure = rng.uniform(700.0, 1013.25, n)
    K.invert_aot(table.arrays, bands, 0, toa, sz, vz, az, wv, pressure, 0.5, 0.5, 0.8, out)
    ref = K.invert_aot_ref(table.arrays, bands, 0, toa, sz, vz, az, wv, pressure, 0.5, 0.5, 0.8)
    np.testing.assert_allclose(out, ref, atol=0.002)


def test_refine_pixels_matches_twin_and_finds_each_class():
    rng = np.random.default_rng(9)
    rows, cols, k, f = 24, 24, 2, 6
    # vegetation (surface NIR 0.43, SWIR 0.19), then water, snow, shadows and a dark cover
    green = np.full((rows * k, cols * k), 1700, np.uint16)   # TOA 0.07 after the -1000 offset
    red = np.full((rows * k, cols * k), 1500, np.uint16)
    nir = np.full((rows, cols), 5000, np.uint16)
    swir = np.full((rows, cols), 2800, np.uint16)
    red[0:8, 0:8], nir[0:4, 0:4], swir[0:4, 0:4], green[0:8, 0:8] = 1300, 1150, 1050, 1400      # clear lake
    red[16:24, 16:24], green[16:24, 16:24], nir[8:12, 8:12], swir[8:12, 8:12] = 1900, 2000, 1300, 1080  # turbid
    green[16:24, 0:8], red[16:24, 0:8], nir[8:12, 0:4], swir[8:12, 0:4] = 8000, 7800, 7000, 1500  # snow
    nir[18:22, 18:22], swir[18:22, 18:22] = 2200, 1600                                               # shadow
    nir[18:22, 12:16], swir[18:22, 12:16] = 2200, 3800              # dark in NIR, bright in SWIR: a bare field
    # a shadow dark enough for the water test (NDVI < 0.01, NIR < 0.11) but as bright in NIR as in green
    red[26:32, 38:44], green[26:32, 38:44], nir[13:16, 19:22], swir[13:16, 19:22] = 1400, 1400, 1300, 1150
    green += rng.integers(0, 30, green.shape).astype(np.uint16)
    corr = np.stack([np.stack([np.full((4, 4), 0.01), np.full((4, 4), 0.9)]) for _ in range(4)])
    cloud = np.zeros((4, 4), bool)
    zone = np.zeros((4, 4), bool)
    zone[3, 3] = zone[3, 2] = zone[2, 3] = zone[0, 0] = True
    nir_reference, swir_reference = np.full((4, 4), 0.4), np.full((4, 4), 0.2)
    thresholds = np.array([0.4, 0.12, 0.16, 0.11, 0.01, 0.11, 0.3, 0.7])
    head = (green, red, nir, swir, np.array([-1000.0] * 4), 10000.0, k, corr, f)
    tail = (zone, nir_reference, swir_reference, thresholds)
    out = np.empty((rows, cols), np.uint8)
    K.refine_pixels(*head, cloud, *tail, out)
    np.testing.assert_array_equal(out, K.refine_pixels_ref(*head, cloud, *tail))
    assert (out[0:4, 0:4] == K.PIXEL_WATER).all()       # in the shadow zone too: green far above NIR
    assert (out[8:12, 8:12] == K.PIXEL_WATER).all()     # red 0.09: MAJA's red < 0.05 alone would miss it
    assert (out[8:12, 0:4] == K.PIXEL_SNOW).all()
    assert (out[18:22, 18:22] == K.PIXEL_SHADOW).all()
    assert (out[13:16, 19:22] == K.PIXEL_SHADOW).all()  # not water: NDWI 0.2
    assert (out[18:22, 12:16] == 0).all()               # SWIR not darkened: not a shadow
    assert (out[12:18, 12:18] == 0).all()
    cloud[:] = True   # under clouds, only shadows and snow keep their flag
    K.refine_pixels(*head, cloud, *tail, out)
    np.testing.assert_array_equal(out, K.refine_pixels_ref(*head, cloud, *tail))
    assert (out[18:22, 18:22] == K.PIXEL_SHADOW).all() and (out[13:16, 19:22] == K.PIXEL_SHADOW).all()
    assert (out[8:12, 0:4] == K.PIXEL_SNOW).all()
    assert out.sum() == K.PIXEL_SHADOW * (16 + 9) + K.PIXEL_SNOW * 16


def test_cell_mean_excluding_matches_its_twin():
    rng = np.random.default_rng(11)
    dn = rng.integers(1, 9000, (50, 46)).astype(np.uint16)
    dn[0:3, 0:5] = 0
    dn[10, 10] = 65535
    exclude = rng.random((25, 23)) < 0.3
    exclude[0:6, 0:6] = True   # a whole cell left out: NaN
    out, count = np.empty((5, 4)), np.empty((5, 4), np.int32)
    K.cell_mean_excluding(dn, -1000.0, 10000.0, 12, exclude, 2, out, count)
    ref, ref_count = K.cell_mean_excluding_ref(dn, -1000.0, 10000.0, 12, exclude, 2, (5, 4))
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    np.testing.assert_array_equal(count, ref_count)
    assert np.isnan(out[0, 0]) and count[0, 0] == 0 and np.isfinite(out[1:, 1:]).all()


def test_patchy_snow_on_rock_is_not_cloud():
    # a third of the cells' pixels are snow: the mean is white and dark at 1.6 um (a cloud to the cloud test), the
    # pixels that are not snow are rock
    scene = _scene()
    patch = (slice(5, 10), slice(5, 10))
    _set(scene, patch, B2=0.42, B3=0.45, B4=0.47, B8A=0.50, B11=0.30, B12=0.25)
    assert compute_masks(scene, ProcessParams()).cloud_all[patch].all()
    rock = {b: np.array(v) for b, v in scene.tocr.items()}
    for b, v in dict(B2=0.17, B4=0.25, B8A=0.30, B11=0.38).items():
        rock[b][patch] = v
    scene.tocr_without_snow = {b: rock[b] for b in ("B2", "B4", "B8A", "B11")}
    m = compute_masks(scene, ProcessParams())
    assert not m.cloud_all.any()
    scene.tocr_without_snow = {b: np.array(scene.tocr[b]) for b in ("B2", "B4", "B8A", "B11")}  # a real cloud
    assert compute_masks(scene, ProcessParams()).cloud_all[patch].all()
