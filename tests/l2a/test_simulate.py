"""The scene simulator (``l2a simulate``): kernels against their twins, footprints, acquisition plan, physical
plausibility, masks against truth, readers, determinism, streaming, resume and the command line.

Simulations stay tiny (20-120 px per tile side) so the module runs in about a minute on two cores.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, reproject

from l2a.cli import cli as l2a_cli
from l2a.cli_options import run_cli
from l2a.errors import InvalidParameterError
from l2a.formats.theia.bits import decode_clm, decode_mg2
from l2a.io.xmldoc import find_float, parse_xml
from l2a.simulate.atmosphere import forward_model_args
from l2a.simulate import atmosphere, kernels, landscape, noise, orbits
from l2a.simulate.clouds import day_params
from l2a.simulate.driver import _R1_IDX, SimulationConfig, _Run, simulate
from l2a.simulate.frame import tile_frame, world_params
from l2a.simulate.masks import PRESETS, quality_params
from l2a.simulate.mgrs import DEFAULT_TILES, parse_tiles, tile_footprint
from l2a.simulate.surface_brdf import cover_brdf_table

D = dt.date


# --- fixtures ---------------------------------------------------------------------------------------------------
def _run(tmp_path_factory, name, **kw) -> Path:
    out = tmp_path_factory.mktemp(name)
    kw.setdefault("seed", 1)
    kw.setdefault("workers", 2)
    simulate(SimulationConfig(out, **kw))
    return out


@pytest.fixture(scope="module")
def june(tmp_path_factory) -> Path:
    """Default 4 tiles, four passes (R094 S2B 06-08, R051 S2A 06-10, R094 S2A 06-13, R051 S2B 06-15: two clear-ish
    days, two cloudy ones), 1830 m pixels, masks without errors (the processor presets are tested in
    test_simulate_honest.py)."""
    return _run(tmp_path_factory, "june", start=D(2018, 6, 8), end=D(2018, 6, 15), size=60, mask_quality="perfect")


@pytest.fixture(scope="module")
def july(tmp_path_factory) -> Path:
    """Two tiles, one pass of each orbit (R094 07-13, R051 07-15), 915 m pixels."""
    return _run(tmp_path_factory, "july", start=D(2018, 7, 13), end=D(2018, 7, 15), size=120,
                tiles=("T31TCJ", "T30TYN"))


@pytest.fixture(scope="module")
def august(tmp_path_factory) -> Path:
    return _run(tmp_path_factory, "august", start=D(2018, 8, 27), end=D(2018, 8, 27), size=60,
                tiles=("T31TCH", "T30TYN"))


@pytest.fixture(scope="module")
def l1c(tmp_path_factory) -> Path:
    return _run(tmp_path_factory, "l1c", start=D(2018, 6, 8), end=D(2018, 6, 10), size=60, tiles=("T31TCJ",),
                level="l1c")


def _index(root: Path) -> dict:
    return json.loads((root / "truth" / "index.json").read_text())


def _read(path, band=None):
    with rasterio.open(path) as ds:
        return ds.read() if band is None else ds.read(band)


def _fre(product: Path, band: str) -> np.ndarray:
    (path,) = product.glob(f"*_FRE_{band}.tif")
    a = _read(path, 1).astype(np.float64)
    a[a == -10000] = np.nan
    return a / 10000.0


def _mask(product: Path, kind: str, res: str) -> np.ndarray:
    (path,) = (product / "MASKS").glob(f"*_{kind}_{res}.tif")
    return _read(path, 1)


def _acquisitions(root: Path):
    """(tile, entry) for every acquisition of a run."""
    return [(t, a) for t, v in _index(root)["tiles"].items() for a in v["acquisitions"]]


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --- kernels against their numpy twins -------------------------------------------------------------------------
def test_noise_twins():
    rng = np.random.default_rng(0)
    a, b = rng.integers(-2 ** 40, 2 ** 40, 300), rng.integers(-9, 9, 300)
    assert np.array_equal(np.array([noise.hash3(int(i), int(j), 5) for i, j in zip(a, b)], np.uint64),
                          noise.hash3_ref(a, b, 5))
    x, y = rng.uniform(-5e4, 5e4, 400), rng.uniform(-5e4, 5e4, 400)
    for fn, ref in ((noise.fbm, noise.fbm_ref), (noise.ridged, noise.ridged_ref)):
        got = np.array([fn(p, q, 11, 5) for p, q in zip(x, y)])
        np.testing.assert_allclose(got, ref(x, y, 11, 5), rtol=0, atol=1e-12)
    for keep in (2, 4):
        got = np.array([noise.fbm_lod(p, q, 11, 6, keep) for p, q in zip(x, y)])
        np.testing.assert_allclose(got, noise.fbm_ref(x, y, 11, 6, keep), rtol=0, atol=1e-12)
    assert noise.octaves_for(2500.0, 10.0, 8) == 7 and noise.octaves_for(2500.0, 200.0, 8) == 3
    # early-stopping fbm: exact inside [lo, hi], on the right side outside
    for lo, hi in ((0.1, 0.3), (-0.2, 0.0)):
        got = np.array([noise.fbm_bounded(p, q, 3, 6, 5, 0.05, lo, hi) for p, q in zip(x, y)])
        ref = 0.05 + noise.fbm_ref(x, y, 3, 6, 5)
        inside = (ref >= lo) & (ref <= hi)
        assert inside.any() and np.array_equal(got[inside], ref[inside])
        assert np.array_equal(got < lo, ref < lo) and np.array_equal(got > hi, ref > hi)
    got = np.array([noise.worley(p, q, 3) for p, q in zip(x, y)])
    f1, f2, cx, cy = noise.worley_ref(x, y, 3)
    np.testing.assert_allclose(got[:, 0], f1, atol=1e-12)
    np.testing.assert_allclose(got[:, 1], f2, atol=1e-12)
    assert np.array_equal(got[:, 2], cx) and np.array_equal(got[:, 3], cy)
    v = np.array([noise.value_noise(p, q, 1) for p, q in zip(x, y)])
    assert -1 <= v.min() < -0.5 and 0.5 < v.max() <= 1


def test_geometry_twins_and_real_sun():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-1, 2, 200), rng.uniform(42, 45, 200)
    track = np.array([1.2, 38500.0, 180.0])
    sun, view, det = (np.empty((2, 200)), np.empty((13, 2, 200)), np.empty(200, np.int64))
    kernels.geometry_block(lon, lat, track, orbits.ALONG_TRACK_DEG, sun, view, det)
    sun_r, view_r, det_r = kernels.geometry_block_ref(lon, lat, track, orbits.ALONG_TRACK_DEG)
    np.testing.assert_allclose(sun, sun_r, atol=1e-9)
    np.testing.assert_allclose(view, view_r, atol=1e-9)
    assert np.array_equal(det, det_r) and (det == 0).any() and len(set(det[det > 0])) >= 3
    inside = det > 0
    assert np.nanmax(view[:, 0]) < 12.5 and np.nanmin(view[:, 0]) >= 0
    assert np.isnan(view[:, :, ~inside]).all()
    # the real T31TCJ L1C of 2024-03-05, sensed 10:58:54 UTC: mean sun zenith 51.82, azimuth 158.40
    zen, az = orbits.sun_angles(65.0, 10 * 3600 + 58 * 60 + 54.0, 1.19, 43.72)
    assert abs(zen - 51.82) < 0.5 and abs(az - 158.40) < 0.5
    # view azimuth is perpendicular to the track (heading 193 deg), on opposite sides of nadir
    assert orbits.view_angles(50000.0, 0.0)[1] == pytest.approx(283.0)
    assert orbits.view_angles(-50000.0, 0.0)[1] == pytest.approx(103.0)
    assert orbits.view_angles(145000.0, 0.0)[0] == pytest.approx(11.76, abs=0.05)


def test_atmosphere_twins_and_inverse():
    rng = np.random.default_rng(2)
    n = 300
    rho = rng.uniform(0, 0.9, n)
    mu_s, mu_v = np.cos(np.radians(rng.uniform(15, 60, n))), np.cos(np.radians(rng.uniform(0, 12, n)))
    cos_scat = np.array([atmosphere.scattering_cos(s, v, c) for s, v, c in zip(mu_s, mu_v, rng.uniform(-1, 1, n))])
    aot, wv, p = rng.uniform(0.02, 0.8, n), rng.uniform(0.3, 4, n), rng.uniform(0.7, 1, n)
    for band in range(13):
        k = atmosphere.BAND_CONSTANTS[band]
        toa = np.array([atmosphere.toa_from_surface(k, *a) for a in zip(rho, mu_s, mu_v, cos_scat, aot, wv, p)])
        np.testing.assert_allclose(toa, atmosphere.toa_from_surface_ref(k, rho, mu_s, mu_v, cos_scat, aot, wv, p),
                                   rtol=1e-10)
        back = np.array([atmosphere.surface_from_toa(k, *a) for a in zip(toa, mu_s, mu_v, cos_scat, aot, wv, p)])
        np.testing.assert_allclose(back, rho, atol=1e-9)
        np.testing.assert_allclose(atmosphere.surface_from_toa_ref(k, toa, mu_s, mu_v, cos_scat, aot, wv, p), rho,
                                   atol=1e-9)
    # water vapour absorbs in B9 and blinds B10 to the ground; the blue gets most path radiance
    k9, k10, k2 = (atmosphere.BAND_CONSTANTS[i] for i in (9, 10, 1))
    assert atmosphere.toa_from_surface(k10, 0.3, 0.85, 1.0, -0.85, 0.1, 2.5, 1.0) < 0.01
    assert atmosphere.toa_from_surface(k9, 0.3, 0.85, 1.0, -0.85, 0.1, 2.5, 1.0) < 0.2
    assert atmosphere.toa_from_surface(k2, 0.0, 0.85, 1.0, -0.85, 0.1, 1.0, 1.0) > 0.04
    # BRDF: 1 at nadir, twin agrees, backward (hot-spot side) brighter than forward
    sz, vz, ra = rng.uniform(20, 60, n), rng.uniform(0, 12, n), rng.uniform(-180, 180, n)
    for band in (1, 3, 7, 11):
        k = atmosphere.BAND_CONSTANTS[band]
        got = np.array([atmosphere.brdf_ratio(k, *a) for a in zip(sz, vz, ra)])
        np.testing.assert_allclose(got, atmosphere.brdf_ratio_ref(k, sz, vz, ra), rtol=1e-10)
        assert atmosphere.brdf_ratio(k, 30.0, 0.0, 50.0) == pytest.approx(1.0)
        assert atmosphere.brdf_ratio(k, 30.0, 10.0, 0.0) > 1.0 > atmosphere.brdf_ratio(k, 30.0, 10.0, 180.0)


def test_phenology_twin_and_seasons():
    crops = np.array(sorted(landscape.LANDCOVER_CODES), np.float64)
    doy = np.arange(1, 366, 3.5)
    c, t = np.meshgrid(crops, doy)
    j1, j2 = np.sin(t) * 8, np.cos(c * t) * 8
    got = np.array([landscape.phenology(int(a), b, d, e, 0.9, 160.0) for a, b, d, e in
                    zip(c.ravel(), t.ravel(), j1.ravel(), j2.ravel())]).T
    ref = landscape.phenology_ref(c.ravel(), t.ravel(), j1.ravel(), j2.ravel(), 0.9, 160.0)
    np.testing.assert_allclose(got, np.array(ref), atol=1e-12)
    assert (got.sum(axis=0) <= 1 + 1e-12).all() and (got >= 0).all()
    green = lambda code, day: landscape.phenology(code, day, 0.0, 0.0, 0.9, 160.0)[0]     # noqa: E731
    assert green(landscape.MAIZE, 200) > 0.8 > 0.1 > green(landscape.MAIZE, 120)
    assert green(landscape.WHEAT, 120) > 0.7 and green(landscape.WHEAT, 200) < 0.05     # harvested in July
    assert landscape.snowline_m(155) < 2100 < 3000 < landscape.snowline_m(240)


def test_interpolate_nodes_twin():
    frame = tile_frame(tile_footprint("T30TYP"))
    out = np.empty((8, 7, 33))
    kernels.interpolate_nodes(frame.nodes, frame.step, 109800 / 33, 5, out)
    np.testing.assert_allclose(out, kernels.interpolate_nodes_ref(frame.nodes, frame.step, 109800 / 33, 5, 7, 33),
                               rtol=0, atol=1e-6)


def test_scene_block_python_twin():
    """The compiled kernel and the same source run by the interpreter give the same numbers."""
    frame = tile_frame(tile_footprint("T31TCH"))
    plan = orbits.acquisitions_for_tiles([frame], D(2018, 6, 22), D(2018, 6, 25))["T31TCH"]
    (acq,) = [a for a in plan if a.relative_orbit == 51]
    for mode, quality, model in ((kernels.MODE_ACQUISITION, "sen2cor", "6s"),
                                 (kernels.MODE_ACQUISITION, "maja", "analytic"), (kernels.MODE_MONTHLY, "perfect", "6s")):
        args = (frame.nodes, frame.step, 109800 / 40, 17, 3, _R1_IDX, world_params(4), day_params(4, acq.date),
                orbits.track_params(acq), mode, 99, cover_brdf_table(4),
                quality_params(PRESETS[quality], 4, acq.date, acq.relative_orbit),
                *forward_model_args(model, acq.platform))
        out = kernels.allocate_outputs(4, 2, 37)
        kernels.scene_block(*args, *out)
        ref = kernels.scene_block_ref(*args, 2, 37)
        for k, (a, b) in enumerate(zip(out, ref)):
            if mode == kernels.MODE_MONTHLY and k in (2, 3, 5):
                continue    # toa, fre and f32 are not written in monthly mode
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


# --- footprints and frame ----------------------------------------------------------------------------------------
def test_footprints_match_real_metadata(real_data):
    (mtd,) = (real_data / "alcd_toulouse_l1c_safe").glob("S2B_*.SAFE/GRANULE/*/MTD_TL.xml")
    root = parse_xml(mtd)
    fp = tile_footprint("31TCJ")
    assert fp.tile == "T31TCJ" and fp.epsg == 32631
    assert (fp.ulx, fp.uly) == (find_float(root, ".//Geoposition[@resolution='10']/ULX"),
                                find_float(root, ".//Geoposition[@resolution='10']/ULY")) == (300000.0, 4900020.0)
    assert tuple(fp.grid(10980).transform)[:6] == (10.0, 0.0, 300000.0, 0.0, -10.0, 4900020.0)
    assert (tile_footprint("T30TYP").ulx, tile_footprint("T30TYP").uly) == (699960.0, 4900020.0)
    assert (tile_footprint("T30TYN").ulx, tile_footprint("T30TYN").uly) == (699960.0, 4800000.0)
    assert (tile_footprint("T38KPE").epsg, tile_footprint("T38KPE").uly) == (32738, 8000020.0)   # real Theia
    assert parse_tiles(None) == DEFAULT_TILES and parse_tiles("31tcj, T30TYP") == ("T30TYP", "T31TCJ")
    for bad in ("T31TCA", "T31TIJ", "T61TCJ", "31T", "T31TSJ"):
        with pytest.raises(InvalidParameterError, match="tile"):
            tile_footprint(bad)


def test_overlapping_zones_see_the_same_ground():
    """T31TCJ pixel centres in the overlap, mapped through T30TYP's own nodes, land on the same world point."""
    from pyproj import Transformer

    a, b = tile_frame(tile_footprint("T31TCJ")), tile_frame(tile_footprint("T30TYP"))
    xs, ys = np.meshgrid(300000 + np.arange(5, 30000, 977.0), 4900020 - np.arange(5, 109800, 3911.0))
    x30, y30 = Transformer.from_crs(32631, 32630, always_xy=True).transform(xs.ravel(), ys.ravel())
    inside = (x30 > 699960) & (x30 < 809760) & (y30 > 4790220) & (y30 < 4900020)
    assert inside.mean() > 0.5
    got_a, got_b = np.empty(8), np.empty(8)
    for xa, ya, xb, yb in zip(xs.ravel()[inside], ys.ravel()[inside], x30[inside], y30[inside]):
        kernels._interp(a.nodes, a.step, xa - 300000, 4900020 - ya, got_a)
        kernels._interp(b.nodes, b.step, xb - 699960, 4900020 - yb, got_b)
        assert abs(got_a[0] - got_b[0]) < 0.05 and abs(got_a[1] - got_b[1]) < 0.05      # world metres
        assert abs(got_a[3] - got_b[3]) < 1e-6


