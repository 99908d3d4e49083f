"""`mosaic tiles --scheduler` and `mosaic compare --scheduler`: the pyramid jobs as dask.distributed tasks give the
same files, byte for byte, as the local thread pool; reruns resume; errors reach the client as they are."""

import json
import math

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from l2a.cli_options import run_cli
from l2a.errors import CorruptRasterError
from mosaic import cluster as mosaic_cluster
from mosaic.cli import cli
from mosaic.errors import MosaicError
from mosaic.params import PyramidParams
from mosaic.pyramid import PyramidWriter, WriterRecipe, tile_ranges
from mosaic.tiles import _LAYERS, _inspect, _job_zoom, _TrueColour, build_pyramid

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # tile files

#: Small meta-blocks, so that the test mosaic (24 km) makes several block tasks and overview stages.
PARAMS = PyramidParams(8, 13, meta_tiles=2)


def _files(folder) -> dict:
    """Relative path -> bytes of every file below ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _mosaic(args) -> int:
    return run_cli(cli, "mosaic", [str(a) for a in args])


def _local_cluster(processes: bool):
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                    resources={"tile-month": 1}, dashboard_address=None, silence_logs=50)


@pytest.fixture(scope="module")
def scheduler():
    """Address of a LocalCluster of 2 in-process workers of 1 thread offering one tile-month each."""
    with _local_cluster(processes=False) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def months(tmp_path_factory, viewer_data):
    """July and August test mosaics (400 x 400 pixels of 60 m, EPSG:3857), as ``mosaic build`` folders."""
    root = tmp_path_factory.mktemp("months")
    scene = viewer_data.landscape()
    return {m: viewer_data.write_month(root / m, m, scene) for m in ("july", "august")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, months):
    """July's pyramid built by the local thread pool."""
    out = tmp_path_factory.mktemp("reference") / "t"
    build_pyramid(months["july"] / "mosaic.tif", out, PARAMS, workers=2)
    return out


def _expected_tasks(counts: dict, params: PyramidParams, per_task: int) -> int:
    """One task per meta-block, then the overview tiles of each zoom by ``per_task``."""
    job = _job_zoom(params)
    return counts[job] + sum(math.ceil(counts[z] / per_task) for z in range(params.min_zoom, job))


def test_scheduler_pyramid_is_the_local_one_byte_for_byte(scheduler, months, reference, tmp_path, monkeypatch):
    monkeypatch.setattr(mosaic_cluster, "OVERVIEW_TILES_PER_TASK", 2)  # several overview tasks a zoom
    out = tmp_path / "t"
    with distributed.Client(scheduler) as client, distributed.get_task_stream(client) as stream:
        result = build_pyramid(months["july"] / "mosaic.tif", out, PARAMS, scheduler=scheduler)
    assert _files(out) == _files(reference)
    tiles = sum(1 for p in out.rglob("*.png"))
    assert result.written == tiles == 2 * sum(result.counts.values()) and result.skipped == 0
    tasks = [t for t in stream.data if str(t["key"]).startswith("tiles-")]
    assert len(tasks) == _expected_tasks(result.counts, PARAMS, 2) > len(result.counts)
    assert json.loads((out / "metadata.json").read_text())["complete"] is True


