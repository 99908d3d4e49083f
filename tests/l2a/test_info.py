"""`l2a info` and the Theia-like products written from the real netCDF cubes."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from real_cubes import load_cube, write_sen2cor_like, write_theia_like, zip_product  # noqa: E402

from l2a import open_l2a  # noqa: E402
from l2a.cli import main as l2a_main  # noqa: E402
from l2a.info import product_summary  # noqa: E402

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def cube():
    return load_cube("cdse_sentinel2_l2a")


def _scl_percentages(scl):
    valid = scl != 0
    n = valid.sum()
    cloud = ((scl >= 8) & (scl <= 10)) | (scl == 3)
    return {"cloud_percent": 100 * (cloud & valid).sum() / n, "water_percent": 100 * ((scl == 6) & valid).sum() / n,
            "snow_percent": 100 * ((scl == 11) & valid).sum() / n, "nodata_percent": 100 * (~valid).mean()}


@pytest.mark.parametrize("index", [0, 5])
def test_theia_like_product_from_cube_reads_back(cube, tmp_path, index):
    path = write_theia_like(cube, index, tmp_path)
    with open_l2a(path) as p:
        assert p.format == "theia" and p.platform == "S2B" and p.crs == cube.crs
        for b, data in cube.bands.items():
            if b in p.bands and b in ("B4", "B8"):
                dn = data[index]
                assert np.array_equal(p.read_band(b), np.where(dn == 0, -10000, dn))
        m = p.read_masks("R1")
        scl = cube.scl[index]
        assert np.array_equal(m["cloud"], (scl >= 8) & (scl <= 10))
        assert np.array_equal(m["shadow"], scl == 3)
        assert np.array_equal(m["nodata"], scl == 0)
        if cube.aot is not None:
            aot = p.read_aot()
            ok = (cube.aot[index] > 0) & (scl > 0)
            assert np.allclose(aot[ok], cube.aot[index][ok] / 1000.0, atol=0.0026)


def test_info_percentages_come_from_the_masks(cube, tmp_path):
    index = 3
    theia = write_theia_like(cube, index, tmp_path / "t")
    safe = write_sen2cor_like(cube, index, tmp_path / "s")
    # both products map SCL at 20 m (upper-left pixel of each 2x2 block)
    expected = _scl_percentages(cube.scl[index][::2, ::2])
    for path in (theia, safe, zip_product(safe)):
        with open_l2a(path) as p:
            s = product_summary(p)
        for k, v in expected.items():
            assert s[k] == pytest.approx(v, abs=1e-3), (path, k)
        assert s["tile"].startswith("T") and s["bands"]["B4"]["res"] == "R1"


def test_info_cli_prints_one_json_line(cube, tmp_path, capsys):
    path = write_theia_like(cube, 0, tmp_path)
    with pytest.raises(SystemExit) as exc:
        l2a_main(["info", str(path)])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and out.count("\n") == 1
    summary = json.loads(out)
    assert summary["format"] == "theia" and summary["datetime"].startswith(cube.times[0].strftime("%Y-%m-%d"))
    with pytest.raises(SystemExit):
        l2a_main(["info", "--indent", "2", str(path)])
    assert capsys.readouterr().out.count("\n") > 10


def test_info_on_a_folder_of_several_products_is_an_error(cube, tmp_path, capsys):
    write_theia_like(cube, 0, tmp_path)
    write_theia_like(cube, 1, tmp_path)
    with pytest.raises(SystemExit) as exc:
        l2a_main(["info", str(tmp_path)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "holds 2 products" in err and err.count("\n") == 1