def test_overlapping_tiles_agree_in_products(june):
    """Same acquisition seen by T31TCJ and T30TYP: the truth AOT fields agree where the tiles overlap."""
    entries = {(t, a["date"], a["relative_orbit"]): a for t, a in _acquisitions(june)}
    compared = 0
    for (tile, date, orbit), a in entries.items():
        other = entries.get(("T30TYP", date, orbit))
        if tile != "T31TCJ" or other is None:
            continue
        with rasterio.open(june / "truth" / a["files"]["ATMO_R2"]) as dst, \
                rasterio.open(june / "truth" / other["files"]["ATMO_R2"]) as src:
            target = np.full((dst.height, dst.width), np.nan, np.float32)
            reproject(src.read(1), target, src_transform=src.transform, src_crs=src.crs, dst_transform=dst.transform,
                      dst_crs=dst.crs, resampling=Resampling.bilinear, src_nodata=np.nan, dst_nodata=np.nan)
            mine = dst.read(1)
        both = np.isfinite(target) & np.isfinite(mine)
        if both.sum() < 10:
            continue
        assert np.median(np.abs(target[both] - mine[both]) / mine[both]) < 0.03
        compared += 1
    assert compared >= 2


# --- acquisition plan ---------------------------------------------------------------------------------------------
def test_acquisitions_real_schedule_two_orbits_and_swath_edges(june, tmp_path):
    plan = orbits.acquisitions_for_tiles([tile_frame(tile_footprint(t)) for t in DEFAULT_TILES], D(2018, 6, 1),
                                         D(2018, 8, 31))
    for tile, acqs in plan.items():
        assert {a.relative_orbit for a in acqs} == {51, 94}
        assert {(a.platform, a.relative_orbit) for a in acqs} == {(p, o) for p in ("S2A", "S2B") for o in (51, 94)}
        assert len({a.date for a in acqs}) == len(acqs)                     # adjacent orbits never on one day
        assert acqs == sorted(acqs, key=lambda a: (a.date, a.track))
        for orbit in (51, 94):
            mine = [(a.date, a.platform) for a in acqs if a.relative_orbit == orbit]
            assert len(mine) >= 18
            assert all((b[0] - a[0]).days == 5 and a[1] != b[1] for a, b in zip(mine, mine[1:]))
            for platform in ("S2A", "S2B"):
                days = [d for d, p in mine if p == platform]
                assert {(b - a).days for a, b in zip(days, days[1:])} == {10}
        d51 = [a.date for a in acqs if a.relative_orbit == 51]
        d94 = [a.date for a in acqs if a.relative_orbit == 94]
        assert {(b - a).days % 5 for a in d51 for b in d94} == {3}         # R094 flies 3 days after R051
        times = {a.relative_orbit: a.reference_time.time() for a in acqs}
        assert all(dt.time(10, 30) <= t <= dt.time(11, 0) for t in times.values()) and times[51] != times[94]
    entries = _acquisitions(june)
    assert len(entries) == 16 and len({(t, a["product"]) for t, a in entries}) == 16
    edges = {}
    for tile, a in entries:
        edg = _mask(june / a["product"], "EDG", "R1")
        edges.setdefault(tile, []).append(edg.mean())
        fre = _fre(june / a["product"], "B4")
        assert np.array_equal(np.isnan(fre), edg == 1)
    for tile, fractions in edges.items():
        assert max(fractions) > 0.1 and min(fractions) < 0.05, tile      # one orbit cuts the tile, one covers it


