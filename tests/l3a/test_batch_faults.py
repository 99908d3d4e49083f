"""`l3a batch` under faults: a worker process killed mid-task, the whole batch interrupted (SIGINT, SIGKILL of the
client) half-way and run again, and the removal of stale temporaries.

Simulated products are tiny (60 x 60 pixels, 2 tiles, July 18 - August 5 2018: 4 tile-months of about 1 s each). The
kills are made to land mid-task deterministically: the killer waits until a task's hidden temporary product folder
appears in the output folder (the synthesis is writing) and kills the worker process (or the client) running it.
No assertion is on time; waits have generous deadlines only so that a broken run fails instead of hanging.
"""

import datetime as dt
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from l3a.batch import BatchParams, exit_code, run_batch
from l3a.batch.plan import TaskSpec
from l3a.batch.task import remove_stale_temporaries

pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

TILES = ("T31TCH", "T31TCJ")
MONTHS = ("2018-07", "2018-08")
DEADLINE_S = 120.0  # a broken run fails after this, rather than hanging the suite
_TMP = re.compile(r"\.[A-Z0-9]+_(\d{4})(\d\d)15-000000-000_L3A_(T\w+?)_C_V[^.]+\.[0-9a-f]{12}\.tmp")


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    from l2a.simulate import SimulationConfig, simulate

    out = tmp_path_factory.mktemp("sim")
    simulate(SimulationConfig(out, start=dt.date(2018, 7, 18), end=dt.date(2018, 8, 5), tiles=TILES, size=60,
                              seed=1))
    return out


@pytest.fixture(scope="module")
def clean(sim, tmp_path_factory) -> dict:
    """Digests of an uninterrupted batch (2 in-process workers)."""
    out = tmp_path_factory.mktemp("clean")
    report = run_batch([sim], out, MONTHS, tiles=TILES, batch=BatchParams(workers=2, processes=False))
    assert exit_code(report) == 0 and report["totals"]["written"] == 4
    return _digests(out)


def _digests(folder: Path) -> dict:
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file() and not f.name.endswith(".json")}


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


def _products(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.is_dir() else []


def _temporaries(folder: Path) -> list[tuple[str, str, str]]:
    """(name, tile, month) of the hidden temporary product folders being written in ``folder``."""
    found = []
    for name in _hidden(folder):
        m = _TMP.fullmatch(name)
        if m:
            found.append((name, m[3], f"{m[1]}-{m[2]}"))
    return found


def _wait(condition, what: str):
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def _mtimes(products) -> dict:
    return {f: f.stat().st_mtime_ns for p in products for f in p.rglob("*")}


# ---------------------------------------------------------------------------------------------- stale temporaries


def test_stale_temporaries_of_the_task_only_are_removed(tmp_path):
    spec = TaskSpec("T31TCJ", "2018-07", dt.date(2018, 7, 15), ("/in/a",), ("S2A",))
    own = [".SENTINEL2X_20180715-000000-000_L3A_T31TCJ_C_V1-0.0123456789ab.tmp",
           ".SENTINEL2A_20180715-000000-000_L3A_T31TCJ_C_V1-0.ba9876543210.old"]
    others = [".SENTINEL2X_20180715-000000-000_L3A_T31TCH_C_V1-0.0123456789ab.tmp",  # another tile
              ".SENTINEL2X_20180815-000000-000_L3A_T31TCJ_C_V1-0.0123456789ab.tmp",  # another month
              ".SENTINEL2X_20180715-000000-000_L3A_T31TCJ_C_V1-0.notahexname1.tmp",  # not a temporary name
              "SENTINEL2X_20180715-000000-000_L3A_T31TCJ_C_V1-0"]  # the product itself
    for name in own + others:
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.tif").write_bytes(b"x")
    (tmp_path / ".SENTINEL2B_20180715-000000-000_L3A_T31TCJ_C_V1-0.00000000000a.tmp").write_bytes(b"a file")
    assert remove_stale_temporaries(tmp_path, spec) == sorted(own)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        others + [".SENTINEL2B_20180715-000000-000_L3A_T31TCJ_C_V1-0.00000000000a.tmp"])
    assert remove_stale_temporaries(tmp_path / "missing", spec) == []


# ------------------------------------------------------------------------------------------- a worker killed


