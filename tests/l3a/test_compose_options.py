"""End to end on small hand-made Theia products: which CLM bits are cloud (cloud_bits), the sun zenith of the
directional normalisation (sun = observed | central), and the MTD_ALL.xml cloud percentage over valid pixels."""

import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from real_cubes import sun_angles  # noqa: E402  (NOAA solar position, independent of l3a.solar)

from l2a.angles import Angles  # noqa: E402
from l2a.brdf import model_reflectance, relative_azimuth  # noqa: E402
from l2a.formats.theia.writer import L2AMetadata, write_l2a  # noqa: E402
from l2a.grid import Grid  # noqa: E402
from l2a.io.xmldoc import parse_xml  # noqa: E402
from l3a.compose import compose  # noqa: E402
from l3a.flags import FLG_CLOUD, FLG_LAND, FLG_NODATA  # noqa: E402
from l3a.params import WASP, CompositeParams  # noqa: E402
from l3a.product import open_l3a  # noqa: E402

UTC = dt.timezone.utc
CRS = "EPSG:32631"
ULX, ULY = 300000.0, 4900020.0  # T31TCJ, about 44.2 N 0.5 E
LON, LAT = 0.53, 44.2
SIZE = 48  # R1 pixels (10 m); R2 24 x 24
R1_BANDS, R2_BANDS = ("B2", "B4", "B8"), ("B11",)
VIEW = (8.0, 100.0)  # view zenith and azimuth of every band, degrees
NO_BRDF = dataclasses.replace(CompositeParams(), brdf=False)


