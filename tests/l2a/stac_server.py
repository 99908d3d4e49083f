"""A loopback HTTP server for the STAC tests: static files with byte ranges, fault injection, a request log, and a
minimal STAC API (item search) over a folder of item documents. Standard library only.

The server runs in its own process (this module run as a script): GDAL holds the GIL while it opens a remote file,
which would starve a server thread of the test process. From the tests::

    with StacServer(root, items_dir=root / "items", log=tmp / "requests.jsonl") as server:
        url = server.url_of(root / "items" / "a" / "item.json")     # http://127.0.0.1:PORT/items/a/item.json
        server.set_faults([{"path": "*/B04.tif", "status": 503, "times": 1}])
        ...                                                         # GDAL, urllib, subprocesses read from it
        entries = server.requests()                                 # one dict per request

Files
    Every file under ``root`` is served read-only at its relative path (no directory listings: a folder is a 404).
    ``GET`` and ``HEAD`` (``Content-Length``, ``Accept-Ranges: bytes``, ``Last-Modified``); a single
    ``Range: bytes=a-b`` (also ``a-`` and ``-n``) gets ``206 Partial Content`` with ``Content-Range``, an
    unsatisfiable one ``416``; a multi-range or malformed one is ignored (``200``, the whole file), as RFC 9110
    allows. HTTP/1.1 with keep-alive, as GDAL's curl expects of a real server.

Request log
    One JSON line per request (control requests excepted) appended to the log file once the response is sent:
    ``t`` (start, epoch s), ``method``, ``path`` (decoded, without query), ``query``, ``range`` (the header or
    null), ``status``, ``bytes`` (body bytes actually sent), ``fault`` (index of the rule applied or null), and
    ``error`` when the client went away before the end (``BrokenPipeError``...). :meth:`StacServer.requests` waits
    until no request is in flight, then reads it.

Faults
    Rules, first match wins, replaced as a whole with :meth:`StacServer.set_faults` (which resets their counters)::

        {"path": "*/B04.tif",      # fnmatch pattern on the decoded URL path (required)
         "methods": ["GET"],       # only these methods (default: all)
         "times": 1,               # applies to the first N matching requests only, then never (default: always)
         "status": 503,            # answer this status (with a one-line text body) instead of the resource
         "delay": 3.0,             # wait this long before answering (then the resource, or the status)
         "truncate": 1000,         # send the headers of the full answer but only the first K body bytes, then
                                   # close the connection
         "body": "{not json",      # serve this text (UTF-8) instead of the resource, status 200
         "raw": "garbage"}         # send these bytes instead of an HTTP answer, then close (logged as status 0)

STAC API (when ``items_dir`` is given; every ``*.json`` under it whose ``type`` is ``Feature`` is an item, re-read
at each request so that tests may add items)
    ``GET /`` landing page (``conformsTo``: STAC API core, item-search, collections), ``GET /conformance``,
    ``GET /collections``, ``GET /collections/{id}``, ``GET /collections/{id}/items[/{item}]``, and
    ``GET /search?collections=a,b&ids=..&bbox=w,s,e,n&datetime=a/b&limit=N&page=K`` / ``POST /search`` (JSON body
    with the same fields as JSON values, and the page as ``page``, ``token`` or ``next``: ``"page:K"`` or ``K``).
    Items are filtered by collection, id, bbox intersection (item ``bbox``) and datetime (an instant, or a closed
    interval with ``..`` or empty for an open end), sorted by datetime then id, and returned as an ItemCollection
    with ``numberMatched``, ``numberReturned`` and, while more pages remain, a ``next`` link: ``GET`` with
    ``page=K+1`` in the query, or ``POST`` with the request body plus ``"token": "page:K+1"``. Relative asset hrefs
    of the item files are rewritten to absolute URLs of this server (files under ``root``) or absolute paths.

Control endpoints (not logged): ``PUT /_ctl/faults`` (JSON list), ``GET /_ctl/faults`` (rules and hit counts),
``GET /_ctl/status`` (requests in flight, requests served).

The server process exits when its standard input closes, so it never outlives the process that started it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import fnmatch
import json
import mimetypes
import os
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["CONFORMANCE", "StacServer"]

CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/collections",
]
_CONTROL = "/_ctl/"
_CHUNK = 64 * 1024
_GEOJSON = "application/geo+json"
_DEFAULT_LIMIT, _MAX_LIMIT = 10, 10000


# ------------------------------------------------------------------------------------------------- test side


class StacServer:
    """The server in a child process; start and stop it with ``with`` (or :meth:`start` / :meth:`stop`).

    Parameters
    ----------
    root : path-like
        Folder served read-only.
    items_dir : path-like, optional
        Folder of item JSON files behind the STAC API endpoints (no API without it).
    log : path-like, optional
        Request log (JSON lines), kept; a temporary file, removed at stop, by default.
    faults : list of dict, optional
        Initial fault rules (see the module docstring).
    """

    def __init__(self, root, *, items_dir=None, log=None, faults=None, startup_timeout: float = 20.0):
        self.root = Path(root).resolve()
        self.items_dir = None if items_dir is None else Path(items_dir).resolve()
        self._own_log = log is None
        if log is None:
            fd, name = tempfile.mkstemp(prefix="stac-server-", suffix=".jsonl")
            os.close(fd)
            log = name
        self.log = Path(log)
        self._faults = list(faults or [])
        self._startup_timeout = startup_timeout
        self._proc: subprocess.Popen | None = None
        self.url: str | None = None

    # lifecycle
    def start(self) -> "StacServer":
        if self._proc is not None:
            raise RuntimeError("server already started")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        cmd = [sys.executable, "-I", os.path.abspath(__file__), "--root", str(self.root), "--log", str(self.log)]
        if self.items_dir is not None:
            cmd += ["--items", str(self.items_dir)]
        if self._faults:
            cmd += ["--faults", json.dumps(self._faults)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        ready, _, _ = select.select([self._proc.stdout], [], [], self._startup_timeout)
        line = self._proc.stdout.readline().decode() if ready else ""
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the STAC test server did not start (said {line!r})")
        self.url = line.split()[1]
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._own_log:
            self.log.unlink(missing_ok=True)

    def __enter__(self) -> "StacServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # addresses
    def url_of(self, path) -> str:
        """URL of a file under ``root`` (absolute path, or relative to ``root``)."""
        p = Path(path)
        rel = (p.resolve() if p.is_absolute() else (self.root / p).resolve()).relative_to(self.root)
        return f"{self.url}/{urllib.parse.quote(rel.as_posix())}"

    def path_of(self, path) -> str:
        """URL path (``/items/a/B04.tif``) of a file under ``root``, as the log and the fault rules see it."""
        return urllib.parse.urlsplit(self.url_of(path)).path

    # control
    def _control(self, name: str, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"{self.url}{_CONTROL}{name}", data=data,
                                         method="GET" if data is None else "PUT",
                                         headers={"Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
        with opener.open(request, timeout=10) as response:
            return json.loads(response.read())

    def set_faults(self, rules: list[dict]) -> None:
        """Replace the fault rules (their counters start again at 0)."""
        self._control("faults", list(rules))

    def clear_faults(self) -> None:
        self.set_faults([])

    def fault_hits(self) -> list[int]:
        """How many requests each rule has been applied to."""
        return self._control("faults")["hits"]

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no request is in flight (so that every request answered is in the log)."""
        deadline = time.monotonic() + timeout
        while self._control("status")["inflight"]:
            if time.monotonic() > deadline:
                raise TimeoutError("requests still in flight on the STAC test server")
            time.sleep(0.02)

    # log
    def requests(self, since: int = 0) -> list[dict]:
        """Log entries from the ``since``-th on (see :meth:`mark`), once no request is in flight."""
        self.wait_idle()
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines[since:] if line.strip()]

    def mark(self) -> int:
        """Number of log entries so far: give it to :meth:`requests` to see only later requests."""
        return len(self.requests())