def test_adjacent_orbits_fly_on_different_days_as_in_reality():
    """T31TCJ in June 2018: R051 and R094 on different days, R094 three days after R051 (mod 5), the platforms as in
    the real products (S2A R051 on 2024-01-20, S2B R051 on 2024-03-05: days 2 and 7 mod 10 from the epoch)."""
    frame = tile_frame(tile_footprint("T31TCJ"))
    acqs = orbits.acquisitions_for_tiles([frame], D(2018, 6, 1), D(2018, 6, 30))["T31TCJ"]
    days = {(o, p): [(a.date - orbits.EPOCH).days for a in acqs if (a.relative_orbit, a.platform) == (o, p)]
            for o in (51, 94) for p in ("S2A", "S2B")}
    assert all(len(v) == 3 for v in days.values()) and len(acqs) == 12
    assert {(o, p): {n % 10 for n in v} for (o, p), v in days.items()} == {
        (51, "S2A"): {2}, (51, "S2B"): {7}, (94, "S2A"): {5}, (94, "S2B"): {0}}
    d51 = {a.date for a in acqs if a.relative_orbit == 51}
    d94 = {a.date for a in acqs if a.relative_orbit == 94}
    assert not d51 & d94 and {(b - a).days % 5 for a in d51 for b in d94} == {3}
    assert [(a.date, a.platform, a.relative_orbit) for a in acqs[:4]] == [
        (D(2018, 6, 3), "S2A", 94), (D(2018, 6, 5), "S2B", 51), (D(2018, 6, 8), "S2B", 94), (D(2018, 6, 10), "S2A", 51)]
    # the real products themselves: same platform, relative and absolute orbit
    for day, platform, absolute in ((D(2024, 1, 20), "S2A", 44807), (D(2024, 3, 5), "S2B", 36542)):
        (acq,) = orbits.acquisitions_for_tiles([frame], day, day)["T31TCJ"]
        assert (acq.platform, acq.relative_orbit, acq.absolute_orbit) == (platform, 51, absolute)
    # absolute orbits count every orbit of a platform: 43 from R051 to the next R094, 143 per 10 days
    s2a = [a for a in acqs if a.platform == "S2A"]
    assert [b.absolute_orbit - a.absolute_orbit for a, b in zip(s2a, s2a[1:])] == [100, 43, 100, 43, 100]
    with pytest.raises(ValueError, match="not flown"):
        orbits._make_acquisition(D(2018, 6, 3), 1)


