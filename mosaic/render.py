"""Rendering of web tiles: reflectance to RGBA, the flags overlay, and 2 x 2 reduction of RGBA. Arrays only.

True colour (documented stretch, :class:`mosaic.params.Stretch`; :data:`STRETCH_FORMULA`)::

    byte = floor(255 * clip((r - low) / (high - low), 0, 1) ** (1 / gamma) + 0.5),   r = stored value x 1e-4

Alpha is 255 on valid pixels (FLG 2-4 with a reflectance), 0 outside the data and over nodata. Always-cloudy pixels
(FLG 1) are transparent, opaque grey, or hatched with grey diagonal stripes (``flagged`` style), never shown as
valid. The flags overlay paints always-cloudy pixels magenta and nodata pixels inside the mosaic's area dark grey,
both half transparent, and leaves everything else transparent.

Overview tiles are the average of their four children in *premultiplied* RGBA, so that transparent pixels do not
darken the colours of their neighbours: ``alpha = round(sum a / 4)``, ``colour = round(sum(c * a) / sum a)``.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from l2a.constants import REFLECTANCE_QUANTIFICATION

from . import kernels
from .flags import FLG_CLOUD, FLG_NODATA
from .params import FLAGGED_STYLES, Stretch

__all__ = ["stretch_to_byte", "render_rgba", "render_flags", "downsample_rgba", "FLAG_COLOURS", "FLAGGED_RGBA",
           "HATCH_PERIOD_PX", "STRETCH_FORMULA"]

#: Overlay colours (RGBA) of the flags pyramid by FLG value; other values are transparent.
FLAG_COLOURS = MappingProxyType({FLG_CLOUD: (230, 40, 230, 170), FLG_NODATA: (40, 40, 40, 150)})
#: Colour of always-cloudy pixels in the true-colour pyramid for the ``grey`` and ``hatch`` styles.
FLAGGED_RGBA = (150, 150, 150, 255)
#: Period of the hatching, pixels of the zoom level (stripes half as wide).
HATCH_PERIOD_PX = 8
#: The display stretch, as pyramids' metadata records it (``r`` is the reflectance, stored value x 1e-4).
STRETCH_FORMULA = "byte = floor(255 * clip((r - low) / (high - low), 0, 1) ** (1 / gamma) + 0.5)"


def stretch_to_byte(reflectance: np.ndarray, stretch: Stretch) -> np.ndarray:
    """Display values of reflectance (the formula of the module docstring).

    Parameters
    ----------
    reflectance : float32 (bands, rows, cols)
        Reflectance x10000 (NaN allowed; mapped to 0).
    stretch : Stretch

    Returns
    -------
    uint8 (bands, rows, cols)
    """
    scale = 1.0 / REFLECTANCE_QUANTIFICATION
    x = np.clip((reflectance.astype(np.float64) - stretch.low * REFLECTANCE_QUANTIFICATION)
                * (scale / (stretch.high - stretch.low)), 0, 1)
    if stretch.gamma != 1.0:
        x = x ** (1.0 / stretch.gamma)
    return np.floor(np.nan_to_num(x) * 255.0 + 0.5).astype(np.uint8)


def render_rgba(reflectance: np.ndarray, flg: np.ndarray, stretch: Stretch, flagged: str = "transparent",
                origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """True-colour RGBA of a block.

    Parameters
    ----------
    reflectance : float32 (3, rows, cols)
        Red, green, blue reflectance x10000, NaN where not valid.
    flg : uint8 (rows, cols)
        FLG codes (:mod:`mosaic.flags`): 0 nodata, 1 always cloudy, 2-4 valid, 255 outside the mosaic.
    stretch : Stretch
    flagged : str
        One of :data:`mosaic.params.FLAGGED_STYLES`: ``transparent``, ``grey`` or ``hatch`` (style of FLG 1 pixels).
    origin : (row, col)
        Position of the block's first pixel in the zoom level's global pixel grid (aligns the hatching across
        tiles).

    Returns
    -------
    uint8 (4, rows, cols)
    """
    if reflectance.ndim != 3 or reflectance.shape[0] != 3 or reflectance.shape[1:] != flg.shape:
        raise ValueError(f"reflectance {reflectance.shape} and flags {flg.shape} do not match")
    out = np.empty((4,) + flg.shape, np.uint8)
    kernels.stretch_rgba(np.ascontiguousarray(reflectance, np.float32), np.ascontiguousarray(flg, np.uint8),
                         float(stretch.low), float(stretch.high), float(stretch.gamma), FLAGGED_STYLES.index(flagged),
                         HATCH_PERIOD_PX, int(origin[0]), int(origin[1]), np.asarray(FLAGGED_RGBA, np.uint8), out)
    return out


def render_flags(flg: np.ndarray) -> np.ndarray:
    """Flags overlay RGBA of a block: uint8 (4, rows, cols) from FLG uint8 (rows, cols) (see :data:`FLAG_COLOURS`)."""
    out = np.zeros((4,) + flg.shape, np.uint8)
    if not ((flg == FLG_CLOUD) | (flg == FLG_NODATA)).any():
        return out
    for value, colour in FLAG_COLOURS.items():
        sel = flg == value
        for i, v in enumerate(colour):
            out[i][sel] = v
    return out


def downsample_rgba(rgba: np.ndarray) -> np.ndarray:
    """Halve an RGBA block by averaging 2 x 2 pixels in premultiplied alpha (integer arithmetic, exact).

    Parameters
    ----------
    rgba : uint8 (4, rows, cols), rows and cols even, straight (not premultiplied) alpha

    Returns
    -------
    uint8 (4, rows // 2, cols // 2), straight alpha; colours rounded half up, 0 where fully transparent.
    """
    bands, rows, cols = rgba.shape
    if bands != 4 or rows % 2 or cols % 2 or rgba.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGBA block of even size, not {rgba.dtype}{rgba.shape}")
    out = np.zeros((4, rows // 2, cols // 2), np.uint8)
    if rgba[3].any():
        kernels.downsample_rgba(np.ascontiguousarray(rgba), out)
    return out
