"""Sentinel-2 L2A STAC items over HTTP, offline: a loopback server in its own process (tests/l2a/stac_server.py)
serves the items and their COG assets written from simulated products.

* the assets read as windows with range requests give the pixels, and ``l3a compose`` the very rasters, of the same
  items read from disk (item URLs, and the STAC API search of the stub);
* HTTP faults: a 503 answered once is retried; a 404, a truncated body, a malformed document, a timeout end the
  command with exit code 2 and one line naming what failed, and nothing in ``--out``;
* a band subset fetches a fraction of the bytes of the assets.

A non-HTTP answer to a document request is one line (it was a traceback), and a truncated asset's error gives
GDAL's cause (it was rasterio's "Read failed").
"""

import http.client
import itertools
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

_HERE = Path(__file__).parent
sys.path.insert(0, str(_HERE))
import stac_fixture  # noqa: E402
from stac_server import CONFORMANCE, StacServer  # noqa: E402

TILE, MONTH = "T31TCJ", "2018-07"
#: GDAL and proxy settings of the environment that would change what the commands do: the tests set their own.
_SCRUBBED = ("GDAL_HTTP_", "CPL_VSIL_CURL", "GDAL_DISABLE_READDIR_ON_OPEN", "VSI_CACHE", "GDAL_INGESTED_BYTES")
_LOOPBACK = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Three simulated dates of T31TCJ (366 x 366 at 10 m, so that a COG is several times GDAL's 16 KB header read)
    written as Earth Search-like items with relative hrefs under ROOT/items/<product>/."""
    sim = tmp_path_factory.mktemp("remote-sim")
    subprocess.run([sys.executable, "-m", "l2a", "-q", "simulate", "--out", str(sim), "--tiles", TILE,
                    "--start", "2018-07-12", "--end", "2018-07-18", "--size", "366", "--seed", "3"], check=True)
    root = tmp_path_factory.mktemp("remote-root")
    items = [stac_fixture.write_item(p, root / "items" / p.name) for p in sorted(sim.glob("SENTINEL2*"))]
    assert len(items) >= 2
    return root, items


@pytest.fixture(scope="module")
def server(served, tmp_path_factory):
    root, _ = served
    with StacServer(root, items_dir=root / "items", log=tmp_path_factory.mktemp("http") / "requests.jsonl") as s:
        yield s


@pytest.fixture(autouse=True)
def _faults_cleared(request):
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").clear_faults()


@pytest.fixture(scope="module")
def reference(served, tmp_path_factory):
    """The synthesis of the items read from disk."""
    _, items = served
    proc = _compose(items, tmp_path_factory.mktemp("reference") / "out")
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def _env(**settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    env.update(_LOOPBACK)
    env.update(settings)
    return env


def _compose(sources, out: Path, *, env: dict | None = None, bands: str | None = None, extra=()):
    cmd = [sys.executable, "-m", "l3a", "-q", "compose"]
    for source in sources:
        cmd += ["--stac", str(source)]
    cmd += ["--tile", TILE, "--month", MONTH, "--out", str(out), "--threads", "2", *extra]
    if bands:
        cmd += ["--bands", bands]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, env=env or _env(), timeout=180)


def _assert_same_product(product: Path, reference: Path) -> None:
    """Same files, and byte-identical rasters (the XML/JSON documents name their inputs and times)."""
    assert product.name == reference.name
    files = sorted(p.relative_to(product).as_posix() for p in product.rglob("*"))
    assert files == sorted(p.relative_to(reference).as_posix() for p in reference.rglob("*"))
    rasters = [f for f in files if f.endswith(".tif")]
    assert len(rasters) > 10
    for name in rasters:
        assert (product / name).read_bytes() == (reference / name).read_bytes(), name


def _assert_nothing_written(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir()), sorted(out.rglob("*"))


def _one_line_error(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert len(lines) == 1 and lines[0].startswith("l3a: error: "), proc.stderr[-3000:]
    return lines[0]


def _asset(item: Path, suffix: str) -> str:
    """Fault pattern of one asset of an item (``_B04.tif``)."""
    return f"*/{item.stem}{suffix}"


def _get(url: str, **headers):
    """(status, headers, body) of a GET, errors included."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with _NO_PROXY_OPENER.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def _post(url: str, body: dict):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with _NO_PROXY_OPENER.open(request, timeout=10) as response:
        return json.loads(response.read())


# ------------------------------------------------------------------------------------------------- the server


def test_server_serves_byte_ranges(served, server):
    _, items = served
    asset = items[0].parent / f"{items[0].stem}_B04.tif"
    data, url = asset.read_bytes(), server.url_of(asset)
    size = len(data)
    status, headers, body = _get(url, Range="bytes=100-1123")
    assert (status, headers["Content-Range"], headers["Content-Length"]) == (206, f"bytes 100-1123/{size}", "1024")
    assert body == data[100:1124] and headers["Accept-Ranges"] == "bytes"
    assert _get(url, Range="bytes=-10")[2] == data[-10:]
    assert _get(url, Range=f"bytes={size - 5}-")[2] == data[-5:]
    assert _get(url, Range=f"bytes=0-{10 * size}")[1]["Content-Range"] == f"bytes 0-{size - 1}/{size}"
    status, headers, _ = _get(url, Range=f"bytes={size}-")
    assert (status, headers["Content-Range"]) == (416, f"bytes */{size}")
    assert _get(url, Range="bytes=0-1,5-9")[0] == 200  # multi-range: ignored, the whole file
    status, _, body = _get(url)
    assert status == 200 and body == data
    head = urllib.request.Request(url, method="HEAD")
    with _NO_PROXY_OPENER.open(head, timeout=10) as response:
        assert response.status == 200 and int(response.headers["Content-Length"]) == size
        assert response.read() == b""
    assert _get(server.url + "/items/")[0] == 404                      # no listing
    assert _get(server.url + "/items/../../etc/passwd")[0] == 404
    entries = server.requests()
    ranged = [e for e in entries if e["path"] == server.path_of(asset) and e["range"] == "bytes=100-1123"]
    assert ranged and ranged[-1]["status"] == 206 and ranged[-1]["bytes"] == 1024


def test_server_faults(served, server):
    _, items = served
    asset = items[0].parent / f"{items[0].stem}_B03.tif"
    url, data = server.url_of(asset), asset.read_bytes()
    server.set_faults([{"path": _asset(items[0], "_B03.tif"), "status": 503, "times": 2}])
    assert [_get(url)[0] for _ in range(3)] == [503, 503, 200]
    server.set_faults([{"path": _asset(items[0], "_B03.tif"), "truncate": 100}])
    with pytest.raises(http.client.IncompleteRead):  # the body ends before its Content-Length
        _get(url)
    server.set_faults([{"path": "*.tif", "body": "hello"}, {"path": "*", "status": 404}])
    assert _get(url)[2] == b"hello" and _get(server.url_of(items[0]))[0] == 404
    assert server.fault_hits() == [1, 1]
    server.clear_faults()
    assert _get(url)[2] == data


def test_stac_api_stub(served, server):
    _, items = served
    docs = [json.loads(i.read_text()) for i in items]
    status, _, body = _get(server.url + "/")
    landing = json.loads(body)
    assert status == 200 and set(CONFORMANCE) <= set(landing["conformsTo"])
    assert {"https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search"} <= set(
        landing["conformsTo"])
    collection = json.loads(_get(server.url + "/collections/sentinel-2-l2a")[2])
    assert collection["id"] == "sentinel-2-l2a" and collection["extent"]["spatial"]["bbox"]
    assert _get(server.url + "/collections/nope")[0] == 404
    times = sorted(d["properties"]["datetime"] for d in docs)
    # GET, one item per page, every page followed
    url, seen = f"{server.url}/search?collections=sentinel-2-l2a&limit=1&bbox=-10,35,10,55", []
    while url:
        page = json.loads(_get(url)[2])
        assert page["type"] == "FeatureCollection" and page["numberMatched"] == len(docs)
        seen += page["features"]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert [f["properties"]["datetime"] for f in seen] == times
    href = seen[0]["assets"]["red"]["href"]
    assert href.startswith(server.url + "/items/") and _get(href)[0] == 200  # relative hrefs made absolute
    # POST, paged with the body of the next link
    body, seen = {"collections": ["sentinel-2-l2a"], "limit": 2, "datetime": f"{times[0]}/{times[-1]}"}, []
    while body is not None:
        page = _post(server.url + "/search", body)
        seen += page["features"]
        link = next((link for link in page["links"] if link["rel"] == "next"), None)
        assert link is None or (link["method"] == "POST" and "token" in link["body"])
        body = link["body"] if link else None
    assert len(seen) == len(docs) and len({f["id"] for f in seen}) == len(docs)
    # filters
    assert _post(server.url + "/search", {"bbox": [100, 10, 101, 11]})["numberMatched"] == 0
    assert _post(server.url + "/search", {"collections": ["landsat"]})["numberMatched"] == 0
    assert _post(server.url + "/search", {"datetime": f"{times[1]}/.."})["numberMatched"] == len(docs) - 1
    assert _post(server.url + "/search", {"datetime": times[0]})["numberMatched"] == 1
    assert _get(server.url + "/search?limit=zero")[0] == 400


def test_stac_api_stub_with_pystac_client(served, server):
    pystac_client = pytest.importorskip("pystac_client")
    _, items = served
    client = pystac_client.Client.open(server.url)
    for method in ("GET", "POST"):
        search = client.search(collections=["sentinel-2-l2a"], bbox=[0, 43, 2, 45], datetime="2018-07-01/2018-07-31",
                               limit=1, method=method)
        assert sorted(i.id for i in search.items()) == sorted(json.loads(i.read_text())["id"] for i in items)


# ----------------------------------------------------------------------------------------------- the toolkit


def test_remote_item_reads_as_the_local_item(served, server, monkeypatch):
    from l2a.formats.stac import open_stac

    for k, v in _LOOPBACK.items():
        monkeypatch.setenv(k, v)
    _, items = served
    mark = server.mark()
    (remote,) = open_stac([server.url_of(items[1])])
    (local,) = open_stac([items[1]])
    assert remote.facts.bands["B4"].path.startswith("/vsicurl/" + server.url + "/items/")
    assert (remote.tile, remote.datetime, remote.bands) == (local.tile, local.datetime, local.bands)
    for band in local.bands:
        assert np.array_equal(remote.read_band(band), local.read_band(band)), band
    for res in ("R1", "R2"):
        masks_r, masks_l = remote.read_masks(res), local.read_masks(res)
        assert all(np.array_equal(masks_r[k], masks_l[k]) for k in masks_l), res
    assert np.array_equal(remote.read_aot(res="R2"), local.read_aot(res="R2"), equal_nan=True)
    assets = [e for e in server.requests(mark) if e["path"].endswith(".tif") and e["method"] == "GET"]
    assert assets and all(e["status"] == 206 and e["range"] for e in assets)  # windows, by range requests


def test_compose_over_http_equals_compose_from_disk(served, server, reference, tmp_path):
    _, items = served
    mark = server.mark()
    proc = _compose([server.url_of(i) for i in items], tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    _assert_same_product(Path(proc.stdout.strip().splitlines()[-1]), reference)
    entries = server.requests(mark)
    assert {e["status"] for e in entries} <= {200, 206}
    # each byte of an asset is fetched at most once
    spans = {}
    for e in entries:
        if e["method"] == "GET" and e["path"].endswith(".tif"):
            start = int(e["range"].split("=")[1].split("-")[0]) if e["range"] else 0
            spans.setdefault(e["path"], []).append((start, start + e["bytes"]))
    for path, parts in spans.items():
        parts.sort()
        assert all(b <= c for (_, b), (c, _) in itertools.pairwise(parts)), (path, parts)


def test_compose_from_the_stac_api_equals_compose_from_disk(served, server, reference, tmp_path):
    pytest.importorskip("pystac_client")
    pytest.importorskip("l2a.formats.stac.search")
    help_text = subprocess.run([sys.executable, "-m", "l3a", "compose", "--help"], check=False,
                               capture_output=True, text=True).stdout
    if "--collection" not in help_text:
        pytest.skip("l3a compose has no --collection (STAC API search)")
    mark = server.mark()
    proc = _compose([server.url], tmp_path / "out", extra=("--collection", "sentinel-2-l2a"))
    assert proc.returncode == 0, proc.stderr
    _assert_same_product(Path(proc.stdout.strip().splitlines()[-1]), reference)
    assert any(e["path"] == "/search" for e in server.requests(mark))


def test_stac_api_pages_are_all_read(served, server, monkeypatch):
    search = pytest.importorskip("l2a.formats.stac.search")
    pytest.importorskip("pystac_client")
    import datetime as dt

    from l2a.formats.stac import open_stac

    for k, v in _LOOPBACK.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(search, "PAGE_LIMIT", 1)
    _, items = served
    mark = server.mark()
    products = open_stac([server.url], collection="sentinel-2-l2a", tiles=[TILE],
                         start=dt.datetime(2018, 7, 1, tzinfo=dt.timezone.utc),
                         end=dt.datetime(2018, 8, 1, tzinfo=dt.timezone.utc))
    assert sorted(p.product_id for p in products) == sorted(json.loads(i.read_text())["id"] for i in items)
    assert sum(e["path"] == "/search" for e in server.requests(mark)) >= len(items)


# -------------------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize("settings,ok", [
    ({"GDAL_HTTP_MAX_RETRY": "3", "GDAL_HTTP_RETRY_DELAY": "0.1"}, True),
    ({}, True),   # the toolkit's own defaults (l2a.formats.stac.remote.REMOTE_DEFAULTS) retry too
    ({"GDAL_HTTP_MAX_RETRY": "0"}, False),
], ids=["retry-settings", "toolkit-defaults", "no-retry"])
def test_asset_answering_503_once(served, server, reference, tmp_path, settings, ok):
    _, items = served
    server.set_faults([{"path": _asset(items[0], "_B04.tif"), "status": 503, "times": 1}])
    out = tmp_path / "out"
    proc = _compose([server.url_of(i) for i in items], out, env=_env(**settings))
    assert server.fault_hits() == [1]
    if ok:
        assert proc.returncode == 0, proc.stderr
        _assert_same_product(Path(proc.stdout.strip().splitlines()[-1]), reference)
    else:
        line = _one_line_error(proc)
        assert "503" in line and f"{items[0].stem}_B04.tif" in line and "asset red" in line
        _assert_nothing_written(out)


