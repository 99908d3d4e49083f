"""Tile files: RGBA arrays to PNG or WebP bytes and back.

PNG tiles are written by :func:`png_bytes`, a minimal encoder on the standard library's zlib (8-bit RGBA, or RGB
when the tile is opaque; the "Sub" filter on every row; one IDAT chunk): at the same DEFLATE level it is about twice
as fast as going through GDAL's PNG driver per tile, releases the GIL while compressing (so worker threads really
run in parallel), and gives the same bytes for the same pixels. WebP tiles go through GDAL's WEBP driver, lossless,
so that a tile read back from disk equals the array it was made from (overview tiles are rebuilt from files when a
run is resumed). Decoding uses GDAL.
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
from affine import Affine

__all__ = ["png_bytes", "webp_bytes", "encode_tile", "decode_tile"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(rgba: np.ndarray, level: int = 1) -> bytes:
    """PNG file bytes of an RGBA image.

    Parameters
    ----------
    rgba : uint8 (4, rows, cols), straight alpha
    level : int
        DEFLATE level, 1 (fast) to 9 (small).
    """
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[0] != 4:
        raise ValueError(f"expected uint8 (4, rows, cols), not {rgba.dtype}{rgba.shape}")
    _, rows, cols = rgba.shape
    opaque = bool((rgba[3] == 255).all())
    channels = 3 if opaque else 4                        # an opaque tile is written as RGB (a quarter less to pack)
    raw = np.ascontiguousarray(rgba[:channels].transpose(1, 2, 0)).reshape(rows, cols * channels)
    filtered = np.empty((rows, cols * channels + 1), np.uint8)
    filtered[:, 0] = 1                                   # filter type 1, "Sub": difference with the pixel on the left
    filtered[:, 1:channels + 1] = raw[:, :channels]
    np.subtract(raw[:, channels:], raw[:, :-channels], out=filtered[:, channels + 1:])  # modulo 256, as PNG wants
    header = struct.pack(">IIBBBBB", cols, rows, 8, 6 if channels == 4 else 2, 0, 0, 0)  # 8 bits, RGBA or RGB
    return (_PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(filtered.tobytes(), level))
            + _chunk(b"IEND", b""))


def webp_bytes(rgba: np.ndarray) -> bytes:
    """Lossless WebP file bytes of an RGBA image uint8 (4, rows, cols) (GDAL WEBP driver)."""
    from rasterio.io import MemoryFile

    _, rows, cols = rgba.shape
    with MemoryFile() as mem:
        with mem.open(driver="WEBP", width=cols, height=rows, count=4, dtype="uint8",
                      transform=Affine(1, 0, 0, 0, -1, rows), LOSSLESS="YES") as ds:
            ds.write(rgba)
        return mem.read()


def encode_tile(rgba: np.ndarray, tile_format: str, png_level: int = 1) -> bytes:
    """Bytes of a ``png`` or ``webp`` tile."""
    if tile_format == "png":
        return png_bytes(rgba, png_level)
    if tile_format == "webp":
        return webp_bytes(rgba)
    raise ValueError(f"unknown tile format {tile_format!r}")


def decode_tile(path: str | os.PathLike) -> np.ndarray:
    """uint8 (4, rows, cols) RGBA of a tile file (any PNG or WebP GDAL reads; grey or RGB get an opaque alpha)."""
    from l2a.io.raster import open_raster

    with open_raster(path, "tile") as ds:
        data = ds.read()
    if data.shape[0] == 4:
        return data
    rgb = np.repeat(data[:1], 3, axis=0) if data.shape[0] in (1, 2) else data[:3]
    alpha = data[1:2] if data.shape[0] == 2 else np.full((1,) + data.shape[1:], 255, np.uint8)
    return np.concatenate([rgb, alpha])