# ----------------------------------------------------------------------------------------------- server side


class _State:
    def __init__(self, root: Path, items_dir: Path | None, log: Path, faults: list[dict]):
        self.root, self.items_dir = root, items_dir
        self.base = ""
        self.lock = threading.Lock()
        self.log_file = open(log, "a", encoding="utf-8")  # noqa: SIM115 (open for the life of the process)
        self.faults, self.hits = [], []
        self.set_faults(faults)
        self.inflight = 0
        self.served = 0

    def set_faults(self, rules: list[dict]) -> None:
        if not isinstance(rules, list) or not all(isinstance(r, dict) and isinstance(r.get("path"), str)
                                                  for r in rules):
            raise ValueError("fault rules are a list of objects with a 'path' pattern")
        with self.lock:
            self.faults, self.hits = [dict(r) for r in rules], [0] * len(rules)

    def take_fault(self, method: str, path: str) -> tuple[int | None, dict | None]:
        with self.lock:
            for i, rule in enumerate(self.faults):
                if not fnmatch.fnmatchcase(path, rule["path"]):
                    continue
                if rule.get("methods") and method not in rule["methods"]:
                    continue
                if rule.get("times") is not None and self.hits[i] >= int(rule["times"]):
                    continue
                self.hits[i] += 1
                return i, rule
        return None, None

    def write_log(self, entry: dict) -> None:
        line = json.dumps(entry) + "\n"
        with self.lock:
            self.log_file.write(line)
            self.log_file.flush()
            self.served += 1