def test_item_document_answering_503_once(served, server, reference, tmp_path):
    _, items = served
    server.set_faults([{"path": f"*/{items[0].name}", "status": 503, "times": 1}])
    proc = _compose([server.url_of(i) for i in items], tmp_path / "out",
                    env=_env(GDAL_HTTP_MAX_RETRY="3", GDAL_HTTP_RETRY_DELAY="0.1"))
    assert proc.returncode == 0, proc.stderr
    assert server.fault_hits() == [1]
    _assert_same_product(Path(proc.stdout.strip().splitlines()[-1]), reference)


#: (name, fault rule builder, settings, texts the error line must hold)
_FAULTS = [
    ("asset-404", lambda i: {"path": _asset(i, "_B08.tif"), "status": 404}, {},
     lambda i: ["not found (HTTP 404)", f"{i.stem}_B08.tif", "asset nir"]),
    ("asset-503-always", lambda i: {"path": _asset(i, "_B04.tif"), "status": 503},
     {"GDAL_HTTP_MAX_RETRY": "2", "GDAL_HTTP_RETRY_DELAY": "0.1"}, lambda i: ["503", f"{i.stem}_B04.tif"]),
    # the header (first 16 KB) of the asset arrives short: GDAL keeps what came and fails to decode the tile later
    ("asset-truncated", lambda i: {"path": _asset(i, "_B04.tif"), "truncate": 3000}, {},
     lambda i: [f"{i.stem}_B04.tif"]),
    ("asset-timeout", lambda i: {"path": _asset(i, "_B04.tif"), "delay": 3},
     {"GDAL_HTTP_TIMEOUT": "1", "GDAL_HTTP_MAX_RETRY": "1", "GDAL_HTTP_RETRY_DELAY": "0.1"},
     lambda i: [f"{i.stem}_B04.tif", "timed out"]),
    ("asset-not-http", lambda i: {"path": _asset(i, "_B04.tif"), "raw": "garbage\r\n\r\n"}, {},
     lambda i: [f"{i.stem}_B04.tif", "asset red"]),
    ("item-404", lambda i: {"path": f"*/{i.name}", "status": 404}, {}, lambda i: ["404", i.name]),
    ("item-malformed", lambda i: {"path": f"*/{i.name}", "body": '{"type": "Feature", "id": '}, {},
     lambda i: ["JSON", i.name]),
    ("item-truncated", lambda i: {"path": f"*/{i.name}", "truncate": 1000}, {}, lambda i: [i.name]),
]


