"""The tiled layout of `mosaic build` (COG tiles + VRT + STAC collection), its resume, and `--scheduler` runs."""

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import from_bounds

from mosaic import national
from mosaic.build import build_mosaic
from mosaic.errors import OutputExistsError
from mosaic.params import MosaicParams

TILED = MosaicParams(crs="EPSG:2154", resolution=300.0, layout="tiled", grid_tile_px=512)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _rasters(folder: Path) -> dict[str, bytes]:
    """The tiles' rasters (the JSON documents hold run times and software versions only in the manifest)."""
    return {k: v for k, v in _files(folder).items() if k.endswith(".tif") or k.endswith(".vrt")}


@pytest.fixture(scope="module")
def tiled_dir(tmp_path_factory, country):
    out = tmp_path_factory.mktemp("national") / "m"
    build_mosaic(country[1], out, TILED, workers=2)
    return out


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, resources={"tile-month": 1},
                                  dashboard_address=None) as c:
        yield c


def test_lattice_is_anchored_at_the_crs_origin():
    from affine import Affine

    from l2a.grid import Grid

    grid = Grid(Affine(10.0, 0, 12_340.0, 0, -10.0, 98_760.0), 700, 1300, "EPSG:2154")
    grown, i0, j0 = national.lattice_grid(grid, 512)
    side = 5120.0
    assert (i0, j0) == (2, 20)
    assert grown.transform.c == i0 * side and grown.transform.f == j0 * side
    assert grown.width % 512 == 0 and grown.height % 512 == 0
    left, bottom, right, top = grid.bounds
    g_left, g_bottom, g_right, g_top = grown.bounds
    assert g_left <= left and g_bottom <= bottom and g_right >= right and g_top >= top
    assert g_right - right < side and top <= g_top < top + side


def test_tiled_layout_files_vrt_and_collection(tiled_dir, mosaic_dir):
    manifest = json.loads((tiled_dir / "national.json").read_text())
    assert manifest["complete"] is True and manifest["tile_px"] == 512
    names = manifest["tiles"]
    assert len(names) >= 4
    for name in names:
        for suffix in ("_mosaic.tif", "_flags.tif", ".json"):
            assert (tiled_dir / "tiles" / f"{name}{suffix}").is_file()
        with rasterio.open(tiled_dir / "tiles" / f"{name}_mosaic.tif") as ds:
            assert ds.shape == (512, 512) and ds.block_shapes[0] == (512, 512) and ds.descriptions[0] == "B2"
    collection = json.loads((tiled_dir / "collection.json").read_text())
    assert collection["type"] == "Collection"
    assert sorted(link["href"] for link in collection["links"] if link["rel"] == "item") == \
        sorted(f"./tiles/{n}.json" for n in names)
    item = json.loads((tiled_dir / "tiles" / f"{names[0]}.json").read_text())
    assert item["collection"] == collection["id"] and item["properties"]["proj:shape"] == [512, 512]
    assert not list(tiled_dir.rglob(".tmp*"))
    with rasterio.open(tiled_dir / "mosaic.vrt") as vrt, rasterio.open(mosaic_dir / "mosaic.tif") as single:
        assert vrt.descriptions == single.descriptions and vrt.tags()["FLAGS"] == "flags.vrt"
        assert vrt.res == single.res and vrt.crs == single.crs
        # the same pixels of the same lattice: the tiled grid covers the single one
        window = from_bounds(*single.bounds, transform=vrt.transform).round_offsets().round_lengths()
        a, b = single.read(), vrt.read(window=window)
        ma, mb = single.read_masks(1), vrt.read_masks(1, window=window)
    # the blocks are cut elsewhere, and GDAL's warper samples a block's pixels a hair differently when its window
    # moves (3.7 % of a random field's pixels pick another source pixel with nearest neighbour): a few 1e-4
    both = (ma > 0) & (mb > 0)
    assert both.sum() > 0.99 * (ma > 0).sum()
    diff = np.abs(a.astype(int) - b)[:, both]
    assert np.median(diff) <= 1 and diff.mean() < 3
    with rasterio.open(tiled_dir / "flags.vrt") as ds:
        assert ds.descriptions == ("FLG", "NTILES") and ds.nodata == 255


