"""L3AWriter: rasters finished in the background, per resolution, what a failure there leaves, and the overwrite
policy."""

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

import l2a.io.cog
from l2a.grid import Grid
from l2a.errors import ProductExistsError
from l3a.product import L3AMetadata, open_l3a
from l3a.writer import L3AWriter

BANDS = ("B2", "B3", "B4", "B8", "B11")


def _meta(size: int = 640) -> L3AMetadata:
    grids = {"R1": Grid(Affine(10.0, 0.0, 300000.0, 0.0, -10.0, 4900020.0), size, size),
             "R2": Grid(Affine(20.0, 0.0, 300000.0, 0.0, -20.0, 4900020.0), size // 2, size // 2)}
    return L3AMetadata(tile="T31TCJ", central_date=dt.date(2018, 7, 15), half_window_days=23,
                       crs=CRS.from_epsg(32631), grids=grids, bands=BANDS, platforms=("SENTINEL2A",))


def _write(out_dir: Path, finish_early: bool) -> Path:
    """Write a product block by block (R1 then R2, 2 blocks each), optionally finishing each group early."""
    meta = _meta()
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


def test_product_module_still_exports_the_writer():
    import l3a.product

    assert l3a.product.L3AWriter is L3AWriter