def test_rerun_and_deleted_tiles_through_the_cli(scheduler, months, reference, tmp_path, capsys):
    out = tmp_path / "t"
    args = ["-q", "tiles", months["july"] / "mosaic.tif", "--out", out, "--zoom", "8-13", "--scheduler", scheduler]
    # the CLI has no --meta-tiles: its pyramid is the default one, built here by the thread pool for comparison
    local = tmp_path / "local"
    assert _mosaic(["-q", "tiles", months["july"] / "mosaic.tif", "--out", local, "--zoom", "8-13"]) == 0
    capsys.readouterr()
    assert _mosaic(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["written"] == 2 * first["total"] and _files(out) == _files(local)
    assert _mosaic(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["written"] == 0 and again["skipped"] == 2 * again["total"]
    # a tile of every kind of job (job zoom 10): a base tile, one reduced inside a block, overview tiles (9 and 8),
    # a flags tile
    deleted = [max(out.glob(pattern)) for pattern in ("13/*/*.png", "11/*/*.png", "9/*/*.png", "8/*/*.png",
                                                      "flags/12/*/*.png")]
    for path in deleted:
        path.unlink()
    assert _mosaic(args) == 0
    rerun = json.loads(capsys.readouterr().out)
    assert rerun["written"] == len(deleted) and rerun["skipped"] > 0
    assert _files(out) == _files(local)


def test_compare_with_scheduler_is_the_local_site(scheduler, months, tmp_path, capsys):
    sites = {}
    for name, extra in (("local", ["--workers", "2"]), ("dask", ["--scheduler", scheduler])):
        sites[name] = tmp_path / name
        code = _mosaic(["-q", "compare", months["july"], months["august"], "--out", sites[name], "--zoom", "10-12",
                        *extra])
        assert code == 0, capsys.readouterr().err
        summary = json.loads(capsys.readouterr().out)
        assert summary["change"] is True
    files = _files(sites["dask"])
    assert files == _files(sites["local"]) and any(k.startswith("change/12/") for k in files)


def test_task_errors_reach_the_client_as_they_are(scheduler, months, tmp_path, monkeypatch):
    """A task that raises is retried, then its exception (class and one-line message) is raised by the client."""
    params = PyramidParams(10, 11)
    info = _inspect(months["july"] / "mosaic.tif", params)
    ranges = tile_ranges(info.bounds, range(10, 12))
    recipe = WriterRecipe(_TrueColour, (info, params), tmp_path / "t", _LAYERS, ranges)
    x0, _, y0, _ = ranges[10]
    stage = [("write_overview", (10, x0, y0))]  # its children were never written
    store = recipe.store()
    with pytest.raises(MosaicError) as local:
        recipe.writer(store).run([stage], 1, desc="test")
    calls = []
    original = PyramidWriter.write_overview

    def counted(self, *args):
        calls.append(args)
        return original(self, *args)

    monkeypatch.setattr(PyramidWriter, "write_overview", counted)  # the workers run in this process
    with mosaic_cluster.scheduler_client(scheduler) as client:
        with pytest.raises(MosaicError) as remote:
            mosaic_cluster.run_stages(client, recipe, [stage], store, desc="error")
    assert type(remote.value) is type(local.value) and str(remote.value) == str(local.value)
    assert "is missing below" in str(remote.value) and remote.value.path == local.value.path
    assert len(calls) == 1 + mosaic_cluster.RETRIES


def test_data_errors_are_not_retried(scheduler, months, tmp_path, monkeypatch):
    """The toolkit's errors (an unreadable input) fail their task at once: a retry would read the same bytes; other
    errors are retried (the missing child tile above, and here an OSError once)."""
    params = PyramidParams(10, 11)
    info = _inspect(months["july"] / "mosaic.tif", params)
    ranges = tile_ranges(info.bounds, range(10, 12))
    recipe = WriterRecipe(_TrueColour, (info, params), tmp_path / "t", _LAYERS, ranges)
    x0, _, y0, _ = ranges[10]
    stage = [("write_overview", (10, x0, y0))]
    calls = []

    def corrupt(self, *args):
        calls.append(args)
        raise CorruptRasterError("cannot decode block", months["july"] / "mosaic.tif")

    monkeypatch.setattr(PyramidWriter, "write_overview", corrupt)  # the workers run in this process
    with mosaic_cluster.scheduler_client(scheduler) as client:
        with pytest.raises(CorruptRasterError, match="cannot decode block"):
            mosaic_cluster.run_stages(client, recipe, [stage], recipe.store(), desc="data-error")
    assert len(calls) == 1

    calls.clear()

    def hiccup(self, *args):
        calls.append(args)
        if len(calls) == 1:
            raise OSError("stale file handle")
        return None

    monkeypatch.setattr(PyramidWriter, "write_overview", hiccup)
    with mosaic_cluster.scheduler_client(scheduler) as client:
        mosaic_cluster.run_stages(client, recipe, [stage], recipe.store(), desc="hiccup")
    assert len(calls) == 2


def test_truncated_mosaic_on_the_workers_is_one_line(scheduler, months, tmp_path, capsys):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(months["july"], copy)
    with open(copy / "mosaic.tif", "r+b") as f:
        f.truncate((copy / "mosaic.tif").stat().st_size // 2)
    code = _mosaic(["tiles", copy / "mosaic.tif", "--out", tmp_path / "t", "--zoom", "8-11", "--scheduler", scheduler])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"mosaic: error: {copy / 'mosaic.tif'}: cannot")
    with pytest.raises(CorruptRasterError):
        build_pyramid(copy / "mosaic.tif", tmp_path / "t", PyramidParams(8, 11), scheduler=scheduler)


def test_scheduler_that_does_not_answer_is_one_line_exit_2(months, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(mosaic_cluster, "SCHEDULER_TIMEOUT_S", 1.0)  # the default waits 10 s
    out = tmp_path / "t"
    code = _mosaic(["tiles", months["july"] / "mosaic.tif", "--out", out, "--zoom", "8-11",
                    "--scheduler", "tcp://127.0.0.1:1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("mosaic: error: tcp://127.0.0.1:1: no dask scheduler answered within 1 s")
    assert not out.exists()


def test_worker_processes_and_another_crs(months, tmp_path):
    """Worker processes (the recipe really pickled) and a Lambert-93 mosaic: the same bytes as the thread pool."""
    folder = tmp_path / "lambert"
    folder.mkdir()
    from l2a.io.cog import write_cog

    transform = Affine(60.0, 0.0, 560_000.0, 0.0, -60.0, 6_300_000.0)
    for name, extra in (("mosaic.tif", {"scale": 1e-4, "tags": {"FLAGS": "flags.tif"}}),
                        ("flags.tif", {"resampling": "nearest"})):
        with rasterio.open(months["august"] / name) as ds:
            data, nodata, descriptions = ds.read(), ds.nodata, list(ds.descriptions)
        write_cog(folder / name, np.ascontiguousarray(data), crs=CRS.from_epsg(2154), transform=transform,
                  nodata=nodata, descriptions=descriptions, threads=1, **extra)
    params = PyramidParams(7, 12)
    local = tmp_path / "local"
    build_pyramid(folder / "mosaic.tif", local, params, workers=2)
    with _local_cluster(processes=True) as cluster:
        result = build_pyramid(folder / "mosaic.tif", tmp_path / "dask", params, scheduler=cluster.scheduler_address)
    assert result.written == 2 * sum(result.counts.values())
    assert _files(tmp_path / "dask") == _files(local)