# --- physical plausibility ---------------------------------------------------------------------------------------
def test_july_vegetation_water_and_clouds(july):
    idx = _index(july)
    for tile, v in idx["tiles"].items():
        (month,) = v["monthly"]
        refl = _read(july / "truth" / month["files"]["REFL_R1"]).astype(np.float64) / 1e4
        cls, cover = _read(july / "truth" / month["files"]["MASKS_R1"])
        ndvi = (refl[3] - refl[2]) / (refl[3] + refl[2])
        for code in (landscape.MAIZE, landscape.DECIDUOUS):
            sel = (cover == code) & (cls == landscape.CLASS_LAND)
            assert sel.sum() > 20 and np.mean(ndvi[sel]) > 0.6, (tile, code)
        water = cls == landscape.CLASS_WATER
        assert water.any() and np.median(refl[3][water]) < 0.05
    water_nir, maize_ndvi = [], []
    for tile, a in _acquisitions(july):
        product = july / a["product"]
        cloud, shadow = decode_clm(_mask(product, "CLM", "R1"))
        mg2_water, _ = decode_mg2(_mask(product, "MG2", "R1"))
        b4, b8 = _fre(product, "B4"), _fre(product, "B8")
        cover = _read(july / "truth" / a["files"]["MASKS_R1"], 4)
        clear = ~cloud & ~shadow & np.isfinite(b8)
        water_nir.extend(b8[mg2_water & clear])
        maize_ndvi.extend(((b8 - b4) / (b8 + b4))[clear & (cover == landscape.MAIZE)])
    assert len(water_nir) > 3 and np.median(water_nir) < 0.05
    assert len(maize_ndvi) > 20 and np.mean(maize_ndvi) > 0.6


