"""`l3a batch`: months ranges, discovery and planning, areas of interest, the run report, reruns, failing tasks, exit
codes, an unreachable scheduler, and byte-identical products whatever the workers and threads.

Simulated products are tiny (60 x 60 pixels, 2 tiles, July 10 - August 10 2018) and made once for the module; the
batches run on LocalClusters of worker processes (through the command line) or of in-process workers (through
the library, faster to start).
"""

import dataclasses
import datetime as dt
import hashlib
import json
import random
import shutil
from pathlib import Path

import pytest

from l2a.errors import InvalidParameterError, MissingFileError
from l3a.batch import BatchParams, exit_code, run_batch
from l3a.batch.area import read_area, tile_outline, tiles_in_area
from l3a.batch.discover import Discovery, ProductFacts, discover
from l3a.batch.params import default_workers
from l3a.batch.plan import plan_tasks, select_tiles
from l3a.dates import month_range
from l3a.errors import AreaOfInterestError, NoProductError

pytest.importorskip("distributed")

UTC = dt.timezone.utc
TILES = ("T31TCH", "T31TCJ")
MONTHS = "2018-07..2018-09"  # July and August have products, September none (the simulation ends on August 10)


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    from l2a.simulate import SimulationConfig, simulate

    out = tmp_path_factory.mktemp("sim")
    simulate(SimulationConfig(out, start=dt.date(2018, 7, 10), end=dt.date(2018, 8, 10), tiles=TILES, size=60,
                              seed=1))
    return out


def _run_cli(args, capsys):
    from l3a.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["-q", "batch", *map(str, args)])
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def _digests(folder: Path) -> dict:
    """sha256 of every file of the L3A products below ``folder`` (the run report, which records times, left out)."""
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file() and f.name != "batch-report.json"}


# ------------------------------------------------------------------------------------------------ months


@pytest.mark.parametrize("text, months", [("2018-06..2018-09", ("2018-06", "2018-07", "2018-08", "2018-09")),
                                          ("2018-11..2019-02", ("2018-11", "2018-12", "2019-01", "2019-02")),
                                          ("2018-07", ("2018-07",)), ("2018-07..2018-07", ("2018-07",))])
def test_month_range(text, months):
    assert month_range(text) == months


@pytest.mark.parametrize("text", ["2018-09..2018-06", "2018-13", "2018-06..", "July", "2018-06..2018-07..2018-08"])
def test_month_range_refuses_malformed_or_reversed(text):
    with pytest.raises(InvalidParameterError, match="2018|July"):
        month_range(text)


# -------------------------------------------------------------------------------------------- planning


def _facts(tile, day, platform="S2A"):
    when = dt.datetime.combine(day, dt.time(10, 50), UTC)
    return ProductFacts(f"/data/{tile}_{day:%Y%m%d}_{platform}", tile, when, platform)


def test_plan_groups_products_by_tile_and_month_window():
    july = dt.date(2018, 7, 15)
    products = [_facts("T31TCJ", july + dt.timedelta(days=d), "S2A" if d % 2 else "S2B")
                for d in (-24, -23, 0, 23, 24)] + [_facts("T31TCH", july, "S2A"), _facts("T30TYP", july)]
    plan = plan_tasks(products, ["31tcj", "T31TCH"], ["2018-07", "2018-09"], half_window_days=23)
    assert [(t.tile, t.month) for t in plan] == [("T31TCH", "2018-07"), ("T31TCJ", "2018-07"),
                                                 ("T31TCH", "2018-09"), ("T31TCJ", "2018-09")]
    tcj = plan[1]
    assert tcj.key == "compose-T31TCJ-2018-07" and tcj.central_date == july
    assert [Path(p).name[7:15] for p in tcj.inputs] == ["20180622", "20180715", "20180807"]  # +-23 days inclusive
    assert tcj.platforms == ("S2A", "S2B")
    assert plan[0].inputs == (products[5].path,) and plan[2].inputs == plan[3].inputs == ()  # September: no data
    shuffled = products[:]
    random.Random(3).shuffle(shuffled)
    assert plan_tasks(shuffled, ["T31TCH", "T31TCJ"], ["2018-09", "2018-07"], 23) == plan