def test_tiled_mosaic_is_read_by_tiles_and_compare(tiled_dir, tmp_path):
    from mosaic.compare import write_compare_site
    from mosaic.params import PyramidParams
    from mosaic.tiles import build_pyramid

    result = build_pyramid(tiled_dir / "mosaic.vrt", tmp_path / "pyr", PyramidParams(5, 8), workers=2)
    assert result.written > 0
    meta = json.loads((tmp_path / "pyr" / "metadata.json").read_text())
    assert meta["complete"] and meta["flags_source"].endswith("flags.vrt")
    site = write_compare_site(tiled_dir, tiled_dir, tmp_path / "site", ("a", "b"), zoom=(5, 7), workers=2)
    assert (site.out_dir / "index.html").is_file()


def test_interrupted_build_resumes_tile_by_tile(country, tiled_dir, tmp_path, monkeypatch):
    out = tmp_path / "m"
    real = national.write_grid_tile
    calls = []

    def interrupted(job, tile, threads=1):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(tile.name)
        return real(job, tile, threads)

    monkeypatch.setattr(national, "write_grid_tile", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_mosaic(country[1], out, TILED, workers=2)
    assert json.loads((out / "national.json").read_text())["complete"] is False
    assert not (out / "mosaic.vrt").exists()
    finished = {p.name for p in (out / "tiles").glob("*.json")}
    assert finished == {f"{n}.json" for n in calls}
    before = {n: (out / "tiles" / f"{n}_mosaic.tif").stat().st_mtime_ns for n in calls}
    # a run of other parameters refuses the unfinished folder
    with pytest.raises(OutputExistsError, match="other inputs or parameters"):
        build_mosaic(country[1], out, MosaicParams(crs="EPSG:2154", resolution=300.0, layout="tiled",
                                                   grid_tile_px=1024), workers=2)
    monkeypatch.setattr(national, "write_grid_tile", real)
    result = build_mosaic(country[1], out, TILED, workers=2)
    assert result.extra["tiles_existing"] == 3
    assert result.extra["tiles_written"] == result.extra["grid_tiles"] - 3
    assert {n: (out / "tiles" / f"{n}_mosaic.tif").stat().st_mtime_ns for n in calls} == before
    assert _rasters(out) == _rasters(tiled_dir)
    assert not list(out.rglob(".tmp*"))
    with pytest.raises(OutputExistsError, match="holds a mosaic already"):
        build_mosaic(country[1], out, TILED, workers=2)


def test_stale_temporaries_of_a_dead_writer_are_removed(country, tiled_dir, tmp_path):
    out = tmp_path / "m"
    (out / "tiles").mkdir(parents=True)
    (out / "national.json").write_text(json.dumps({}))  # unreadable as a resume point: refused
    with pytest.raises(OutputExistsError):
        build_mosaic(country[1], out, TILED, workers=1)
    build_mosaic(country[1], out, TILED, workers=1, overwrite=True)
    assert _rasters(out) == _rasters(tiled_dir)


def test_layouts_replace_each_other_with_overwrite(country, tmp_path):
    out = tmp_path / "m"
    single = MosaicParams(crs="EPSG:2154", resolution=300.0, layout="single")
    build_mosaic(country[1], out, single, workers=2)
    with pytest.raises(OutputExistsError):
        build_mosaic(country[1], out, TILED, workers=2)
    build_mosaic(country[1], out, TILED, workers=2, overwrite=True)
    assert not (out / "mosaic.tif").exists() and (out / "national.json").exists()
    with pytest.raises(OutputExistsError):
        build_mosaic(country[1], out, single, workers=2)
    build_mosaic(country[1], out, single, workers=2, overwrite=True)
    assert (out / "mosaic.tif").exists()
    assert not (out / "tiles").exists() and not (out / "national.json").exists() and not (out / "flags.vrt").exists()


def test_vrt_overviews_are_the_tiles_overviews(country, tmp_path):
    from dataclasses import replace

    out = tmp_path / "m"
    build_mosaic(country[1], out, replace(TILED, grid_tile_px=1024, bands=("B4", "B8")), workers=2)
    with rasterio.open(out / "mosaic.vrt") as ds:
        assert ds.overviews(1) == [2]
        half = ds.read(out_shape=(2, ds.height // 2, ds.width // 2))
    name = json.loads((out / "national.json").read_text())["tiles"][0]
    with rasterio.open(out / "mosaic.x2.vrt") as ds:
        assert (ds.read() == half).all()
        window = ds.window(*rasterio.open(out / "tiles" / f"{name}_mosaic.tif").bounds)
        from_vrt = ds.read(window=window)
    with rasterio.open(out / "tiles" / f"{name}_mosaic.tif", OVERVIEW_LEVEL=0) as ds:
        assert (ds.read() == from_vrt).all()
    with rasterio.open(out / "flags.vrt") as ds:
        assert ds.overviews(1) == [2]
    build_mosaic(country[1], out, MosaicParams(crs="EPSG:2154", resolution=300.0), workers=2, overwrite=True)
    assert not list(out.glob("*.x2.vrt"))


def test_auto_layout_tiles_above_the_threshold(country, tmp_path):
    params = MosaicParams(crs="EPSG:2154", resolution=300.0, grid_tile_px=512, tiled_above_px=10_000)
    result = build_mosaic(country[1], tmp_path / "m", params, workers=2)
    assert result.summary()["layout"] == "tiled"


def test_scheduler_runs_give_the_same_files(country, cluster, tiled_dir, mosaic_dir, tmp_path):
    tiled = build_mosaic(country[1], tmp_path / "t", TILED, workers=1, scheduler=cluster.scheduler_address)
    assert tiled.extra["tiles_written"] == tiled.extra["grid_tiles"]
    assert _rasters(tmp_path / "t") == _rasters(tiled_dir)
    single = MosaicParams(crs="EPSG:2154", resolution=300.0)
    build_mosaic(country[1], tmp_path / "s", single, workers=2, scheduler=cluster.scheduler_address)
    for name in ("mosaic.tif", "flags.tif"):
        assert (tmp_path / "s" / name).read_bytes() == (mosaic_dir / name).read_bytes()


def test_scheduler_that_does_not_answer_is_one_line(country, tmp_path, capsys):
    from mosaic.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["build", *map(str, country[1]), "--crs", "EPSG:2154", "--res", "300", "--out", str(tmp_path / "m"),
              "--layout", "tiled", "--grid-tile", "512", "--scheduler", "tcp://127.0.0.1:9"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tcp://127.0.0.1:9" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()  # nothing written before the cluster answered


def test_grid_tile_must_be_a_multiple_of_the_block():
    from mosaic.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="multiple of the block size"):
        MosaicParams(crs="EPSG:2154", resolution=10.0, grid_tile_px=1000)
    with pytest.raises(InvalidParameterError, match="layout"):
        MosaicParams(crs="EPSG:2154", resolution=10.0, layout="mosaic")


def test_ctrl_c_exits_130_with_one_line(country, tmp_path, monkeypatch, capsys):
    from mosaic.cli import main

    def interrupted(job, tile, threads=1):
        raise KeyboardInterrupt

    monkeypatch.setattr(national, "write_grid_tile", interrupted)
    with pytest.raises(SystemExit) as exc:
        main(["build", *map(str, country[1]), "--crs", "EPSG:2154", "--res", "300", "--out", str(tmp_path / "m"),
              "--layout", "tiled", "--grid-tile", "512"])
    assert exc.value.code == 130
    assert capsys.readouterr().err.strip() == "mosaic: interrupted"
    assert json.loads((tmp_path / "m" / "national.json").read_text())["complete"] is False


def test_worker_killed_mid_tile_build_completes_identically(country, tiled_dir, tmp_path):
    """SIGKILL of the worker process writing a COG tile, once its temporary file exists: the nanny restarts the
    worker, the scheduler gives the tile to a worker again; the files equal a clean run's, no temporary is left."""
    import os
    import signal
    import threading
    import time

    distributed = pytest.importorskip("distributed")
    out = tmp_path / "m"
    hit = {}

    def kill_mid_tile(client):
        end = time.monotonic() + 60
        while time.monotonic() < end and not hit:
            if list((out / "tiles").glob(".tmp-*")):
                for address, keys in client.processing().items():
                    if any(str(k).startswith("mosaic-tile-") for k in keys):
                        pid = client.run(os.getpid, workers=[address])[address]
                        os.kill(pid, signal.SIGKILL)
                        hit.update(worker=address, pid=pid)
                        break
            time.sleep(0.01)

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, resources={"tile-month": 1},
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        killer = threading.Thread(target=kill_mid_tile, args=(client,), daemon=True)
        killer.start()
        result = build_mosaic(country[1], out, TILED, workers=1, scheduler=cluster.scheduler_address)
        killer.join(60)
    assert hit, "the kill did not land while a tile was being written"
    assert result.extra["tiles_written"] == result.extra["grid_tiles"]
    assert _rasters(out) == _rasters(tiled_dir)
    assert not list(out.rglob(".tmp*"))