def test_snow_ndsi_and_melting(june, august):
    ndsi = []
    for tile, a in _acquisitions(june):
        if tile not in ("T31TCH", "T30TYN"):
            continue
        product = june / a["product"]
        _, snow = decode_mg2(_mask(product, "MG2", "R2"))
        b3 = _fre(product, "B3")
        b3 = b3.reshape(b3.shape[0] // 2, 2, b3.shape[1] // 2, 2).mean(axis=(1, 3))
        b11 = _fre(product, "B11")
        ok = snow & np.isfinite(b3) & np.isfinite(b11)
        ndsi.extend(((b3 - b11) / (b3 + b11))[ok])
    assert len(ndsi) > 20 and np.median(ndsi) > 0.6
    for tile in ("T31TCH", "T30TYN"):
        fraction = {}
        for root in (june, august):
            (month,) = _index(root)["tiles"][tile]["monthly"]
            cls = _read(root / "truth" / month["files"]["MASKS_R1"], 1)
            fraction[month["central_date"][5:7]] = np.mean(cls == landscape.CLASS_SNOW)
        assert fraction["06"] > 0.02 and fraction["06"] > 3 * fraction["08"], (tile, fraction)


def test_cloud_shadows_fall_away_from_the_sun():
    """Cross-correlating the true cloud and shadow masks finds the displacement the geometry predicts."""
    frame = tile_frame(tile_footprint("T31TCJ"))
    (acq,) = orbits.acquisitions_for_tiles([frame], D(2018, 6, 23), D(2018, 6, 23))["T31TCJ"]
    assert acq.relative_orbit == 94
    day = day_params(2, acq.date)
    height = 3000.0
    for layer in range(3):                    # keep one layer of cumulus at a known height
        base = 5 + 14 * layer
        day[base] = 0.0 if layer else 40.0
        day[base + 1] = height
    n = 366
    pixel = 109800 / n
    out = kernels.allocate_outputs(1, n, n)
    kernels.scene_block(frame.nodes, frame.step, pixel, 0, 0, np.array([1]), world_params(2), day,
                        orbits.track_params(acq), kernels.MODE_ACQUISITION, 1, cover_brdf_table(2),
                        quality_params(PRESETS["perfect"], 2, acq.date, acq.relative_orbit),
                        *forward_model_args("analytic", "S2A"), *out)
    u8 = out[4]
    inside = u8[kernels.U_EDGE] == 0
    cloud = ((u8[kernels.U_CLOUD] == 2) & inside).astype(float)
    shadow = ((u8[kernels.U_SHADOW] == 1) & inside).astype(float)
    assert 0.05 < cloud.mean() < 0.6 and shadow.sum() > 100
    corr = np.fft.ifft2(np.conj(np.fft.fft2(cloud - cloud.mean())) * np.fft.fft2(shadow - shadow.mean())).real
    dr, dc = np.unravel_index(np.argmax(corr), corr.shape)
    dr, dc = (dr + n // 2) % n - n // 2, (dc + n // 2) % n - n // 2
    # expected: shadow - seen cloud = h (tan(vz) u_sat - tan(sz) u_sun), ground east/north, at the block centre
    geo = np.empty((2, 1)), np.empty((13, 2, 1)), np.empty(1, np.int64)
    kernels.geometry_block(frame.nodes[2][60:61, 60], frame.nodes[3][60:61, 60], orbits.track_params(acq),
                           np.zeros(13), *geo)
    (sz, sa), (vz, va) = geo[0][:, 0], geo[1][0, :, 0]
    east = height * (np.tan(np.radians(vz)) * np.sin(np.radians(va)) - np.tan(np.radians(sz)) * np.sin(np.radians(sa)))
    north = height * (np.tan(np.radians(vz)) * np.cos(np.radians(va)) - np.tan(np.radians(sz)) * np.cos(np.radians(sa)))
    assert abs(dc - east / pixel) <= 1.5 and abs(dr + north / pixel) <= 1.5, (dr, dc, east / pixel, -north / pixel)
    # displaced away from the sun: the shift points opposite to the sun azimuth
    sun_e, sun_n = np.sin(np.radians(sa)), np.cos(np.radians(sa))
    assert dc * sun_e - dr * sun_n < 0


def test_masks_and_reflectance_against_truth(june):
    flagged, false_alarm, bright, clear_blue, missed_shadow = [], [], [], [], []
    for tile, a in _acquisitions(june):
        product = june / a["product"]
        cls, cloud_true, shadow_true, _ = _read(june / "truth" / a["files"]["MASKS_R1"])
        cloud, shadow = decode_clm(_mask(product, "CLM", "R1"))
        inside = cls > 0
        opaque = inside & (cloud_true == 2)
        clear = inside & (cloud_true == 0) & (shadow_true == 0)
        flagged.append((cloud[opaque].sum(), opaque.sum()))
        # every true shadow (water clouds or thick cirrus) is flagged cloud or shadow: none can darken a synthesis
        shaded = inside & (shadow_true == 1)
        missed_shadow.append(((~(cloud | shadow))[shaded].sum(), shaded.sum()))
        false_alarm.append(((cloud | shadow)[clear].sum(), clear.sum()))
        b2 = _fre(product, "B2")
        bright.extend(b2[opaque])
        clear_blue.extend(b2[clear & (cls == landscape.CLASS_LAND)])
        truth = _read(june / "truth" / a["files"]["REFL_R1"], 1).astype(np.float64)
        ok = clear & ~cloud & ~shadow & (cls == landscape.CLASS_LAND)
        assert np.abs(np.median(b2[ok] - truth[ok] / 1e4)) < 0.01
    hits, total = np.sum(flagged, axis=0)
    wrong, clear_total = np.sum(false_alarm, axis=0)
    assert total > 50 and hits / total > 0.95
    assert wrong / clear_total < 0.1
    missed, shaded_total = np.sum(missed_shadow, axis=0)
    assert shaded_total > 20 and missed == 0
    assert np.median(bright) > 0.25 and np.median(bright) > 3 * np.median(clear_blue)


# --- readers ----------------------------------------------------------------------------------------------------------
def test_products_read_back_with_open_l2a(july):
    from l2a import open_l2a

    tile, a = _acquisitions(july)[0]
    with open_l2a(july / a["product"]) as p:
        assert p.tile == tile and p.platform == a["platform"] and p.has_aot
        assert p.bands == ("B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12")
        assert p.shape("R1") == (120, 120) and p.shape("R2") == (60, 60)
        assert p.angles.sun.shape == (23, 23) and set(p.angles.view) >= {"B2", "B12"}
        masks = p.read_masks("R2")
        assert set(masks) >= {"cloud", "shadow", "snow", "water", "nodata"}
        aot = p.read_aot(res="R2")
        truth = _read(july / "truth" / a["files"]["ATMO_R2"], 1)
        ok = np.isfinite(aot) & np.isfinite(truth)
        assert ok.any() and np.median(np.abs(aot[ok] - truth[ok])) < 0.05
        assert np.array_equal(masks["nodata"], ~np.isfinite(truth))


def test_l1c_reads_back_within_quantisation(l1c, june):
    from l2a import open_l1c

    config = SimulationConfig(l1c, start=D(2018, 6, 8), end=D(2018, 6, 10), size=60, tiles=("T31TCJ",), seed=1,
                              level="l1c")
    run = _Run(config)
    assert sorted(a["relative_orbit"] for _, a in _acquisitions(l1c)) == [51, 94]
    for tile, a in _acquisitions(l1c):
        (acq,) = [x for x in run.plan[tile]
                  if (x.date.isoformat(), x.relative_orbit) == (a["date"], a["relative_orbit"])]
        from l2a.simulate.driver import _noise_seed
        toa = run.run_scene(tile, 1, 0, 60, _R1_IDX, day_params(1, acq.date), orbits.track_params(acq),
                            kernels.MODE_ACQUISITION, _noise_seed(1, tile, acq),
                            quality_params(run.quality, 1, acq.date, acq.relative_orbit), acq.platform)[2]
        with open_l1c(l1c / a["product"]) as p:
            assert p.platform == a["platform"] and len(p.bands) == 13 and p.grids[60].shape == (10, 10)
            assert p.radio_add_offset["B2"] == -1000 and p.quantification == 10000
            read = p.read_toa("B2")
            ok = np.isfinite(toa[0])
            assert np.array_equal(ok, np.isfinite(read))
            assert np.abs(read[ok] - toa[0][ok]).max() <= 0.5e-4 + 1e-6
            assert p.angles.sun.shape == (23, 23) and np.isfinite(p.angles.mean_view_of("B8A")).all()
        text = next((l1c / a["product"]).glob("GRANULE/*/MTD_TL.xml")).read_text()
        assert text.count('bandId="1" detectorId=') >= 2          # several detectors across the swath
    # the world does not depend on the level: same truth as the L2A run of the same seed and size
    june_files = {Path(f).name: f for _, e in _acquisitions(june) for f in e["files"].values()}
    for tile, a in _acquisitions(l1c):
        for rel in a["files"].values():
            assert (l1c / "truth" / rel).read_bytes() == (june / "truth" / june_files[Path(rel).name]).read_bytes()


# --- determinism, streaming, resume ----------------------------------------------------------------------------------
def test_same_seed_same_bytes_whatever_workers_and_blocks(tmp_path):
    kw = dict(start=D(2018, 6, 3), end=D(2018, 6, 5), size=36, tiles=("T31TCJ",))       # R094 and R051
    simulate(SimulationConfig(tmp_path / "a", seed=5, workers=1, **kw))
    simulate(SimulationConfig(tmp_path / "b", seed=5, workers=2, block_rows=6, **kw))
    simulate(SimulationConfig(tmp_path / "c", seed=6, workers=2, **kw))
    a, b, c = (_tree_digest(tmp_path / x) for x in "abc")
    assert len(a) > 50 and a == b
    fre_a = {k: v for k, v in a.items() if "_FRE_" in k}
    assert fre_a and all(c.get(k) != v for k, v in fre_a.items())
    # resume: remove one product and the index, run again: same bytes
    product = next(p for p in (tmp_path / "b").iterdir() if p.name.startswith("SENTINEL2"))
    for f in sorted(product.rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    product.rmdir()
    (tmp_path / "b" / "truth" / "index.json").unlink()
    simulate(SimulationConfig(tmp_path / "b", seed=5, workers=2, **kw))
    assert _tree_digest(tmp_path / "b") == a
    assert not any(p.name.startswith(".") for p in (tmp_path / "b").rglob("*"))


# --- command line --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["--tiles", "T31TZZ"], "tile"),
    (["--tiles", "T31TCJ,XYZ"], "tile"),
    (["--end", "2018-05-01"], "before"),
    (["--size", "41"], "even"),
    (["--size", "40", "--level", "l1c"], "multiple of 6"),
    (["--size", "10"], "size"),
    (["--start", "2018-13-01"], "start"),
])
def test_cli_bad_input_exit_2_one_line(tmp_path, capsys, args, message):
    base = {"--out": str(tmp_path / "out"), "--start": "2018-06-01", "--end": "2018-06-05", "--size": "20"}
    argv = ["simulate"]
    for k, v in base.items():
        if k not in args:
            argv += [k, v]
    code = run_cli(l2a_cli, "l2a", argv + args)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("l2a: error:") and message in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_runs(tmp_path, capsys):
    code = run_cli(l2a_cli, "l2a", ["simulate", "--out", str(tmp_path), "--tiles", "31TCJ", "--start", "2018-06-03",
                                    "--end", "2018-06-05", "--size", "20", "--seed", "2", "--workers", "1", "-q"])
    assert code == 0, capsys.readouterr().err
    products = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("SENTINEL2"))
    assert len(products) == 2 and all("_L2A_T31TCJ_C_V1-0" in p for p in products)
    assert (tmp_path / "truth" / "index.json").exists()


def test_output_path_gdal_refuses_is_one_line_and_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "new"
    while len(str(out)) < 3700:
        out = out / ("d" * 200)
    code = run_cli(l2a_cli, "l2a", ["simulate", "--out", str(out), "--tiles", "T31TCJ", "--start", "2018-07-01",
                                    "--end", "2018-07-05", "--size", "60", "-q", "--workers", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "cannot create the raster" in err
    assert list(tmp_path.iterdir()) == []  # the folders the run made are gone
