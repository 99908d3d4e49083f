"""The 6S look-up table of l2a.atmosphere: against direct 6S runs, its numpy twin, and itself (reciprocity)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from l2a.atmosphere import load_table, surface_reflectance, toa_reflectance
from l2a.atmosphere import kernels as K
from l2a.atmosphere.reference import atmosphere_terms_ref, surface_from_toa_ref, toa_from_surface_ref
from l2a.atmosphere.table import TABLE_FILE
from l2a.errors import InvalidParameterError

FIXTURE = Path(__file__).parent / "data" / "atmo_6s_points.json"


def _points(kind):
    return [p for p in json.loads(FIXTURE.read_text())["points"] if p["kind"] == kind]


def _retrieval_errors(points, table=None):
    """Surface reflectance retrieved with the table from each direct 6S TOA reflectance, minus the 6S input."""
    table = table or load_table()
    errors = []
    terms = np.empty(K.N_TERMS)
    for p in points:
        code, _ = table.platform_code(p["platform"])
        K.atmosphere_terms(table.arrays, table.band_index(p["band"]), code, p["sun_zenith"], p["view_zenith"],
                           p["rel_azimuth"], p["aot"], p["water"], p["pressure"], terms)
        errors.append(K.surface_from_toa(p["toa"], terms) - p["surface"])
    return np.array(errors)


def test_table_is_small_package_data_with_its_provenance():
    path = Path(K.__file__).parent / "data" / TABLE_FILE
    assert path.stat().st_size <= 1_000_000
    prov = load_table().provenance
    assert prov["model"].startswith("6SV1.1") and prov["aerosol"] == "continental"
    assert prov["build_date"] and prov["runs"] > 10_000 and "backscatter" in prov["relative_azimuth_convention"]
    assert load_table().version == prov["table_version"]


def test_200_random_6s_points_are_retrieved_within_0_002():
    points = _points("fixture")
    assert len(points) == 200
    err = _retrieval_errors(points)
    assert np.abs(err).max() <= 0.002, (np.abs(err).max(), np.sqrt(np.mean(err ** 2)))


def test_rayleigh_only_points_are_retrieved_within_0_001():
    points = _points("rayleigh")
    assert len(points) == 20 and all(p["aot"] == 0.0 for p in points)
    assert np.abs(_retrieval_errors(points)).max() <= 0.001


def test_the_fixture_figure_fails_on_a_planted_path_error():
    # A table whose path reflectance is 0.003 too high (a wrong aerosol model would do this) must miss the target.
    table = load_table()
    arrays = table.arrays
    sea = arrays.sea.copy()
    sea[:, 0] += 0.003
    planted = dataclasses.replace(table, arrays=arrays._replace(sea=sea))
    assert np.abs(_retrieval_errors(_points("fixture"), planted)).max() > 0.002


def test_forward_and_inverse_are_reciprocal():
    rng = np.random.default_rng(3)
    n = 5000
    rho = rng.uniform(-0.05, 0.9, n)
    args = dict(sun_zenith=rng.uniform(0, 80, n), view_zenith=rng.uniform(0, 12, n),
                relative_azimuth=rng.uniform(0, 360, n), aot=rng.uniform(0, 1.0, n),
                water_vapour=rng.uniform(0, 6, n), pressure=rng.uniform(600, 1050, n))
    for band in ("B2", "B8A", "B12"):
        for platform in ("S2A", "S2B", "S2C"):
            toa = toa_reflectance(rho, band, platform, **args)
            back = surface_reflectance(toa, band, platform, **args)
            assert np.abs(back - rho).max() < 1e-4


def test_kernel_terms_match_their_numpy_twin():
    table = load_table()
    rng = np.random.default_rng(5)
    n = 300
    # off-grid, beyond every edge (clamped; pressure extrapolated) and azimuths to be folded
    cond = dict(sun_zenith=rng.uniform(0, 85, n), view_zenith=rng.uniform(0, 14, n),
                rel_azimuth=rng.uniform(-300, 500, n), aot=rng.uniform(0, 1.2, n), water_vapour=rng.uniform(0, 9, n),
                pressure=rng.choice([1013.25, 450.0, 640.0, 780.0, 930.0, 1080.0], n))
    out = np.empty(K.N_TERMS)
    for band in (0, 4, 9):
        for platform in (0, 1):
            ref = atmosphere_terms_ref(table.arrays, band, platform, *cond.values())
            got = np.empty_like(ref)
            for i in range(n):
                K.atmosphere_terms(table.arrays, band, platform, *(v[i] for v in cond.values()), out)
                got[i] = out
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
            toa = rng.uniform(0, 0.5, n)
            np.testing.assert_allclose([K.surface_from_toa(t, r) for t, r in zip(toa, got)],
                                       surface_from_toa_ref(toa, ref), atol=1e-12)
            np.testing.assert_allclose([K.toa_from_surface(t, r) for t, r in zip(toa, got)],
                                       toa_from_surface_ref(toa, ref), atol=1e-12)


def test_terms_are_physical():
    table = load_table()
    out = np.empty(K.N_TERMS)
    blue, swir = table.band_index("B2"), table.band_index("B12")
    K.atmosphere_terms(table.arrays, blue, 0, 44.0, 0.0, 0.0, 0.14, 2.0, 1013.25, out)
    # the check of the 6S set-up: blue path reflectance at AOT 0.14, sun zenith 44 is about 0.072
    assert 0.06 < out[K.TERM_PATH] < 0.085
    assert 0.0 < out[K.TERM_T_DIR_DOWN] < out[K.TERM_T_DOWN] < 1.0
    path_blue = out[K.TERM_PATH]
    K.atmosphere_terms(table.arrays, swir, 0, 44.0, 0.0, 0.0, 0.14, 2.0, 1013.25, out)
    assert out[K.TERM_PATH] < path_blue / 10
    # more aerosol: more path, less transmittance; higher ground: less Rayleigh path
    low, high, mountain = np.empty(K.N_TERMS), np.empty(K.N_TERMS), np.empty(K.N_TERMS)
    K.atmosphere_terms(table.arrays, blue, 0, 40.0, 5.0, 90.0, 0.05, 2.0, 1013.25, low)
    K.atmosphere_terms(table.arrays, blue, 0, 40.0, 5.0, 90.0, 0.5, 2.0, 1013.25, high)
    K.atmosphere_terms(table.arrays, blue, 0, 40.0, 5.0, 90.0, 0.05, 2.0, 750.0, mountain)
    assert high[K.TERM_PATH] > low[K.TERM_PATH] and high[K.TERM_T_DOWN] < low[K.TERM_T_DOWN]
    assert mountain[K.TERM_PATH] < low[K.TERM_PATH]
    # water vapour dims the water band, barely the blue
    nir = table.band_index("B8A")
    dry, wet = np.empty(K.N_TERMS), np.empty(K.N_TERMS)
    K.atmosphere_terms(table.arrays, nir, 0, 40.0, 5.0, 90.0, 0.1, 0.2, 1013.25, dry)
    K.atmosphere_terms(table.arrays, nir, 0, 40.0, 5.0, 90.0, 0.1, 4.0, 1013.25, wet)
    assert wet[K.TERM_GAS] < dry[K.TERM_GAS]
    w9 = [K.water_transmittance(table.arrays, table.band_index("B9", gas=True), s) for s in (1.0, 8.0)]
    assert w9[1] < w9[0] < 1.0


def test_api_broadcasts_and_returns_floats_for_scalars():
    rho = surface_reflectance(np.full((2, 3), 0.1), "B04", "SENTINEL2B", 40.0, np.array([0.0, 5.0, 10.0]), 90.0,
                              0.2, 2.0)
    assert rho.shape == (2, 3) and rho.dtype == np.float64
    assert isinstance(surface_reflectance(0.1, "B4", "S2A", 40.0, 5.0, 90.0, 0.2, 2.0), float)
    assert np.isnan(surface_reflectance(np.nan, "B4", "S2A", 40.0, 5.0, 90.0, 0.2, 2.0))


def test_sentinel_2c_uses_2a_responses_with_a_warning():
    table = load_table()
    code, warning = table.platform_code("SENTINEL-2C")
    assert code == 0 and "Sentinel-2C" in warning
    assert table.platform_code("S2B") == (1, None)
    assert surface_reflectance(0.1, "B4", "S2C", 40.0, 5.0, 90.0, 0.2, 2.0) == \
        surface_reflectance(0.1, "B4", "S2A", 40.0, 5.0, 90.0, 0.2, 2.0)


@pytest.mark.parametrize("band, platform, kwargs", [
    ("B10", "S2A", {}), ("B1", "S2A", {}), ("B4", "VENUS", {}), ("B4", "S2A", {"sun_zenith": 95.0}),
    ("B4", "S2A", {"aot": -0.1}), ("B4", "S2A", {"water_vapour": -1.0}), ("B4", "S2A", {"pressure": 0.0}),
])
def test_bad_arguments_are_refused_in_one_line(band, platform, kwargs):
    args = dict(sun_zenith=40.0, view_zenith=5.0, relative_azimuth=90.0, aot=0.2, water_vapour=2.0)
    args.update(kwargs)
    with pytest.raises(InvalidParameterError) as info:
        surface_reflectance(0.1, band, platform, **args)
    assert "\n" not in str(info.value)
