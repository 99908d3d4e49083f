"""L3AWriter: rasters finished in the background, per resolution, what a failure there leaves, and the overwrite
policy; the reader's check of every raster's kind (RASTER_KINDS) when a product is opened."""

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

import l2a.io.cog
from l2a.cli_options import run_cli
from l2a.grid import Grid
from l2a.errors import ProductExistsError, RasterKindError
from l3a.product import MASK_KINDS, RASTER_KINDS, L3AMetadata, open_l3a
from l3a.writer import L3AWriter

BANDS = ("B2", "B3", "B4", "B8", "B11")


def _meta(size: int = 640) -> L3AMetadata:
    grids = {"R1": Grid(Affine(10.0, 0.0, 300000.0, 0.0, -10.0, 4900020.0), size, size),
             "R2": Grid(Affine(20.0, 0.0, 300000.0, 0.0, -20.0, 4900020.0), size // 2, size // 2)}
    return L3AMetadata(tile="T31TCJ", central_date=dt.date(2018, 7, 15), half_window_days=23,
                       crs=CRS.from_epsg(32631), grids=grids, bands=BANDS, platforms=("SENTINEL2A",))


def _write(out_dir: Path, finish_early: bool, size: int = 640) -> Path:
    """Write a product block by block (R1 then R2, 2 blocks each), optionally finishing each group early."""
    meta = _meta(size)
    rng = np.random.default_rng(3)
    with L3AWriter(out_dir, meta, threads=1) as writer:
        for res, grid in meta.grids.items():
            half = grid.height // 2
            for row in (0, half):
                win = Window(0, row, grid.width, half)
                for b in BANDS:
                    if (b in ("B2", "B3", "B4", "B8")) == (res == "R1"):
                        writer.write_frc(b, rng.integers(0, 3000, (half, grid.width), dtype=np.int16), win)
                writer.write_mask("WGT", res, rng.integers(0, 5000, (half, grid.width), dtype=np.int16), win)
                writer.write_mask("DTS", res, np.full((half, grid.width), 195, np.int16), win)
                writer.write_mask("FLG", res, rng.integers(0, 5, (half, grid.width), dtype=np.uint8), win)
                writer.write_mask("NOB", res, rng.integers(0, 10, (half, grid.width), dtype=np.uint8), win)
            if finish_early:
                writer.finish(res)
    return writer.path


def _raster_digests(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.tif"))}


def _fail_finishing(monkeypatch, marker: str) -> None:
    """Make finishing the raster whose path holds ``marker`` fail as a full disk would."""
    close = l2a.io.cog.CogWriter.close

    def failing_close(self):
        if marker in self.path:
            raise OSError("disk full (simulated)")
        return close(self)

    monkeypatch.setattr(l2a.io.cog.CogWriter, "close", failing_close)


def test_finishing_early_gives_the_same_rasters(tmp_path):
    early = _write(tmp_path / "early", finish_early=True)
    late = _write(tmp_path / "late", finish_early=False)
    assert _raster_digests(early) == _raster_digests(late)
    assert len(_raster_digests(early)) == len(BANDS) + 8
    product = open_l3a(early)
    assert product.read_frc("B11").shape == (320, 320)


def test_failure_while_finishing_in_the_background_leaves_nothing(tmp_path, monkeypatch):
    _fail_finishing(monkeypatch, "_FLG_R1")
    with pytest.raises(OSError, match="disk full"):
        _write(tmp_path, finish_early=True)
    assert list(tmp_path.iterdir()) == []


def test_bench_deflate_compares_levels_per_kind(tmp_path):
    import json
    import subprocess
    import sys

    product = _write(tmp_path, finish_early=True)
    script = Path(__file__).resolve().parents[2] / "scripts" / "bench_deflate.py"
    out = subprocess.run([sys.executable, str(script), str(product), "--levels", "1,9"], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()
    assert len(out) == 1
    result = json.loads(out[0])
    assert result["levels"] == [1, 9]
    assert set(result["per_kind"]) == {"FRC", "WGT", "DTS", "FLG", "NOB"}
    for row in result["per_kind"].values():
        assert row["1"]["size_ratio"] == 1.0 and row["9"]["mb"] > 0
    # the random FRC test data does not compress: level 9 cannot shrink it by much
    assert result["per_kind"]["FRC"]["9"]["size_ratio"] > 0.9


def test_writing_after_finish_is_an_error(tmp_path):
    from l3a.errors import L3AError

    meta = _meta()
    g = meta.grids["R2"]
    with pytest.raises(L3AError, match="finished already"):
        with L3AWriter(tmp_path, meta, threads=1) as writer:
            writer.finish("R2")
            writer.write_frc("B11", np.zeros((g.height, g.width), np.int16))
    assert list(tmp_path.iterdir()) == []


def test_background_failure_stops_the_run_at_the_next_finish(tmp_path, monkeypatch):
    _fail_finishing(monkeypatch, "_FRC_B2")
    meta = _meta()
    reached = []
    with pytest.raises(OSError, match="disk full"):
        with L3AWriter(tmp_path, meta, threads=1) as writer:
            writer.finish("R1")
            writer._finisher.submit(lambda: None).result()  # the R1 closes, queued before it, are done
            writer.finish("R2")
            reached.append(True)
    assert not reached
    assert list(tmp_path.iterdir()) == []


def test_existing_product_is_kept_unless_overwrite(tmp_path, monkeypatch):
    first = _write(tmp_path, finish_early=False)
    digests = _raster_digests(first)
    with pytest.raises(ProductExistsError, match="already exists"):
        L3AWriter(tmp_path, _meta(), threads=1)
    # a failed overwrite leaves the old product as it was, and nothing else
    _fail_finishing(monkeypatch, "_FRC_B2")
    with pytest.raises(OSError, match="disk full"):
        with L3AWriter(tmp_path, _meta(), threads=1, overwrite=True) as writer:
            writer.finish("R1")
    assert [p.name for p in tmp_path.iterdir()] == [first.name]
    assert _raster_digests(first) == digests
    monkeypatch.undo()
    with L3AWriter(tmp_path, _meta(), threads=1, overwrite=True) as writer:
        g = writer.meta.grids["R1"]
        writer.write_frc("B2", np.full((g.height, g.width), 7, np.int16))
    assert [p.name for p in tmp_path.iterdir()] == [first.name]
    assert open_l3a(first).read_frc("B2")[0, 0] == 7


# --- rasters of the wrong kind ----------------------------------------------------------------------------------
def test_writer_writes_every_raster_as_raster_kinds_says(tmp_path):
    """The writer and the reader's check share one table: what is written passes the check it describes."""
    product = _write(tmp_path, finish_early=False, size=64)
    seen = set()
    for path in product.rglob("*.tif"):
        kind = path.stem.split("_")[-2] if "MASKS" in path.parts else "FRC"
        seen.add(kind)
        dtype, nodata, _ = RASTER_KINDS[kind]
        with rasterio.open(path) as ds:
            assert (ds.count, ds.dtypes[0], ds.nodata) == (1, dtype, nodata), path.name
    assert seen == set(RASTER_KINDS) and set(MASK_KINDS) == set(RASTER_KINDS) - {"FRC"}


@pytest.fixture(scope="module")
def small_l3a(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("small-l3a"), finish_early=False, size=64)


def _rewrite(path: Path, dtype, count: int = 1) -> None:
    """Replace a raster by one of another data type or band count on the same grid."""
    with rasterio.open(path) as ds:
        profile = dict(crs=ds.crs, transform=ds.transform, height=ds.height, width=ds.width)
    path.unlink()
    with rasterio.open(path, "w", driver="GTiff", count=count, dtype=dtype, **profile) as ds:
        ds.write(np.ones((count, profile["height"], profile["width"]), dtype))


def _to_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _run(prog: str, args, capsys) -> tuple[int, str]:
    if prog == "l3a":
        from l3a.cli import cli as group
    else:
        from mosaic.cli import cli as group
    capsys.readouterr()
    code = run_cli(group, prog, [str(a) for a in args])
    return code, capsys.readouterr().err


WRONG_KINDS = [
    ("*_FRC_B4.tif", lambda f: _rewrite(f, np.float32), "FRC B4 raster is stored as float32, expected int16"),
    ("*_FRC_B2.tif", lambda f: _rewrite(f, np.uint16), "FRC B2 raster is stored as uint16, expected int16"),
    ("*_FRC_B11.tif", lambda f: _rewrite(f, np.int16, 2), "FRC B11 raster has 2 band(s), expected 1"),
    ("MASKS/*_WGT_R1.tif", lambda f: _rewrite(f, np.uint8), "WGT mask is stored as uint8, expected int16"),
    ("MASKS/*_DTS_R2.tif", lambda f: _rewrite(f, np.complex64), "DTS mask is stored as complex64, expected int16"),
    ("MASKS/*_FLG_R1.tif", lambda f: _rewrite(f, np.int16), "FLG mask is stored as int16, expected uint8"),
    ("MASKS/*_FLG_R2.tif", lambda f: _rewrite(f, np.uint8, 2), "FLG mask has 2 band(s), expected 1"),
    ("MASKS/*_NOB_R1.tif", lambda f: _rewrite(f, np.uint8, 3), "NOB mask has 3 band(s), expected 1"),
    ("MASKS/*_WGT_R2.tif", _to_folder, "WGT mask is a folder"),
]


def test_intact_product_passes_info_and_mosaic_build(small_l3a, tmp_path, capsys):
    """The control of the refusals below: the product they damage is read by both commands."""
    code, err = _run("l3a", ["info", small_l3a], capsys)
    assert code == 0, err
    code, err = _run("mosaic", ["-q", "build", small_l3a, "--crs", "EPSG:32631", "--res", "100", "--out",
                                tmp_path / "m"], capsys)
    assert code == 0 and (tmp_path / "m" / "mosaic.tif").exists(), err


@pytest.mark.parametrize("pattern, damage, words", WRONG_KINDS)
def test_raster_of_the_wrong_kind_is_refused_at_open(small_l3a, tmp_path, capsys, pattern, damage, words):
    product = tmp_path / small_l3a.name
    shutil.copytree(small_l3a, product)
    found = sorted(product.glob(pattern))
    assert len(found) == 1, found
    target = found[0]
    damage(target)
    with pytest.raises(RasterKindError, match=target.name):
        open_l3a(product)
    for prog, args in (("l3a", ["info", product]),
                       ("mosaic", ["-q", "build", product, "--crs", "EPSG:32631", "--res", "100", "--out",
                                   tmp_path / "out"])):
        before = sorted(p.name for p in tmp_path.iterdir())
        code, err = _run(prog, args, capsys)
        assert code == 2, err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith(f"{prog}: error: {target}: {words}"), err
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, not even an empty folder
