"""``mosaic serve``: a read-only HTTP server for a site written by ``mosaic compare``.

What it answers (SPEC sections 6 and 8):

* ``GET`` and ``HEAD`` only (other methods: 405); ``/`` and folders answer with their ``index.html`` (no listings);
* a request path is percent-decoded *before* it is checked, so ``%2e%2e/`` is a ``..`` like any other: a ``..``
  segment, a NUL byte, or a path that leaves the folder once resolved with :func:`os.path.realpath` (symlinks
  included) gets 403; hidden names (``.`` first, such as the temporary files of an interrupted write) and missing
  files get 404 and the server goes on;
* MIME types from a fixed table (:data:`MIME_TYPES`, not the host's ``/etc/mime.types``), ``nosniff``;
* tiles (``{z}/{x}/{y}.png|webp``) are cached by browsers for a day (:data:`TILE_MAX_AGE_S`), other files are
  revalidated on every visit (``no-cache`` with ``ETag`` and ``Last-Modified``, 304 when unchanged);
* one thread per connection (:class:`http.server.ThreadingHTTPServer`) with a socket timeout, so a slow or idle
  client never holds the others up, and a listen backlog large enough for a browser's burst of tile requests.
"""

from __future__ import annotations

import email.utils
import errno
import http.server
import logging
import os
import re
import shutil
import socket
import threading
from http import HTTPStatus
from pathlib import Path
from types import MappingProxyType
from urllib.parse import quote, unquote, urlsplit

from l2a.errors import MissingFileError

from .errors import InvalidParameterError

__all__ = ["SiteServer", "make_server", "MIME_TYPES", "TILE_MAX_AGE_S", "url_of"]

logger = logging.getLogger(__name__)

#: Content types by file extension; anything else is ``application/octet-stream``.
MIME_TYPES = MappingProxyType({
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".webp": "image/webp",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".tif": "image/tiff",
})
#: Browser cache lifetime of tiles, seconds (a site is rewritten whole by ``mosaic compare``; a day keeps panning
#: back and forth free without keeping stale tiles long after a rewrite).
TILE_MAX_AGE_S = 86400
#: Seconds a connection may stay silent (slow or idle keep-alive client) before its thread lets it go.
CONNECTION_TIMEOUT_S = 20
#: Pending connections the listening socket accepts (a browser opens several at once, tests open 200).
LISTEN_BACKLOG = 512
_TILE_PATH = re.compile(r"(?:^|/)\d+/\d+/\d+\.(?:png|webp)$")
_CHUNK = 256 * 1024


