"""`l3a batch --level l1c`: each tile's L1C products processed in date order as one task, the syntheses as tasks
depending on it; the products equal, byte for byte, those of ``l2a process`` then ``l3a compose`` by hand; a rerun
keeps everything; a product that cannot be processed fails its tile's task, naming the file, and the rest goes on."""

import hashlib
import shutil
from pathlib import Path

import pytest

from l2a.cli import cli as l2a_cli
from l2a.cli_options import run_cli
from l2a.process import ProcessParams
from l3a.batch import BatchParams
from l3a.batch.cluster import open_client
from l3a.batch.l1c import discover_l1c, run_l1c_tasks
from l3a.params import CompositeParams

pytest.importorskip("distributed")

TILE = "T31TCJ"


@pytest.fixture(scope="module")
def l1c(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("l1c")
    assert run_cli(l2a_cli, "l2a", ["-q", "simulate", "--out", str(out), "--tiles", TILE, "--start", "2018-07-05",
                                    "--end", "2018-07-20", "--size", "120", "--level", "l1c", "--seed", "3"]) == 0
    return out


def _digests(folder: Path) -> dict:
    """sha256 of the rasters of a product (its documents record the inputs' paths, which differ here)."""
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*.tif"))}


def _run(inputs, out: Path, overwrite=False):
    batch = BatchParams(workers=2, processes=False, overwrite=overwrite)
    with open_client(batch, 2) as (client, _):
        return run_l1c_tasks(client, discover_l1c(inputs), (TILE,), ("2018-07",), CompositeParams(),
                             ProcessParams(max_cloud_pct=100.0), out, out / "l2a", batch, threads=1)


def test_tiles_are_processed_then_composed_as_by_hand(l1c, tmp_path):
    from l3a.compose import compose

    records = _run([l1c], tmp_path / "batch")
    process, synthesis = records
    safes = sorted(p for p in l1c.iterdir() if p.suffix == ".SAFE")
    assert process["kind"] == "l2a-process" and process["status"] == "written" and len(safes) >= 3
    assert len(process["products"]) == len(safes)
    dates = [p["datetime"] for p in process["products"]]
    assert dates == sorted(dates)   # one tile's dates in order
    assert synthesis["status"] == "written" and len(synthesis["inputs"]) == len(safes)
    # by hand: l2a process, then l3a compose
    assert run_cli(l2a_cli, "l2a", ["-q", "process", str(l1c), "--out", str(tmp_path / "hand" / "l2a"),
                                    "--max-cloud", "100"]) == 0
    hand = compose(sorted((tmp_path / "hand" / "l2a").iterdir()), synthesis_central(synthesis), CompositeParams(),
                   tmp_path / "hand", tile=TILE, threads=1)
    assert _digests(hand) == _digests(Path(synthesis["output"]))
    # a rerun keeps both the L2A products and the synthesis
    again = _run([l1c], tmp_path / "batch")
    assert [r["status"] for r in again] == ["exists", "exists"]


def synthesis_central(record):
    import datetime as dt

    return dt.date(*map(int, record["month"].split("-")), 15)


def test_a_product_that_cannot_be_processed_fails_its_tile_only(l1c, tmp_path):
    copy = tmp_path / "in"
    shutil.copytree(l1c, copy, ignore=shutil.ignore_patterns("truth"))
    safes = sorted(p for p in copy.iterdir() if p.suffix == ".SAFE")
    bad = next(safes[0].rglob("*_B04.jp2"))
    bad.write_bytes(bad.read_bytes()[:200])   # a truncated JPEG 2000
    process, synthesis = _run([copy], tmp_path / "batch")
    assert process["status"] == "failed" and bad.name in process["error"]
    assert len(process["products"]) == len(safes) - 1
    assert synthesis["status"] == "written" and len(synthesis["inputs"]) == len(safes) - 1


def test_cli_runs_the_chain_from_l1c(l1c, tmp_path, capsys):
    import json

    from l3a.cli import main

    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["-q", "batch", "--input-root", str(l1c), "--tiles", TILE, "--months", "2018-07", "--out", str(out),
              "--level", "l1c", "--workers", "1", "--max-cloud", "100"])
    assert exc.value.code in (0, None), capsys.readouterr().err
    report = json.loads((out / "batch-report.json").read_text())
    kinds = [(t.get("kind"), t["status"]) for t in report["tasks"]]
    assert kinds == [("l2a-process", "written"), (None, "written")]
    assert len(list((out / "l2a").glob("SENTINEL2*"))) == len(report["tasks"][0]["products"])
    with pytest.raises(SystemExit) as exc:   # --dem belongs to the L1C level
        main(["-q", "batch", "--input-root", str(l1c), "--tiles", TILE, "--months", "2018-07", "--out", str(out),
              "--dem", str(l1c / "truth" / TILE / f"{TILE}_DEM_R2.tif")])
    assert exc.value.code == 2