class _ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SyntheoStacStub/1.0"
    # headers and body go out in separate writes: without TCP_NODELAY, Nagle + the client's delayed ACK stall every
    # keep-alive answer by ~40 ms
    disable_nagle_algorithm = True
    state: _State  # set on the class by _serve

    def log_message(self, format, *args):  # quiet: the JSON log says it all
        pass

    def do_GET(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    # -- plumbing
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        body_in = self._read_body()
        parts = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parts.path)
        if path.startswith(_CONTROL):
            self._control(path[len(_CONTROL):], body_in)
            return
        state = self.state
        with state.lock:
            state.inflight += 1
        entry = {"t": round(time.time(), 4), "method": self.command, "path": path, "query": parts.query,
                 "range": self.headers.get("Range"), "status": None, "bytes": 0, "fault": None}
        self._entry = entry
        try:
            index, rule = state.take_fault(self.command, path)
            entry["fault"] = index
            rule = rule or {}
            self._truncate = rule.get("truncate")
            if rule.get("delay"):
                time.sleep(float(rule["delay"]))
            if rule.get("raw") is not None:  # not HTTP: these bytes, then the connection closed
                data = str(rule["raw"]).encode()
                self.wfile.write(data)
                entry.update(status=0, bytes=len(data))
                self.close_connection = True
            elif rule.get("status") is not None:
                status = int(rule["status"])
                self._send_bytes(status, f"{status} (injected fault)\n".encode(), "text/plain")
            elif rule.get("body") is not None:
                self._send_bytes(200, str(rule["body"]).encode(), mimetypes.guess_type(path)[0] or "text/plain")
            elif self.command in ("GET", "POST") and self._is_api(path):
                self._api(path, parts.query, body_in)
            elif self.command in ("GET", "HEAD"):
                self._file(path)
            else:
                self._send_bytes(405, b"method not allowed\n", "text/plain", {"Allow": "GET, HEAD"})
        except (BrokenPipeError, ConnectionResetError, TimeoutError) as exc:
            entry["error"] = type(exc).__name__
            self.close_connection = True
        finally:
            state.write_log(entry)
            with state.lock:
                state.inflight -= 1

    def _control(self, name: str, body: bytes) -> None:
        state = self.state
        try:
            if name == "faults" and self.command == "PUT":
                state.set_faults(json.loads(body or b"[]"))
                answer = {"ok": True}
            elif name == "faults":
                with state.lock:
                    answer = {"rules": state.faults, "hits": list(state.hits)}
            elif name == "status":
                with state.lock:
                    answer = {"inflight": state.inflight, "served": state.served}
            else:
                raise ValueError(f"no control endpoint {name!r}")
            status = 200
        except ValueError as exc:
            answer, status = {"error": str(exc)}, 400
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_head(self, status: int, length: int, ctype: str, extra: dict | None = None) -> None:
        self._entry["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if self._truncate is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def _write(self, data: bytes) -> bool:
        """Write body bytes, honouring a truncation fault; False once truncated."""
        entry = self._entry
        if self._truncate is not None:
            room = int(self._truncate) - entry["bytes"]
            if room <= 0:
                entry["truncated"] = True
                return False
            if len(data) > room:
                data = data[:room]
                self.wfile.write(data)
                entry["bytes"] += len(data)
                entry["truncated"] = True
                return False
        self.wfile.write(data)
        entry["bytes"] += len(data)
        return True

    def _send_bytes(self, status: int, data: bytes, ctype: str, extra: dict | None = None) -> None:
        self._send_head(status, len(data), ctype, extra)
        if self.command != "HEAD":
            self._write(data)
        self.wfile.flush()

    def _send_json(self, doc, status: int = 200, ctype: str = "application/json") -> None:
        self._send_bytes(status, json.dumps(doc).encode(), ctype)

    # -- files
    def _local(self, path: str) -> Path | None:
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if any(p == ".." or "\\" in p or "\x00" in p for p in parts):
            return None
        target = self.state.root.joinpath(*parts).resolve() if parts else self.state.root
        try:
            target.relative_to(self.state.root)
        except ValueError:
            return None
        return target if target.is_file() else None

    def _file(self, path: str) -> None:
        target = self._local(path)
        if target is None:
            self._send_bytes(404, b"not found\n", "text/plain")
            return
        size = target.stat().st_size
        headers = {"Accept-Ranges": "bytes",
                   "Last-Modified": email.utils.formatdate(target.stat().st_mtime, usegmt=True)}
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        span = _parse_range(self.headers.get("Range"), size) if self.command == "GET" else None
        if span == "unsatisfiable":
            self._send_bytes(416, b"", "text/plain", {**headers, "Content-Range": f"bytes */{size}"})
            return
        if span is None:
            status, start, end = 200, 0, size - 1
        else:
            status, (start, end) = 206, span
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._send_head(status, end - start + 1, ctype, headers)
        if self.command == "HEAD":
            return
        with open(target, "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(_CHUNK, left))
                if not chunk or not self._write(chunk):
                    break
                left -= len(chunk)
        self.wfile.flush()

    # -- STAC API
    def _is_api(self, path: str) -> bool:
        if self.state.items_dir is None:
            return False
        return path in ("/", "/conformance", "/search", "/collections") or path.startswith("/collections/")

    def _api(self, path: str, query: str, body: bytes) -> None:
        try:
            if path == "/search":
                params = self._search_params(query, body)
                self._send_json(self._search(params, post=self.command == "POST"), ctype=_GEOJSON)
                return
            if self.command != "GET":
                raise _ApiError(405, f"{self.command} {path} is not supported")
            if path == "/":
                self._send_json(self._landing())
            elif path == "/conformance":
                self._send_json({"conformsTo": CONFORMANCE})
            elif path == "/collections":
                self._send_json({"collections": [self._collection(c) for c in self._collection_ids()],
                                 "links": [self._link("root", "/"), self._link("self", "/collections")]})
            else:
                parts = path.split("/")[2:]
                if not parts or not parts[0] or parts[0] not in self._collection_ids():
                    raise _ApiError(404, f"no collection {parts[0] if parts else ''!r}")
                if len(parts) == 1:
                    self._send_json(self._collection(parts[0]))
                elif len(parts) == 2 and parts[1] == "items":
                    params = self._search_params(query, b"")
                    params["collections"] = [parts[0]]
                    self._send_json(self._search(params, post=False, path=path), ctype=_GEOJSON)
                elif len(parts) == 3 and parts[1] == "items":
                    found = [d for d in self._items() if d.get("collection") == parts[0] and d.get("id") == parts[2]]
                    if not found:
                        raise _ApiError(404, f"no item {parts[2]!r} in {parts[0]!r}")
                    self._send_json(found[0], ctype=_GEOJSON)
                else:
                    raise _ApiError(404, f"no resource {path}")
        except _ApiError as exc:
            self._send_json({"code": "NotFound" if exc.status == 404 else "BadRequest", "description": str(exc)},
                            status=exc.status)

    def _link(self, rel: str, path: str, **extra) -> dict:
        return {"rel": rel, "href": self.state.base + path, **extra}

    def _landing(self) -> dict:
        links = [self._link("self", "/", type="application/json"), self._link("root", "/", type="application/json"),
                 self._link("conformance", "/conformance", type="application/json"),
                 self._link("data", "/collections", type="application/json"),
                 self._link("search", "/search", type=_GEOJSON, method="GET"),
                 self._link("search", "/search", type=_GEOJSON, method="POST")]
        links += [self._link("child", f"/collections/{c}", type="application/json") for c in self._collection_ids()]
        return {"type": "Catalog", "id": "syntheo-stac-stub", "stac_version": "1.0.0",
                "description": "STAC API stub of the syntheo tests", "conformsTo": CONFORMANCE, "links": links}

    def _items(self) -> list[dict]:
        """Every item document under items_dir, relative asset hrefs made absolute."""
        state = self.state
        docs = []
        for f in sorted(state.items_dir.rglob("*.json")):
            try:
                doc = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            if not isinstance(doc, dict) or doc.get("type") != "Feature":
                continue
            for asset in (doc.get("assets") or {}).values():
                href = asset.get("href") if isinstance(asset, dict) else None
                if isinstance(href, str) and "://" not in href and not os.path.isabs(href):
                    asset["href"] = self._absolute(f.parent / href)
            links = [link for link in doc.get("links", []) if link.get("rel") not in ("self", "root", "collection")]
            links += [{"rel": "self", "href": self._absolute(f), "type": _GEOJSON}, self._link("root", "/")]
            if doc.get("collection"):
                links.append(self._link("collection", f"/collections/{doc['collection']}"))
            doc["links"] = links
            docs.append(doc)
        return docs

    def _absolute(self, file: Path) -> str:
        target = Path(os.path.normpath(file.resolve()))
        try:
            rel = target.relative_to(self.state.root)
        except ValueError:
            return str(target)
        return f"{self.state.base}/{urllib.parse.quote(rel.as_posix())}"

    def _collection_ids(self) -> list[str]:
        return sorted({str(d["collection"]) for d in self._items() if d.get("collection")})

    def _collection(self, cid: str) -> dict:
        items = [d for d in self._items() if d.get("collection") == cid]
        boxes = [d["bbox"] for d in items if isinstance(d.get("bbox"), list) and len(d["bbox"]) >= 4]
        bbox = ([min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[-2] for b in boxes),
                 max(b[-1] for b in boxes)] if boxes else [-180, -90, 180, 90])
        times = sorted(str(d.get("properties", {}).get("datetime")) for d in items)
        return {"type": "Collection", "id": cid, "stac_version": "1.0.0", "description": f"{cid} (test stub)",
                "license": "proprietary",
                "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [[times[0], times[-1]]]}},
                "links": [self._link("self", f"/collections/{cid}"), self._link("root", "/"),
                          self._link("items", f"/collections/{cid}/items", type=_GEOJSON)]}

    def _search_params(self, query: str, body: bytes) -> dict:
        if self.command == "POST":
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                raise _ApiError(400, "the search body is not JSON") from None
            if not isinstance(params, dict):
                raise _ApiError(400, "the search body is not a JSON object")
            return dict(params)
        params = {}
        for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            if key in ("collections", "ids"):
                params[key] = [v for v in value.split(",") if v]
            elif key == "bbox":
                try:
                    params[key] = [float(v) for v in value.split(",")]
                except ValueError:
                    raise _ApiError(400, f"bbox {value!r} is not numbers") from None
            else:
                params[key] = value
        return params

    def _search(self, params: dict, *, post: bool, path: str = "/search") -> dict:
        if params.get("intersects") is not None:
            raise _ApiError(400, "intersects is not supported by the stub (use bbox)")
        try:
            limit = int(params.get("limit", _DEFAULT_LIMIT))
        except (TypeError, ValueError):
            raise _ApiError(400, f"limit {params.get('limit')!r} is not an integer") from None
        if not 1 <= limit <= _MAX_LIMIT:
            raise _ApiError(400, f"limit {limit} is outside 1..{_MAX_LIMIT}")
        page_text = next((str(params[k]) for k in ("page", "token", "next") if params.get(k) not in (None, "")), "1")
        try:
            page = int(page_text.removeprefix("page:"))
        except ValueError:
            raise _ApiError(400, f"page token {page_text!r} is not one of this server's") from None
        if page < 1:
            raise _ApiError(400, f"page {page} is below 1")
        collections, ids = params.get("collections"), params.get("ids")
        if isinstance(collections, str):
            collections = [collections]
        if isinstance(ids, str):
            ids = [ids]
        bbox = params.get("bbox")
        if bbox is not None:
            if not isinstance(bbox, list) or len(bbox) not in (4, 6):
                raise _ApiError(400, f"bbox {bbox!r} is not 4 or 6 numbers")
            bbox = [float(v) for v in (bbox if len(bbox) == 4 else [bbox[0], bbox[1], bbox[3], bbox[4]])]
        interval = _interval(params.get("datetime"))
        matched = []
        for doc in self._items():
            if collections and doc.get("collection") not in collections:
                continue
            if ids and doc.get("id") not in ids:
                continue
            if bbox is not None and not _intersects(doc.get("bbox"), bbox):
                continue
            when = _time(doc.get("properties", {}).get("datetime"))
            if interval is not None and (when is None or not interval[0] <= when <= interval[1]):
                continue
            matched.append((when or dt.datetime.min.replace(tzinfo=dt.timezone.utc), str(doc.get("id")), doc))
        matched.sort(key=lambda t: t[:2])
        features = [t[2] for t in matched[(page - 1) * limit:page * limit]]
        links = [self._link("root", "/")]
        if page * limit < len(matched):
            if post:
                body = {k: v for k, v in params.items() if k not in ("page", "token", "next")}
                links.append(self._link("next", path, method="POST", type=_GEOJSON,
                                        body={**body, "token": f"page:{page + 1}"}, merge=False))
            else:
                query = {k: (",".join(map(str, v)) if isinstance(v, list) else v) for k, v in params.items()
                         if k not in ("page", "token", "next")}
                query["page"] = page + 1
                links.append(self._link("next", f"{path}?{urllib.parse.urlencode(query)}", method="GET",
                                        type=_GEOJSON))
        return {"type": "FeatureCollection", "stac_version": "1.0.0", "features": features,
                "numberMatched": len(matched), "numberReturned": len(features),
                "context": {"limit": limit, "matched": len(matched), "returned": len(features)}, "links": links}


def _parse_range(header: str | None, size: int):
    """(start, end) inclusive of a single ``bytes=`` range, None to serve the whole file, or "unsatisfiable"."""
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not m or (m[1] == "" and m[2] == ""):
        return None  # multi-range or malformed: ignored
    if m[1] == "":
        n = int(m[2])
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(m[1])
    if m[2] != "" and int(m[2]) < start:
        return None  # invalid: ignored
    if start >= size:
        return "unsatisfiable"
    end = size - 1 if m[2] == "" else min(int(m[2]), size - 1)
    return start, end


def _time(text) -> dt.datetime | None:
    if text in (None, "", ".."):
        return None
    try:
        when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _ApiError(400, f"datetime {text!r} is not RFC 3339") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _interval(text) -> tuple[dt.datetime, dt.datetime] | None:
    if text in (None, ""):
        return None
    text = str(text)
    lowest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    highest = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    if "/" not in text:
        when = _time(text)
        return (when, when) if when else None
    a, b = text.split("/", 1)
    start, end = _time(a) or lowest, _time(b) or highest
    if start > end:
        raise _ApiError(400, f"datetime interval {text!r} ends before it starts")
    return start, end


def _intersects(item_bbox, bbox: list[float]) -> bool:
    if not isinstance(item_bbox, list) or len(item_bbox) not in (4, 6):
        return False
    w, s, e, n = (item_bbox if len(item_bbox) == 4 else [item_bbox[0], item_bbox[1], item_bbox[3], item_bbox[4]])
    return not (w > bbox[2] or e < bbox[0] or s > bbox[3] or n < bbox[1])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # a client that drops its idle keep-alive connections when it exits is not an error of the server
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def _serve(root: Path, items_dir: Path | None, log: Path, faults: list[dict]) -> None:
    state = _State(root.resolve(), None if items_dir is None else items_dir.resolve(), log, faults)
    handler = type("Handler", (_Handler,), {"state": state})
    server = _Server(("127.0.0.1", 0), handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"

    def watch_parent():
        sys.stdin.buffer.read()  # EOF: the parent closed the pipe, or died
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    sys.stdout.write(f"READY {state.base}\n")
    sys.stdout.flush()
    server.serve_forever(poll_interval=0.2)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--items", type=Path, default=None)
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("--faults", default="[]", help="initial fault rules, JSON")
    args = parser.parse_args(argv)
    _serve(args.root, args.items, args.log, json.loads(args.faults))


if __name__ == "__main__":
    main()
