"""`mosaic serve`: read-only, no way out of the folder, MIME types, caching, robustness under load."""

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from l2a.cli_options import run_cli
from mosaic.cli import cli
from mosaic.serve import TILE_MAX_AGE_S, make_server

SECRET = b"top secret outside the site\n"


def _mosaic(args):
    return run_cli(cli, "mosaic", args)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A site folder with a page, a tile, assets, a hidden file and symlinks; a secret file beside it."""
    base = tmp_path_factory.mktemp("serve")
    (base / "secret.txt").write_bytes(SECRET)
    root = base / "site"
    (root / "left" / "9" / "261").mkdir(parents=True)
    (root / "left" / "9" / "261" / "187.png").write_bytes(b"\x89PNG\r\n\x1a\nfake tile")
    (root / "index.html").write_text("<!doctype html><title>t</title>")
    (root / "viewer.js").write_text("console.log(1)")
    (root / "viewer.css").write_text("body{}")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "left" / "metadata.json").write_text("{}")
    (root / ".hidden").write_text("temporary")
    (root / "empty").mkdir()
    (root / "inside.js").symlink_to(root / "viewer.js")
    (root / "escape.txt").symlink_to(base / "secret.txt")
    (root / "escape-dir").symlink_to(base, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def server(site):
    srv = make_server(site, "127.0.0.1", 0)
    srv.start_background()
    yield srv
    srv.shutdown()
    srv.server_close()


def _get(server, target, method="GET", headers=None):
    """(status, headers, body) of a request sent with the target exactly as given."""
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    try:
        conn.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _raw(server, request: bytes) -> bytes:
    with socket.create_connection(server.server_address[:2], timeout=10) as s:
        s.sendall(request)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


@pytest.mark.parametrize("path, mime", [
    ("/", "text/html; charset=utf-8"), ("/index.html", "text/html; charset=utf-8"),
    ("/viewer.js", "text/javascript; charset=utf-8"), ("/viewer.css", "text/css; charset=utf-8"),
    ("/favicon.svg", "image/svg+xml"), ("/left/metadata.json", "application/json"),
    ("/left/9/261/187.png", "image/png"), ("/inside.js", "text/javascript; charset=utf-8"),
])
def test_files_with_their_mime_types(server, site, path, mime):
    status, headers, body = _get(server, path)
    assert status == 200 and headers["Content-Type"] == mime
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert int(headers["Content-Length"]) == len(body) > 0


def test_tiles_are_cached_pages_revalidated(server):
    _, tile, _ = _get(server, "/left/9/261/187.png")
    assert tile["Cache-Control"] == f"public, max-age={TILE_MAX_AGE_S}"
    _, page, _ = _get(server, "/index.html")
    assert page["Cache-Control"] == "no-cache" and page["ETag"] and page["Last-Modified"]
    status, _, body = _get(server, "/index.html", headers={"If-None-Match": page["ETag"]})
    assert status == 304 and body == b""


def test_missing_tile_is_404_and_server_goes_on(server):
    for _ in range(3):
        status, headers, _ = _get(server, "/left/9/999/999.png")
        assert status == 404 and headers["Content-Type"].startswith("text/plain")
    assert _get(server, "/left/9/261/187.png")[0] == 200


@pytest.mark.parametrize("target", [
    "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/left/..%2f..%2fsecret.txt",
    "/left/%2e%2e/%2e%2e/secret.txt", "/..%5csecret.txt", "/..\\secret.txt", "/escape.txt",
    "/escape-dir/secret.txt", "/escape-dir/", f"/{'%2e%2e/' * 12}etc/passwd", "/etc/passwd", "//etc/passwd",
    "/%2Fetc%2Fpasswd", "http://127.0.0.1/../secret.txt", "/.hidden", "/%2ehidden", "/secret.txt%00.png",
    "/left/9/261/187.png/../../../../secret.txt",
])
def test_traversal_never_leaves_the_folder(server, target):
    status, _, body = _get(server, target)
    assert status in (400, 403, 404), (target, status)
    assert SECRET not in body and b"root:" not in body


def test_traversal_in_raw_request_lines(server):
    for line in (b"GET /../../secret.txt HTTP/1.0\r\n\r\n", b"GET ../secret.txt HTTP/1.0\r\n\r\n",
                 b"GET /%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
        answer = _raw(server, line)
        assert re.match(rb"HTTP/1\.[01] (400|403|404) ", answer), answer[:80]
        assert SECRET not in answer


def test_folders_without_index_and_methods(server):
    assert _get(server, "/empty/")[0] == 404
    status, headers, _ = _get(server, "/empty")
    assert status == 301 and headers["Location"] == "/empty/"
    status, headers, body = _get(server, "/index.html", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = _get(server, "/index.html", method=method)
        assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_200_concurrent_requests_answered(server):
    """200 connections opened at once, each sending its request before any answer is read."""
    host, port = server.server_address[:2]
    sockets = [socket.create_connection((host, port), timeout=20) for _ in range(200)]
    try:
        for i, s in enumerate(sockets):
            path = "/left/9/261/187.png" if i % 2 else f"/left/9/{i}/0.png"
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())

        def read(s):
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            return data

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(read, sockets))
    finally:
        for s in sockets:
            s.close()
    statuses = [int(a.split(b" ", 2)[1]) for a in answers]
    assert statuses == [404 if i % 2 == 0 else 200 for i in range(200)]


def test_a_slow_client_does_not_block_others(server):
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as slow:
        slow.sendall(b"GET /index.ht")          # never finishes its request line
        start = time.monotonic()
        for _ in range(5):
            assert _get(server, "/viewer.js")[0] == 200
        assert time.monotonic() - start < 5


def test_cli_prints_url_and_serves(site):
    proc = subprocess.Popen([sys.executable, "-m", "mosaic", "serve", str(site), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
        host, port = url[7:-1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_errors(site, tmp_path, capsys):
    assert _mosaic(["serve", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "index.html not found" in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert _mosaic(["serve", str(site), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("mosaic: error: cannot listen") and "port in use" in err
    assert _mosaic(["serve", str(site), "--port", "70000"]) == 2


def test_symlinked_site_folder_is_served(site, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(site, target_is_directory=True)
    srv = make_server(link, "127.0.0.1", 0)
    srv.start_background()
    try:
        assert _get(srv, "/index.html")[0] == 200
        assert _get(srv, "/escape.txt")[0] == 403
    finally:
        srv.shutdown()
        srv.server_close()
    assert os.path.realpath(srv.root) == str(site.resolve())