@pytest.mark.parametrize("name,rule,settings,texts", _FAULTS, ids=[f[0] for f in _FAULTS])
def test_http_fault_is_one_line_and_writes_nothing(served, server, tmp_path, name, rule, settings, texts):
    _, items = served
    item = items[0]
    server.set_faults([rule(item)])
    out = tmp_path / "out"
    proc = _compose([server.url_of(i) for i in items], out, env=_env(**settings))
    line = _one_line_error(proc)
    for text in texts(item):
        assert text in line, (text, line)
    assert server.fault_hits()[0] >= 1     # (GDAL 3.10 retries a timeout too: 2 hits with GDAL_HTTP_MAX_RETRY=1)
    _assert_nothing_written(out)


def test_item_document_answered_without_http_is_one_line(served, server, tmp_path):
    _, items = served
    server.set_faults([{"path": f"*/{items[0].name}", "raw": "garbage\r\n\r\n"}])
    out = tmp_path / "out"
    proc = _compose([server.url_of(i) for i in items], out)
    assert items[0].name in _one_line_error(proc)
    _assert_nothing_written(out)


def test_truncated_asset_error_says_why(served, server, tmp_path):
    _, items = served
    server.set_faults([{"path": _asset(items[0], "_B04.tif"), "truncate": 3000}])
    proc = _compose([server.url_of(i) for i in items], tmp_path / "out")
    assert "See previous exception" not in _one_line_error(proc)