def test_worker_killed_mid_task_batch_completes_identically(sim, clean, tmp_path):
    """SIGKILL of the worker process composing a tile-month, once its temporary product folder exists: the nanny
    restarts the worker, the scheduler gives the task to a worker again, which removes the dead attempt's
    temporary folder and composes; every product is byte-identical to the clean run's."""
    out = tmp_path / "out"
    hit: dict = {}

    def kill_mid_task():
        from distributed import default_client

        client = default_client()

        def running_worker():
            for name, tile, month in _temporaries(out):
                for address, keys in client.processing().items():
                    if any(k.startswith(f"compose-{tile}-{month}-") for k in keys):
                        return name, tile, month, address
            return None

        name, tile, month, address = _wait(running_worker, "a task writing its product")
        pid = client.run(os.getpid, workers=[address])[address]
        os.kill(pid, signal.SIGKILL)
        hit.update(tmp=name, tile=tile, month=month, worker=address, pid=pid,
                   tmp_left=(out / name).is_dir())  # the dead process can no longer rename it

    killer = []

    def announce(_setup):
        killer.append(threading.Thread(target=kill_mid_task, daemon=True))
        killer[0].start()

    report = run_batch([sim], out, MONTHS, tiles=TILES, batch=BatchParams(workers=2, processes=True),
                       announce=announce)
    killer[0].join(DEADLINE_S)
    assert hit and hit["tmp_left"]  # the kill landed while the task was writing
    assert exit_code(report) == 0 and report["totals"]["written"] == 4 and report["totals"]["failed"] == 0
    task = next(t for t in report["tasks"] if (t["tile"], t["month"]) == (hit["tile"], hit["month"]))
    assert task["status"] == "written" and task["cleaned"] == [hit["tmp"]]  # the rerun removed the dead attempt's
    assert all(t["cleaned"] == [] for t in report["tasks"] if t is not task)
    assert _hidden(out) == []
    assert _digests(out) == clean
    print("fault:", json.dumps({**hit, "rerun_worker": task["worker"], "rerun_seconds": round(task["seconds"], 2)}))


# ------------------------------------------------------------------------------- the whole batch interrupted


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_batch_resumes_identically(sim, clean, tmp_path, sig):
    """`l3a batch` in a subprocess (1 worker process: tasks one after another), signalled once one product is
    published and the next is being written; its worker processes do not outlive it; a rerun keeps the finished
    product, composes the rest, removes the temporary folders left, and matches the uninterrupted run."""
    out = tmp_path / "out"
    command = [sys.executable, "-c", "from l3a.cli import main; main()", "-q", "batch", "--input-root", str(sim),
               "--tiles", ",".join(TILES), "--months", f"{MONTHS[0]}..{MONTHS[-1]}", "--out", str(out),
               "--workers", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: len(_products(out)) == 1 and _temporaries(out), "one product done and the next being written")
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    _, alive = psutil.wait_procs(children, timeout=30)
    assert children and not alive, f"processes outlived the client: {alive}"
    finished = _products(out)  # those the client saw finish, and perhaps the one being written (see below)
    left = _hidden(out)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and stdout == ""
        partial = json.loads((out / "batch-report.json").read_text())
        assert partial["totals"]["interrupted"] is True and exit_code(partial) == 130
        statuses = [t["status"] for t in partial["tasks"]]
        done = statuses.count("written")
        assert statuses.count("interrupted") == 4 - done and done >= 1
        assert stderr.splitlines() == [f"l3a: interrupted: {done} of 4 tasks finished; partial report "
                                       f"{out / 'batch-report.json'}; run the same command again to resume"]
        # the task being written when the client stopped may finish while its worker closes: it is then published
        # whole (atomic rename), and the rerun keeps it as any other finished product
        assert done <= len(finished) <= done + 1
    else:
        assert proc.returncode == -signal.SIGKILL and not (out / "batch-report.json").exists()
    assert 1 <= len(finished) < 4
    before = _mtimes(finished)
    report = run_batch([sim], out, MONTHS, tiles=TILES, batch=BatchParams(workers=1, processes=False))
    assert exit_code(report) == 0 and report["totals"]["interrupted"] is False
    assert report["totals"]["exists"] == len(finished) and report["totals"]["written"] == 4 - len(finished)
    assert _mtimes(finished) == before  # kept, not recomposed
    assert sorted(n for t in report["tasks"] for n in t["cleaned"]) == left  # every leftover was the batch's own
    assert _hidden(out) == []
    assert _digests(out) == clean
    print(f"{sig.name}: exit {proc.returncode}, {len(finished)} of 4 finished, left {left}, "
          f"{len(children)} child processes ended")
