"""GDAL's configuration for reading COG assets over HTTP, and small documents fetched with retries.

:func:`remote_env` is a ``rasterio.Env`` with the defaults of :data:`REMOTE_DEFAULTS` for every option the user has
not set in the environment (GDAL reads its configuration options from environment variables too, so credentials,
requester-pays, proxies and the like pass through untouched and are never logged): retries with back-off on 429 and
5xx answers, a timeout, no directory listing on open (one request instead of several per asset), merged range
requests, and a bounded block cache shared by the process. :func:`fetch` reads a small document (item, metadata XML)
with the same retry rule.
"""

from __future__ import annotations

import os
import time

__all__ = ["REMOTE_DEFAULTS", "remote_env", "fetch", "RETRY_STATUS"]

#: GDAL options for /vsicurl/ reads, used when the environment does not set them.
REMOTE_DEFAULTS = {
    "GDAL_HTTP_MAX_RETRY": "3",            # retries of a request answered 429, 500, 502, 503 or 504, or timed out ...
    "GDAL_HTTP_RETRY_DELAY": "1",          # ... after 1 s, doubled at each retry (GDAL's back-off): 1 + 2 + 4 s
    "GDAL_HTTP_TIMEOUT": "30",             # s without an answer: a dead server fails in 4 x 30 + 7 s, ~2 min
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # open an asset without listing its folder (S3 prefixes are huge)
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "CPL_VSIL_CURL_CACHE_SIZE": str(128 * 2**20),  # bytes of downloaded blocks kept for the whole process
    "VSI_CACHE": "FALSE",                  # no second, per-file cache on top of it
}
#: HTTP statuses retried by :func:`fetch` (as GDAL does).
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def remote_env():
    """``rasterio.Env`` with :data:`REMOTE_DEFAULTS` for the options the environment leaves unset."""
    import rasterio

    return rasterio.Env(**{k: v for k, v in REMOTE_DEFAULTS.items() if k not in os.environ})


def _setting(name: str, cast):
    return cast(os.environ.get(name, REMOTE_DEFAULTS[name]))


def fetch(url: str, max_bytes: int) -> bytes:
    """The body of ``url`` (http or https), at most ``max_bytes`` + 1 bytes; retried on :data:`RETRY_STATUS` and
    connection errors, ``GDAL_HTTP_MAX_RETRY`` times with a delay of ``GDAL_HTTP_RETRY_DELAY`` s doubled each time.

    Raises
    ------
    OSError
        The last error (urllib's HTTPError or URLError, or a timeout).
    """
    from http.client import HTTPException
    from urllib.error import HTTPError, URLError
    from urllib.request import urlopen

    retries, delay = _setting("GDAL_HTTP_MAX_RETRY", int), _setting("GDAL_HTTP_RETRY_DELAY", float)
    timeout = _setting("GDAL_HTTP_TIMEOUT", float)
    for attempt in range(retries + 1):
        try:
            with urlopen(url, timeout=timeout) as response:  # noqa: S310 (http(s) only, see item.gdal_path)
                data = response.read(max_bytes + 1)
                expected = response.headers.get("Content-Length")
                if expected is not None and len(data) <= max_bytes and len(data) != int(expected):
                    raise ConnectionError(f"the answer was cut: {len(data)} of {expected} bytes")
                return data
        except HTTPError as exc:
            if exc.code not in RETRY_STATUS or attempt == retries:
                raise
        except (URLError, TimeoutError, ConnectionError, HTTPException) as exc:
            # HTTPException: an answer that is not HTTP (http.client's BadStatusLine...), not an OSError
            if attempt == retries:
                raise OSError(" ".join(str(exc).split()) or type(exc).__name__) from exc
        time.sleep(delay * 2 ** attempt)
    raise AssertionError("unreachable")