# ----------------------------------------------------------------------------------------------- bytes read


def test_band_subset_fetches_a_fraction_of_the_assets(served, server, tmp_path):
    root, items = served
    sizes = {server.path_of(p): p.stat().st_size for p in (root / "items").rglob("*.tif")}
    total = sum(sizes.values())
    ratios = {}
    for bands in (None, "B4,B8"):
        mark = server.mark()
        proc = _compose([server.url_of(i) for i in items], tmp_path / f"out-{bands}", bands=bands)
        assert proc.returncode == 0, proc.stderr
        fetched = sum(e["bytes"] for e in server.requests(mark) if e["path"] in sizes)
        ratios[bands or "all"] = fetched / total
    print(f"bytes fetched / bytes of the {len(sizes)} assets ({total} B): all bands {ratios['all']:.3f}, "
          f"B4,B8 {ratios['B4,B8']:.3f}")
    assert ratios["all"] <= 1.0            # no byte fetched twice
    assert ratios["B4,B8"] < 0.75          # the other bands' headers only (the 20 m SCL and AOT whole)


def test_batch_from_the_stac_api_equals_compose_from_disk(served, server, reference, tmp_path):
    """`l3a batch --stac API --collection`: the items are staged in OUT/stac-items (hrefs made absolute URLs), found
    by the discovery from their documents, and composed by a worker reading the assets over HTTP."""
    out = tmp_path / "batch"
    cmd = [sys.executable, "-m", "l3a", "-q", "batch", "--stac", server.url, "--collection", "sentinel-2-l2a",
           "--tiles", TILE, "--months", MONTH, "--out", str(out), "--workers", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    staged = sorted((out / "stac-items").glob("*.json"))
    assert len(staged) == len(served[1])
    hrefs = [a["href"] for p in staged for a in json.loads(p.read_text())["assets"].values()]
    assert all(h.startswith(server.url) for h in hrefs)
    report = json.loads((out / "batch-report.json").read_text())
    (task,) = [t for t in report["tasks"] if t["status"] == "written"]
    _assert_same_product(Path(task["output"]), reference)
    # a rerun keeps the product, and stages the same files again without rewriting them
    mtimes = {p: p.stat().st_mtime_ns for p in staged}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0 and {p: p.stat().st_mtime_ns for p in staged} == mtimes


def test_batch_task_retries_a_503_in_its_reading_threads(served, server, reference, tmp_path):
    """A batch task runs in a dask worker thread, where rasterio keeps ``remote_env()`` thread-local: the threads
    that open the items and read their pixels must still retry (l2a.io.threads.env_thread_pool); no GDAL_HTTP_*
    variable is set, so only the toolkit's defaults can retry."""
    _, items = served
    server.set_faults([{"path": _asset(items[0], "_B04.tif"), "status": 503, "times": 1}])
    out = tmp_path / "batch"
    cmd = [sys.executable, "-m", "l3a", "-q", "batch", *[a for i in items for a in ("--stac", server.url_of(i))],
           "--tiles", TILE, "--months", MONTH, "--out", str(out), "--workers", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert server.fault_hits() == [1]
    report = json.loads((out / "batch-report.json").read_text())
    (task,) = [t for t in report["tasks"] if t["status"] == "written"]
    _assert_same_product(Path(task["output"]), reference)