def test_select_tiles_named_by_area_or_all():
    discovery = Discovery(tuple(_facts(t, dt.date(2018, 7, 1)) for t in ("T31TCJ", "T31TCH", "T30TYP")))
    assert select_tiles(discovery) == ("T30TYP", "T31TCH", "T31TCJ")
    assert select_tiles(discovery, ["31TCJ", "T31TDJ"]) == ("T31TCJ", "T31TDJ")  # T31TDJ: no product, no data
    with pytest.raises(InvalidParameterError):
        select_tiles(discovery, ["T31TCJ"], "area.geojson")


def _square(lon, lat, half=0.05, half_lat=None):
    """A GeoJSON rectangle centred on (lon, lat), degrees."""
    dy = half if half_lat is None else half_lat
    return {"type": "Polygon", "coordinates": [[[lon - half, lat - dy], [lon + half, lat - dy], [lon + half, lat + dy],
                                                [lon - half, lat + dy], [lon - half, lat - dy]]]}


def test_area_selects_the_tiles_it_intersects(tmp_path):
    from l2a.simulate.mgrs import tile_footprint

    square = tile_footprint("T31TCJ")
    centre = tile_outline(f"EPSG:{square.epsg}", square.bounds).centroid
    path = tmp_path / "aoi.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": _square(centre.x, centre.y)}]}))
    candidates = ["T30TYP", "T31TCH", "T31TCJ"]
    assert tiles_in_area(read_area(path), candidates) == ("T31TCJ",)
    # a narrow strip from T31TCJ's centre southwards crosses into T31TCH (west of zone 30's tiles)
    path.write_text(json.dumps(_square(centre.x, centre.y - 0.6, half_lat=0.6)))
    assert tiles_in_area(read_area(path), candidates) == ("T31TCH", "T31TCJ")
    path.write_text(json.dumps(_square(10.0, 50.0)))
    with pytest.raises(AreaOfInterestError, match="intersects none of the 3 tiles"):
        tiles_in_area(read_area(path), candidates, source=path)
    path.write_text(json.dumps({"type": "Point", "coordinates": [0.5, 44.0]}))
    with pytest.raises(AreaOfInterestError, match="no polygon"):
        read_area(path)
    with pytest.raises(MissingFileError):
        read_area(tmp_path / "missing.geojson")


def test_default_workers_bounded_by_cores_tasks_and_memory():
    assert default_workers(100, 1, cores=16, memory_bytes=64 * 2**30) == 16
    assert default_workers(3, 1, cores=16, memory_bytes=64 * 2**30) == 3
    assert default_workers(100, 4, cores=16, memory_bytes=64 * 2**30) == 4
    assert default_workers(100, 1, cores=16, memory_bytes=9 * 2**30) == 4  # 2 GiB a worker
    assert default_workers(100, 1, cores=1, memory_bytes=2**30) == 1


def test_batch_params_validated():
    assert BatchParams().threads_per_worker == 1 and BatchParams().retries == 2
    for change in ({"workers": 0}, {"threads_per_worker": 1.5}, {"scheduler_timeout_s": 0},
                   {"scheduler": "tcp://h:8786", "workers": 2}):
        with pytest.raises(InvalidParameterError):
            BatchParams(**change)


# ------------------------------------------------------------------------------------------- discovery


def test_discover_reads_every_product(sim, tmp_path):
    found = discover([sim])
    assert len(found.products) == 26 and found.tiles == TILES and not found.unreadable
    assert all(p.crs == "EPSG:32631" and p.error is None for p in found.products)
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoProductError, match="no L2A product under"):
        discover([tmp_path / "empty"])


# ------------------------------------------------------------------------------------ end to end (CLI)


@pytest.fixture(scope="module")
def batch_run(sim, tmp_path_factory):
    """The command line on 2 worker processes, July-September: its output folder, exit code and stdout."""
    from l3a.cli import main

    out = tmp_path_factory.mktemp("batch")
    try:
        main(["-q", "batch", "--input-root", str(sim), "--tiles", ",".join(TILES), "--months", MONTHS,
              "--out", str(out), "--workers", "2"])
    except SystemExit as exc:
        return out, exc.code
    return out, None