def write_product(folder, when, *, platform="S2A", reflectance=None, clm=0, edg=0):
    """A small Theia L2A product; constant mean angles (the sun's for ``when`` at the tile), reflectance per band
    (default: the BRDF model's at that geometry, x 10000), CLM and EDG given at R1 (R2 takes every other pixel)."""
    sza, saz = (float(a[0]) for a in sun_angles(when, np.array([LON]), np.array([LAT])))
    raa = float(relative_azimuth(saz, VIEW[1]))
    grids = {"R1": Grid(Affine(10.0, 0, ULX, 0, -10.0, ULY), SIZE, SIZE),
             "R2": Grid(Affine(20.0, 0, ULX, 0, -20.0, ULY), SIZE // 2, SIZE // 2)}
    bands = {}
    for b in R1_BANDS + R2_BANDS:
        n = SIZE if b in R1_BANDS else SIZE // 2
        value = reflectance[b] if reflectance else np.rint(10000.0 * model_reflectance(b, sza, VIEW[0], raa))
        bands[b] = np.full((n, n), value, np.int16)
    masks = {}
    for res, step in (("R1", 1), ("R2", 2)):
        for kind, plane in (("CLM", clm), ("EDG", edg)):
            masks[(kind, res)] = np.broadcast_to(np.asarray(plane, np.uint8), (SIZE, SIZE))[::step, ::step].copy()
        masks[("MG2", res)] = np.zeros_like(masks[("CLM", res)])
        masks[("SAT", res)] = np.zeros_like(masks[("CLM", res)])
    angles = Angles(mean_sun=(sza, saz), mean_view={b: VIEW for b in R1_BANDS + R2_BANDS})
    meta = L2AMetadata(platform=platform, tile="T31TCJ", datetime=when, crs=CRS, grids=grids,
                       bands=R1_BANDS + R2_BANDS, angles=angles)
    return write_l2a(folder, meta, bands, masks)


def frc(path):
    product = open_l3a(path)
    return {b: product.read_frc(b) for b in R1_BANDS + R2_BANDS}


def recorded_params(path):
    product = open_l3a(path)
    root = parse_xml(path / "DATA" / f"{product.name}_IPP_ALL.xml")
    return {el.get("name"): el.text for el in root.iter("PARAMETER")}


# ------------------------------------------------------------------------------------------ cloud bits


@pytest.fixture(scope="module")
def thin_clouds(tmp_path_factory):
    """Three clear dates whose left half carries only CLM bit 4 ("thinnest clouds") on every date."""
    folder = tmp_path_factory.mktemp("thin")
    clm = np.zeros((SIZE, SIZE), np.uint8)
    clm[:, :SIZE // 2] = 1 << 4
    values = {"B2": 400, "B4": 600, "B8": 3000, "B11": 2000}
    return [write_product(folder, dt.datetime(2023, 6, day, 10, 50, tzinfo=UTC), reflectance=values, clm=clm)
            for day in (8, 13, 18)]


def test_default_cloud_bits_ignore_a_thinnest_cloud_only_pixel(thin_clouds, tmp_path):
    central = dt.date(2023, 6, 15)
    default = compose(thin_clouds, central, NO_BRDF, tmp_path / "default")
    flg = open_l3a(default).read_mask("FLG", "R1")
    assert np.all(flg == FLG_LAND)
    wgt = open_l3a(default).read_mask("WGT", "R1")
    assert np.all(wgt == wgt[0, -1])  # no cloud weight either: the coarse mask reads the same bits
    assert json.loads(recorded_params(default)["cloud_bits"]) == 1
    any_bit = compose(thin_clouds, central, dataclasses.replace(NO_BRDF, cloud_bits=255), tmp_path / "any")
    flg = open_l3a(any_bit).read_mask("FLG", "R1")
    assert np.all(flg[:, :SIZE // 2] == FLG_CLOUD) and np.all(flg[:, SIZE // 2:] == FLG_LAND)
    only_thin = compose(thin_clouds, central, dataclasses.replace(NO_BRDF, cloud_bits=1 << 4), tmp_path / "thin")
    assert np.array_equal(open_l3a(only_thin).read_mask("FLG", "R1"), flg)


# ------------------------------------------------------------------------------------------ sun geometry


def _truth(central_time):
    """Reflectance x 10000 of the model surface at nadir view under the central date's sun (NOAA)."""
    sza, _ = sun_angles(central_time, np.array([LON]), np.array([LAT]))
    nadir = np.zeros(1)
    return {b: float(10000.0 * model_reflectance(b, sza, nadir, nadir)[0]) for b in R1_BANDS + R2_BANDS}


def test_sun_central_normalises_a_spring_window_to_the_central_sun(tmp_path):
    """A surface following the BRDF model, seen on three dates of a +-23-day spring window (unevenly spread, as
    clouds leave them): sun = central gives the central date's nadir reflectance to within a DN, sun = observed is
    biased by the dates' sun; both agree with the other profiles' choice (WASP: observed)."""
    central = dt.date(2023, 3, 15)
    clock = dt.time(10, 50, tzinfo=UTC)
    dates = [dt.datetime.combine(central + dt.timedelta(days=d), clock) for d in (-21, -12, 2)]
    paths = [write_product(tmp_path / "in", when) for when in dates]
    observed = compose(paths, central, dataclasses.replace(CompositeParams(), sun="observed"), tmp_path / "observed")
    central_sun = compose(paths, central, dataclasses.replace(CompositeParams(), sun="central"), tmp_path / "central")
    truth = _truth(dt.datetime.combine(central, clock))
    got_observed, got_central = frc(observed), frc(central_sun)
    for b in R1_BANDS + R2_BANDS:
        assert np.all(got_central[b] == got_central[b][0, 0]), b  # constant angles: a constant composite
        assert abs(got_central[b][0, 0] - truth[b]) <= 1.0, (b, got_central[b][0, 0], truth[b])
    biases = [abs(got_observed[b][0, 0] - truth[b]) for b in R1_BANDS + R2_BANDS]
    assert max(biases) > 10.0, biases  # the dates' lower sun darkens the nadir reflectance by tens of DN
    assert recorded_params(central_sun)["sun"] == "central" and recorded_params(observed)["sun"] == "observed"
    wasp = compose(paths, central, WASP, tmp_path / "wasp")
    assert recorded_params(wasp)["sun"] == "observed"


def test_sun_central_and_observed_agree_when_every_date_is_the_central_date(tmp_path):
    central = dt.date(2023, 3, 15)
    paths = [write_product(tmp_path / "in", dt.datetime(2023, 3, 15, 10, 50, tzinfo=UTC), platform="S2A"),
             write_product(tmp_path / "in", dt.datetime(2023, 3, 15, 11, 20, tzinfo=UTC), platform="S2B")]
    observed = frc(compose(paths, central, dataclasses.replace(CompositeParams(), sun="observed"),
                           tmp_path / "observed"))
    central_sun = frc(compose(paths, central, dataclasses.replace(CompositeParams(), sun="central"),
                              tmp_path / "central"))
    for b in R1_BANDS + R2_BANDS:
        np.testing.assert_array_equal(central_sun[b], observed[b], err_msg=b)


# ------------------------------------------------------------------------------------------ MTD_ALL.xml


def test_mtd_cloud_percent_counts_valid_pixels_only(tmp_path):
    """Half the tile outside the swath on every date (FLG 0), a quarter of the rest always cloudy: CloudPercent is
    25 % of the valid pixels (12.5 % of the tile would count the no-data)."""
    edg = np.zeros((SIZE, SIZE), np.uint8)
    edg[:, SIZE // 2:] = 1
    clm = np.zeros((SIZE, SIZE), np.uint8)
    clm[:SIZE // 4, :SIZE // 2] = 0b00000111  # bit 0 and the cloud bits
    values = {"B2": 400, "B4": 600, "B8": 3000, "B11": 2000}
    paths = [write_product(tmp_path / "in", dt.datetime(2023, 6, day, 10, 50, tzinfo=UTC), reflectance=values,
                           clm=clm, edg=edg) for day in (10, 20)]
    out = compose(paths, dt.date(2023, 6, 15), NO_BRDF, tmp_path / "out")
    product = open_l3a(out)
    flg = product.read_mask("FLG", "R2")
    assert (flg == FLG_NODATA).mean() == 0.5
    root = parse_xml(out / f"{product.name}_MTD_ALL.xml")
    percent = {el.get("name"): float(el.text) for el in root.iter("QUALITY_INDEX")}
    valid = flg != FLG_NODATA
    assert percent["CloudPercent"] == pytest.approx(100.0 * (flg[valid] == FLG_CLOUD).mean(), abs=1e-3)
    assert percent["CloudPercent"] == pytest.approx(25.0, abs=1e-3)
    assert percent["NoDataPercent"] == pytest.approx(50.0, abs=1e-3)
    stac = json.loads((out / f"{product.name}_STAC.json").read_text())
    assert stac["properties"]["syntheo:cloud_percent"] == pytest.approx(25.0, abs=1e-3)


# ------------------------------------------------------------------------------------------ command line


def test_cli_sun_and_cloud_bits(thin_clouds, tmp_path, capsys):
    from l3a.cli import main as l3a_main

    with pytest.raises(SystemExit) as exc:
        l3a_main(["-q", "compose", *map(str, thin_clouds), "--tile", "T31TCJ", "--date", "2023-06-15",
                  "--sun", "central", "--cloud-bits", "0,4", "--out", str(tmp_path)])
    assert exc.value.code == 0
    product = Path(capsys.readouterr().out.strip().splitlines()[-1])
    record = recorded_params(product)
    assert record["sun"] == "central" and json.loads(record["cloud_bits"]) == 0b10001
    assert np.all(open_l3a(product).read_mask("FLG", "R1")[:, :SIZE // 2] == FLG_CLOUD)


@pytest.mark.parametrize("args, message", [(["--cloud-bits", "8"], "cloud_bits"),
                                           (["--cloud-bits", "0,x"], "cloud_bits"),
                                           (["--sun", "noon"], "noon")])
def test_cli_bad_sun_or_cloud_bits_exit_2(thin_clouds, tmp_path, capsys, args, message):
    from l3a.cli import main as l3a_main

    with pytest.raises(SystemExit) as exc:
        l3a_main(["compose", *map(str, thin_clouds), "--tile", "T31TCJ", "--date", "2023-06-15", *args,
                  "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.splitlines()
    assert exc.value.code == 2 and err[-1].startswith("l3a: error: ") and message in err[-1]