def url_of(host: str, port: int) -> str:
    """``http://host:port/`` (IPv6 addresses in brackets)."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class _Refused(Exception):
    def __init__(self, status: HTTPStatus, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class SiteRequestHandler(http.server.BaseHTTPRequestHandler):
    """Answers GET and HEAD from the server's ``root`` folder (see the module docstring)."""

    server: "SiteServer"
    protocol_version = "HTTP/1.1"       # keep-alive: every answer has a Content-Length
    timeout = CONNECTION_TIMEOUT_S
    server_version = "syntheo-serve"

    def version_string(self) -> str:
        return self.server_version

    # -- resolution -------------------------------------------------------------------------------------------
    def _resolve(self) -> Path:
        """File answering the request target, or :class:`_Refused`."""
        target = self.path
        if target.startswith(("http://", "https://")):      # absolute-form request target
            target = urlsplit(target).path or "/"
        raw = target.split("?", 1)[0].split("#", 1)[0]
        if not raw.startswith("/"):
            raise _Refused(HTTPStatus.BAD_REQUEST, "request target is not a path")
        try:
            path = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise _Refused(HTTPStatus.BAD_REQUEST, "path is not UTF-8") from None
        if "\x00" in path:
            raise _Refused(HTTPStatus.BAD_REQUEST, "NUL byte in path")
        segments = [s for s in path.replace("\\", "/").split("/") if s not in ("", ".")]
        if ".." in segments:
            raise _Refused(HTTPStatus.FORBIDDEN, "parent folder in path")
        if any(s.startswith(".") for s in segments):
            raise _Refused(HTTPStatus.NOT_FOUND, "hidden file")
        root = self.server.root
        candidate = os.path.realpath(os.path.join(root, *segments))
        if candidate != root and not candidate.startswith(root + os.sep):
            raise _Refused(HTTPStatus.FORBIDDEN, "outside the served folder")
        if os.path.isdir(candidate):
            if raw.endswith("/") or not segments:
                index = os.path.realpath(os.path.join(candidate, "index.html"))
                if index.startswith(root + os.sep) and os.path.isfile(index):
                    return Path(index)
                raise _Refused(HTTPStatus.NOT_FOUND, "no index.html in this folder")
            raise _Redirect("/" + "/".join(quote(s) for s in segments) + "/")
        if not os.path.isfile(candidate):
            raise _Refused(HTTPStatus.NOT_FOUND, "no such file")
        return Path(candidate)

    # -- answers ----------------------------------------------------------------------------------------------
    def do_GET(self):
        self._answer(body=True)

    def do_HEAD(self):
        self._answer(body=False)

    def _not_allowed(self):
        self._send_status(HTTPStatus.METHOD_NOT_ALLOWED, "read-only server: GET and HEAD only",
                          {"Allow": "GET, HEAD"}, body=self.command != "HEAD")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

    def _answer(self, body: bool) -> None:
        try:
            path = self._resolve()
        except _Refused as exc:
            self._send_status(exc.status, exc.reason, body=body)
            return
        except _Redirect as exc:
            self._send_status(HTTPStatus.MOVED_PERMANENTLY, "moved", {"Location": exc.location}, body=body)
            return
        try:
            f = open(path, "rb")
        except OSError:
            self._send_status(HTTPStatus.NOT_FOUND, "cannot read the file", body=body)
            return
        with f:
            st = os.fstat(f.fileno())
            etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
            rel = path.relative_to(self.server.root).as_posix()
            headers = {"Content-Type": MIME_TYPES.get(path.suffix.lower(), "application/octet-stream"),
                       "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True), "ETag": etag,
                       "Cache-Control": (f"public, max-age={TILE_MAX_AGE_S}" if _TILE_PATH.search(rel)
                                         else "no-cache"),
                       "X-Content-Type-Options": "nosniff"}
            if etag in [t.strip() for t in self.headers.get("If-None-Match", "").split(",")]:
                self._send_head(HTTPStatus.NOT_MODIFIED, headers, None)
                return
            self._send_head(HTTPStatus.OK, headers, st.st_size)
            if body:
                shutil.copyfileobj(f, self.wfile, _CHUNK)

    def _send_head(self, status: HTTPStatus, headers: dict, length: int | None) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send_status(self, status: HTTPStatus, reason: str, headers: dict | None = None, body: bool = True) -> None:
        data = f"{status.value} {status.phrase}: {reason}\n".encode()
        self._send_head(status, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache",
                                 "X-Content-Type-Options": "nosniff", **(headers or {})}, len(data))
        if body:
            self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        logger.info("%s %s", self.address_string(), format % args)


class _Redirect(Exception):
    def __init__(self, location: str):
        super().__init__(location)
        self.location = location


class SiteServer(http.server.ThreadingHTTPServer):
    """Threaded HTTP server of one folder (``root``, resolved with :func:`os.path.realpath`)."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, root: str | os.PathLike, address: tuple[str, int]):
        self.root = os.path.realpath(root)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, SiteRequestHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return url_of(host, port)

    def handle_error(self, request, client_address):
        """A client that goes away mid-answer is logged, not printed as a traceback."""
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)

    def start_background(self) -> threading.Thread:
        """Serve in a daemon thread (tests, notebooks); stop with :meth:`shutdown` then :meth:`server_close`."""
        thread = threading.Thread(target=self.serve_forever, name="mosaic-serve", daemon=True)
        thread.start()
        return thread


def make_server(site_dir: str | os.PathLike, host: str = "127.0.0.1", port: int = 8000) -> SiteServer:
    """A :class:`SiteServer` of ``site_dir`` listening on ``host:port`` (port 0: any free port).

    Raises
    ------
    MissingFileError
        ``site_dir`` has no ``index.html`` (not a ``mosaic compare`` site).
    InvalidParameterError
        The address cannot be listened on (port in use, unknown host, port out of range).
    """
    root = Path(site_dir)
    if not (root / "index.html").is_file():
        raise MissingFileError("index.html not found (not a site written by `mosaic compare`)", root)
    if not 0 <= port <= 65535:
        raise InvalidParameterError(f"port must be 0-65535, not {port}")
    try:
        server = SiteServer(root, (host, port))
    except OSError as exc:
        reason = "port in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise InvalidParameterError(f"cannot listen on {host}:{port}: {reason}") from exc
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        logger.warning("serving %s on %s: anyone who can reach this address can read it", root, host)
    return server