def test_cli_batch_writes_products_and_report(batch_run, sim):
    out, code = batch_run
    assert code == 0
    report = json.loads((out / "batch-report.json").read_text())
    assert report["months"] == ["2018-07", "2018-08", "2018-09"] and report["tiles"] == list(TILES)
    assert report["products"] == 26 and report["unreadable"] == []
    assert report["cluster"]["kind"] == "local" and report["cluster"]["workers"] == 2
    assert report["cluster"]["threads_per_worker"] == 1 and report["cluster"]["processes"] is True
    assert report["totals"] == {**report["totals"], "tasks": 6, "written": 4, "exists": 0, "no-data": 2,
                                "failed": 0, "unreadable": 0}
    assert report["batch"]["retries"] == 2 and report["params"]["profile"] == "default"
    by_key = {(t["tile"], t["month"]): t for t in report["tasks"]}
    for tile in TILES:
        for month in ("2018-07", "2018-08"):
            task = by_key[(tile, month)]
            assert task["status"] == "written" and task["error"] is None
            assert Path(task["output"]).is_dir() and Path(task["output"]).parent == out
            assert f"_{month.replace('-', '')}15-" in task["output"] and tile in task["output"]
            assert task["inputs"] and all(Path(p).parent == sim and tile in p for p in task["inputs"])
            assert task["worker"].startswith("tcp://") and task["threads"] == 1 and task["seconds"] > 0
            assert task["peak_rss_bytes"] >= task["rss_start_bytes"] > 0
        assert by_key[(tile, "2018-09")]["status"] == "no-data" and by_key[(tile, "2018-09")]["inputs"] == []
    assert len(by_key[("T31TCJ", "2018-07")]["inputs"]) == 12  # July 10 - August 7 (window June 22 - August 7)
    assert "peak_rss_bytes" in report["definitions"]
    assert sorted(p.name[:19] for p in out.iterdir() if p.is_dir()) == sorted(
        ["SENTINEL2X_20180715", "SENTINEL2X_20180815"] * 2)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left


