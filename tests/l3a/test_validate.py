"""Accuracy of syntheses against the simulator's ground truth (l3a.validate), end to end at a small size."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import numpy as np
import pytest

from l2a.simulate import SimulationConfig, simulate
from l3a import CompositeParams, compose
from l3a.cli import main as l3a_main
from l3a.flags import FLG_CLOUD, FLG_LAND, FLG_NODATA, FLG_SNOW, FLG_WATER
from l3a.validate import TARGETS, ValidationParams, _expected_flags, _quantiles, validate_synthesis
from l2a.errors import InvalidParameterError

D = dt.date


@pytest.fixture(scope="module")
def july(tmp_path_factory):
    """One tile, a whole July window of acquisitions at 240 px (457.5 m pixels), and its truth."""
    out = tmp_path_factory.mktemp("sim-july")
    simulate(SimulationConfig(out, start=D(2018, 6, 24), end=D(2018, 8, 6), tiles=("T31TCJ",), size=240, seed=5,
                              workers=2))
    return out


@pytest.fixture(scope="module")
def july_l3a(july, tmp_path_factory):
    products = sorted(p for p in july.iterdir() if p.name.startswith("SENTINEL2"))
    return compose(products, D(2018, 7, 15), CompositeParams(), tmp_path_factory.mktemp("l3a"), tile="T31TCJ",
                   threads=2)


def test_monthly_synthesis_meets_the_accuracy_figures(july, july_l3a):
    result = validate_synthesis(july_l3a, july)
    summary = result["summary"]
    assert result["dates"] >= 14
    for res, r in result["resolutions"].items():
        for band, figures in r["reflectance"].items():
            slow = figures["slow"]
            assert slow["pixels"] > 1000, (res, band)
            assert slow["median"] <= TARGETS["median"], (band, slow)
            assert slow["p99"] <= TARGETS["p99"], (band, slow)
        assert r["flags"]["agreement"] >= TARGETS["flag_agreement"], r["flags"]
    assert summary["worst"]["cloud_leaks"] == 0
    assert summary["met"]["no_cloud_leak"]
    # a swath edge of the partial orbit crosses this tile: the seam measure is computed, band by band
    seams = result["resolutions"]["R1"]["seams"]
    assert set(seams) == {"B2", "B3", "B4", "B8"}
    assert all(s["edge_pairs"] > 100 and 0.5 < s["ratio"] < 2.0 for s in seams.values())


def test_short_window_always_cloudy_pixels_are_flg_1(july, tmp_path):
    """With a 3-day half window few dates remain: pixels cloudy in each of them must be FLG 1, never land."""
    products = sorted(p for p in july.iterdir() if p.name.startswith("SENTINEL2"))
    path = compose(products, D(2018, 7, 15), CompositeParams(half_window_days=3), tmp_path, tile="T31TCJ")
    result = validate_synthesis(path, july)
    cloudy = [r["always_cloudy"] for r in result["resolutions"].values()]
    assert sum(c["pixels"] for c in cloudy) > 0, "the short window should leave always-cloudy truth pixels"
    assert all(set(c["flg"]) == {str(FLG_CLOUD)} for c in cloudy)
    # the only disagreements: the L2A masks are dilated around clouds and shadows, so with so few dates a pixel whose
    # single truly clear view is near a cloud stays "always cloudy" (FLG 1); never the other way round
    for r in result["resolutions"].values():
        assert all(k.endswith(f"->{FLG_CLOUD}") for k in r["flags"]["disagreements"]), r["flags"]


def test_cli_validate_prints_json_and_checks(july, july_l3a, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        l3a_main(["validate", str(july_l3a), "--truth", str(july / "truth"), "--check"])
    out = json.loads(capsys.readouterr().out)
    assert out["product"] == july_l3a.name and set(out["resolutions"]) == {"R1", "R2"}
    # --check: exit 0 only when every target is met (B4/B12 seam ratios may carry landscape noise at this size)
    assert exc.value.code == (0 if all(v for v in out["summary"]["met"].values() if v is not None) else 1)
    # --summary: the worst figures only
    with pytest.raises(SystemExit) as exc:
        l3a_main(["validate", str(july_l3a), "--truth", str(july), "--summary"])
    short = json.loads(capsys.readouterr().out)
    assert exc.value.code == 0 and set(short) == {"product", "worst", "targets", "met"}
    assert short["worst"] == out["summary"]["worst"]
    # a truth folder that is not one: one error line, exit 2
    with pytest.raises(SystemExit) as exc:
        l3a_main(["validate", str(july_l3a), "--truth", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and err[0].startswith("l3a: error: ") and "index.json" in err[0]


def test_truth_of_another_simulation_is_refused(july, july_l3a, tmp_path):
    other = tmp_path / "truth"
    shutil.copytree(july / "truth", other)
    index = json.loads((other / "index.json").read_text())
    index["tiles"]["T31TCJ"]["acquisitions"] = index["tiles"]["T31TCJ"]["acquisitions"][1:]
    (other / "index.json").write_text(json.dumps(index))
    with pytest.raises(Exception, match="is not in this truth"):
        validate_synthesis(july_l3a, other)


# --- the reference rules, on hand-made truth --------------------------------------------------------------------

def _flags(classes, cloudy, weights=None, rule="weighted"):
    cls = np.array(classes, np.uint8)[:, None, None]
    cl = np.array(cloudy, bool)[:, None, None]
    w = np.ones(cls.shape) if weights is None else np.array(weights, float)[:, None, None]
    return int(_expected_flags(cls, cl, w, rule)[0, 0])


@pytest.mark.parametrize("classes, cloudy, weights, rule, expected", [
    ([FLG_LAND, FLG_WATER, FLG_SNOW], [0, 0, 0], None, "weighted", FLG_LAND),      # any land wins
    ([FLG_LAND, FLG_WATER], [1, 0], None, "weighted", FLG_WATER),                  # cloudy land is not land
    ([FLG_WATER, FLG_SNOW], [0, 0], [0.3, 0.7], "weighted", FLG_SNOW),            # larger summed weight
    ([FLG_SNOW, FLG_WATER, FLG_WATER], [0, 0, 0], [0.9, 0.4, 0.4], "weighted", FLG_SNOW),
    ([FLG_SNOW, FLG_WATER], [0, 0], [0.9, 0.1], "latest", FLG_WATER),              # wasp: the latest one
    ([FLG_LAND, FLG_NODATA], [1, 0], None, "weighted", FLG_CLOUD),                # observed, never clear
    ([FLG_NODATA, FLG_NODATA], [0, 0], None, "weighted", FLG_NODATA),
])
def test_expected_flag_rules(classes, cloudy, weights, rule, expected):
    assert _flags(classes, cloudy, weights, rule) == expected


def test_quantiles_are_exact_nearest_rank():
    values = np.array([0, 1, 1, 2, 3, 5, 8, 13, 21, 300])
    hist = np.bincount(values, minlength=20001)
    q = _quantiles(hist)
    assert q["pixels"] == 10 and q["median"] == pytest.approx(3e-4) and q["p99"] == pytest.approx(300e-4)
    assert _quantiles(np.zeros(5, np.int64))["median"] is None


def test_validation_params_are_checked():
    with pytest.raises(InvalidParameterError):
        ValidationParams(slow_change_max=0)
    with pytest.raises(InvalidParameterError):
        ValidationParams(seam_inner_m=(3000.0, 1000.0))
    with pytest.raises(InvalidParameterError):
        ValidationParams(block_rows=7)


def _every_acquisition(change):
    def damage(index):
        for a in index["tiles"]["T31TCJ"]["acquisitions"]:
            change(a)
    return damage


BAD_INDEXES = {
    "no tiles": (lambda index: index.pop("tiles"), None, "the truth has no tile T31TCJ"),
    "tiles an array": (lambda index: index.update(tiles=[]), None, "tiles is an array, expected an object"),
    "tile a string": (lambda index: index["tiles"].update(T31TCJ="x"), None, "tiles.T31TCJ is a string"),
    "no acquisitions": (lambda index: index["tiles"]["T31TCJ"].pop("acquisitions"), None,
                        "tiles.T31TCJ has no 'acquisitions'"),
    "acquisition null": (lambda index: index["tiles"]["T31TCJ"]["acquisitions"].append(None), None,
                         "is null, expected an object"),
    "product null": (_every_acquisition(lambda a: a.update(product=None)), None,
                     "acquisitions[0].product is null, expected a string"),
    "orbit a string": (_every_acquisition(lambda a: a.update(relative_orbit="51")), None,
                       "relative_orbit is a string, expected an integer"),
    "orbit a boolean": (_every_acquisition(lambda a: a.update(relative_orbit=True)), None,
                        "relative_orbit is a boolean, expected an integer"),
    "datetime not ISO": (_every_acquisition(lambda a: a.update(datetime="yesterday")), None,
                         "'yesterday' is not an ISO date and time"),
    "datetime a number": (_every_acquisition(lambda a: a.update(datetime=2018)), None,
                          "datetime is an integer, expected a string"),
    "files an array": (_every_acquisition(lambda a: a.update(files=[])), None, "files is an array"),
    "file a number": (_every_acquisition(lambda a: a["files"].update(REFL_R1=1.5)), None,
                      "files.REFL_R1 is a number, expected a string"),
    "file missing": (_every_acquisition(lambda a: a["files"].pop("MASKS_R2")), None, "files has no 'MASKS_R2'"),
    "monthly an object": (lambda index: index["tiles"]["T31TCJ"].update(monthly={}), None,
                          "tiles.T31TCJ.monthly is an object, expected an array"),
    "month a number": (lambda index: index["tiles"]["T31TCJ"]["monthly"].insert(0, 7), None,
                       "tiles.T31TCJ.monthly[0] is an integer, expected an object"),
    "monthly file missing": (lambda index: [m["files"].pop("REFL_R2") for m in index["tiles"]["T31TCJ"]["monthly"]],
                             None, "files has no 'REFL_R2'"),
    "document an array": (None, "[1, 2]", "truth index is an array, expected an object"),
}


@pytest.mark.parametrize("case", sorted(BAD_INDEXES))
def test_malformed_truth_index_is_refused_in_one_line(july, july_l3a, tmp_path, capsys, case):
    """Missing keys and values of the wrong JSON type in the truth index: one line naming the file and the place,
    exit 2 (never a KeyError or TypeError traceback)."""
    damage, text, words = BAD_INDEXES[case]
    truth = tmp_path / "truth"
    truth.mkdir()
    if text is None:
        index = json.loads((july / "truth" / "index.json").read_text())
        damage(index)
        text = json.dumps(index)
    (truth / "index.json").write_text(text)
    with pytest.raises(SystemExit) as exc:
        l3a_main(["validate", str(july_l3a), "--truth", str(truth)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"l3a: error: {truth / 'index.json'}: ") and words in err, err


def test_deeply_nested_parameter_in_ipp_is_one_line(july, july_l3a, tmp_path, capsys):
    product = shutil.copytree(july_l3a, tmp_path / july_l3a.name)
    ipp = product / "DATA" / f"{product.name}_IPP_ALL.xml"
    text = ipp.read_text()
    start = text.index('<PARAMETER name="')
    end = text.index("</PARAMETER>", start)
    head = text[:text.index(">", start) + 1]
    ipp.write_text(head + "[" * 100000 + "]" * 100000 + text[end:])
    with pytest.raises(SystemExit) as exc:
        l3a_main(["validate", str(product), "--truth", str(july / "truth")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and "nested too deeply" in err[0] and "IPP_ALL.xml" in err[0]