def test_cli_rerun_keeps_finished_products(batch_run, sim, capsys):
    out, _ = batch_run
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.tif")}
    report_path = out / "rerun.json"
    code, stdout, _ = _run_cli(["--input-root", sim, "--tiles", ",".join(TILES), "--months", MONTHS, "--out", out,
                                "--workers", "1", "--report", report_path], capsys)
    assert code == 0 and stdout.splitlines()[-1] == str(report_path)
    assert stdout.splitlines()[0] == "6 tasks: 0 written, 4 exist, 2 without data, 0 failed"
    report = json.loads(report_path.read_text())
    assert [t["status"] for t in report["tasks"]] == ["exists", "exists", "exists", "exists", "no-data", "no-data"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.tif")} == before


def test_failing_task_is_reported_and_the_others_go_on(sim, tmp_path, capsys):
    inputs = tmp_path / "l2a"
    shutil.copytree(sim, inputs, ignore=shutil.ignore_patterns("truth"))
    broken = inputs / "SENTINEL2A_20180802-105247-260_L2A_T31TCJ_C_V1-0"
    band = broken / f"{broken.name}_FRE_B4.tif"
    band.write_bytes(b"not a GeoTIFF" * 100)
    code, stdout, err = _run_cli(["--input-root", inputs, "--tiles", ",".join(TILES), "--months", "2018-08",
                                  "--out", tmp_path / "out", "--workers", "1"], capsys)
    assert code == 1
    assert stdout.splitlines()[0] == "2 tasks: 1 written, 0 exist, 0 without data, 1 failed"
    report = json.loads((tmp_path / "out" / "batch-report.json").read_text())
    failed, written = (next(t for t in report["tasks"] if t["tile"] == tile) for tile in ("T31TCJ", "T31TCH"))
    assert failed["status"] == "failed" and str(band) in failed["error"] and failed["output"] is None
    assert str(broken) in failed["inputs"]
    assert written["status"] == "written" and Path(written["output"]).is_dir()
    assert str(band) in err  # logged too (discovery placed the product by its name; the task failed)


def test_unreachable_scheduler_is_one_line_exit_2(sim, tmp_path, capsys):
    code, _, err = _run_cli(["--input-root", sim, "--tiles", "T31TCJ", "--months", "2018-07", "--out", tmp_path,
                             "--scheduler", "tcp://127.0.0.1:1", "--scheduler-timeout", "1"], capsys)
    assert code == 2 and err.splitlines() == [err.strip()]
    assert err.startswith("l3a: error: tcp://127.0.0.1:1: no dask scheduler answered within 1 s")


def test_running_scheduler_needs_the_tile_month_resource(sim, tmp_path):
    from distributed import LocalCluster

    from l3a.errors import SchedulerError

    kwargs = dict(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    with LocalCluster(**kwargs) as cluster:
        with pytest.raises(SchedulerError, match="offers the tile-month resource"):
            run_batch([sim], tmp_path, ["2018-08"], tiles=["T31TCH"],
                      batch=BatchParams(scheduler=cluster.scheduler_address))
    with LocalCluster(**kwargs, resources={"tile-month": 1}) as cluster:
        report = run_batch([sim], tmp_path, ["2018-08"], tiles=["T31TCH"],
                           batch=BatchParams(scheduler=cluster.scheduler_address))
    assert report["cluster"]["kind"] == "scheduler" and report["cluster"]["threads_per_worker"] == 2
    assert [(t["status"], t["threads"]) for t in report["tasks"]] == [("written", 2)]  # the worker's threads


@pytest.mark.parametrize("args, message", [
    (["--months", "2018-09..2018-07", "--tiles", "T31TCJ"], "the last month comes before the first"),
    (["--months", "2018-7x", "--tiles", "T31TCJ"], "is not a month"),
    (["--months", "2018-07"], "exactly one of --tiles and --aoi"),
    (["--months", "2018-07", "--tiles", "T31TCJ", "--scheduler", "tcp://h:1", "--workers", "2"], "local cluster"),
])
def test_bad_options_exit_2(sim, tmp_path, capsys, args, message):
    code, _, err = _run_cli(["--input-root", sim, "--out", tmp_path / "o", *args], capsys)
    assert code == 2 and err.startswith("l3a: error: ") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_empty_root_and_area_without_tile_exit_2(sim, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = _run_cli(["--input-root", tmp_path / "empty", "--tiles", "T31TCJ", "--months", "2018-07",
                             "--out", tmp_path / "o"], capsys)
    assert code == 2 and err.strip() == f"l3a: error: no L2A product under {tmp_path / 'empty'}"
    area = tmp_path / "far.geojson"
    area.write_text(json.dumps(_square(10.0, 50.0)))
    code, _, err = _run_cli(["--input-root", sim, "--aoi", area, "--months", "2018-07", "--out", tmp_path / "o"],
                            capsys)
    assert code == 2 and err.strip() == (f"l3a: error: {area}: the area of interest intersects none of the 2 tiles "
                                         "found (T31TCH, T31TCJ)")


# -------------------------------------------------------------------------------------------- determinism


def test_products_identical_whatever_the_workers_and_threads(batch_run, sim, tmp_path):
    """The command line's run (2 worker processes x 1 thread) against one in-process worker of 2 threads."""
    out, _ = batch_run
    batch = BatchParams(workers=1, threads_per_worker=2, processes=False)
    report = run_batch([sim], tmp_path, month_range(MONTHS), tiles=list(reversed(TILES)), batch=batch)
    assert exit_code(report) == 0 and report["totals"]["written"] == 4
    assert {t["threads"] for t in report["tasks"] if t["status"] == "written"} == {2}
    ours, theirs = _digests(tmp_path), _digests(out)
    assert len(ours) > 40 and ours == {k: v for k, v in theirs.items() if not k.startswith("rerun")}


def test_batch_params_reported(sim, tmp_path):
    """A batch with nothing to submit starts no cluster and still reports."""
    batch = dataclasses.replace(BatchParams(), processes=False)
    report = run_batch([sim], tmp_path, ["2019-01"], tiles=["T31TCJ"], batch=batch)
    assert report["cluster"] is None and report["totals"]["no-data"] == 1 and exit_code(report) == 0
    assert Path(report["report"]) == tmp_path / "batch-report.json"
