"""Parameters of ``mosaic build``, ``mosaic tiles`` and ``mosaic compare``: frozen dataclasses, every field with
its unit and the reason for its default, and the choice tables of the commands. Variants come from
:func:`dataclasses.replace`.

The module imports nothing heavy: the command line reads its choices and defaults here without loading GDAL
drivers, shapely or numba."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from .errors import InvalidParameterError, ZoomRangeError

__all__ = ["MosaicParams", "LAYOUTS", "Stretch", "PyramidParams", "MERGE_METHODS", "RESAMPLINGS", "FLAGGED_STYLES",
           "TILE_FORMATS", "MAX_ZOOM", "DEFAULT_LIMIT"]

#: Merge methods of ``mosaic build`` (each implemented in :data:`mosaic.blend.MERGE_METHODS`): ``blend`` weights
#: WGT x a feathering ramp, ``last`` lets the last tile in tile-name order win (the GDAL chain, for comparison).
MERGE_METHODS = ("blend", "last")

#: Output layouts of ``mosaic build``: ``single`` COGs (mosaic.tif, flags.tif), ``tiled`` (COG tiles of a fixed size
#: on the output grid, a VRT and a STAC collection over them: :mod:`mosaic.national`), or ``auto``: tiled above
#: :attr:`MosaicParams.tiled_above_px` output pixels.
LAYOUTS = ("auto", "single", "tiled")

#: Reflectance resampling choices of ``mosaic build``: ``auto`` is bilinear while the output pixel is smaller than
#: twice the source pixel, and an average of the source pixels (masked ones excluded) beyond.
RESAMPLINGS = ("auto", "nearest", "bilinear", "cubic", "average")
#: How ``mosaic tiles`` shows always-cloudy pixels: transparent, opaque grey, or grey diagonal hatching (the
#: renderer kernel takes a style as its index in this table).
FLAGGED_STYLES = ("transparent", "grey", "hatch")
#: Tile encodings (GDAL drivers PNG and WEBP; WebP is lossless so that overview tiles rebuilt from the files on
#: disk are identical to those built in memory).
TILE_FORMATS = {"png": "PNG", "webp": "WEBP"}
#: Deepest zoom of the WebMercatorQuad pyramid accepted (0.15 m pixels at the equator).
MAX_ZOOM = 24
#: NDVI difference shown at either end of the change layer's palette (dimensionless): 0.5 spans a change from bare
#: soil (NDVI ~0.2) to a dense crop (~0.7), the largest a month usually shows; larger changes saturate.
DEFAULT_LIMIT = 0.5


@dataclass(frozen=True)
class MosaicParams:
    """How ``mosaic build`` blends L3A tiles into one grid.

    Attributes
    ----------
    crs : str
        Target CRS, any string rasterio understands (``EPSG:2154``).
    resolution : float
        Output pixel size, target CRS units (m for projected CRSs), > 0.
    bands : tuple of str or None
        Output bands in this order; None: every band present in all inputs, L2A order.
    method : str
        One of :data:`MERGE_METHODS`: ``blend`` (weighted, feathered) or ``last`` (last tile in tile-name order wins;
        the GDAL chain, for comparison).
    feather_m : float
        Length of the feathering ramp from the edge of a tile's valid data, source metres (>= 0; 0 is a step).
        10 km spans the 9.8 km overlap of neighbouring MGRS tiles of one zone, so that the change from one tile to
        the next is spread over the whole overlap (across zones, overlaps are wider and the change is spread over
        10 km from each edge).
    min_ramp : float
        Ramp value at the very edge of valid data (dimensionless, > 0): a valid pixel seen by one tile only is kept.
    min_wgt : int
        Floor of WGT (sum of weights x1000) for valid pixels: Theia's WGT 0 over snow and water is a valid pixel of
        minimal weight, never nodata.
    resampling : str
        Reflectance and weight resampling, one of :data:`RESAMPLINGS`; flags always use nearest neighbour.
    cutline : str or None
        GeoJSON file with the polygon(s) to clip to (RFC 7946 lon/lat, or a legacy ``crs`` member).
    buffer_m : float
        Buffer added around the cutline, target CRS units (m for projected CRSs); may be negative.
    allow_mixed_dates : bool
        Accept inputs with different central dates (logged); otherwise a :class:`MixedDatesError`.
    month : str or None
        ``YYYY-MM``: keep only the inputs whose central date falls in that month (a folder of several months).
    block_size : int
        Output block side, pixels; the work unit of the thread pool and the COG's internal tile (512).
    layout : str
        One of :data:`LAYOUTS`.
    grid_tile_px : int
        Side of the COG tiles of the tiled layout, output pixels, a multiple of ``block_size``. 5120 makes 51.2 km
        squares at 10 m (about 100 tiles for France's 549,000 km2): each 524 MB of int16 for 10 bands before
        compression, written by one worker in minutes, and few enough files for a VRT.
    tiled_above_px : int
        ``auto`` layout: output grids of more pixels than this are tiled. 10**9 (a 316 km square at 10 m) keeps one
        COG of 10 bands under 20 GB before compression, and its temporary GeoTIFF on one disk.
    """

    crs: str
    resolution: float
    bands: tuple[str, ...] | None = None
    method: str = "blend"
    feather_m: float = 10000.0
    min_ramp: float = 1e-3
    min_wgt: int = 1
    resampling: str = "auto"
    cutline: str | None = None
    buffer_m: float = 0.0
    allow_mixed_dates: bool = False
    month: str | None = None
    block_size: int = 512
    layout: str = "auto"
    grid_tile_px: int = 5120
    tiled_above_px: int = 1_000_000_000

    def __post_init__(self):
        if not self.resolution > 0:
            raise InvalidParameterError(f"resolution must be a positive size in CRS units, not {self.resolution}")
        if not self.feather_m >= 0:
            raise InvalidParameterError(f"feathering length must be >= 0 m, not {self.feather_m}")
        if not 0 < self.min_ramp <= 1:
            raise InvalidParameterError(f"min_ramp must be in (0, 1], not {self.min_ramp}")
        if self.min_wgt < 1:
            raise InvalidParameterError(f"min_wgt must be >= 1 (x1000), not {self.min_wgt}")
        if self.method not in MERGE_METHODS:
            raise InvalidParameterError(f"method must be one of {', '.join(MERGE_METHODS)}, not {self.method!r}")
        if self.resampling not in RESAMPLINGS:
            raise InvalidParameterError(f"resampling must be one of {', '.join(RESAMPLINGS)}, not {self.resampling!r}")
        if self.month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", self.month):
            raise InvalidParameterError(f"month must be YYYY-MM, not {self.month!r}")
        if self.block_size < 16 or self.block_size % 16:
            raise InvalidParameterError(f"block size must be a multiple of 16 pixels, not {self.block_size}")
        if self.layout not in LAYOUTS:
            raise InvalidParameterError(f"layout must be one of {', '.join(LAYOUTS)}, not {self.layout!r}")
        if self.grid_tile_px < self.block_size or self.grid_tile_px % self.block_size:
            raise InvalidParameterError(f"grid tile side must be a multiple of the block size ({self.block_size} px), "
                                        f"not {self.grid_tile_px}")
        if self.tiled_above_px < 1:
            raise InvalidParameterError(f"tiled_above_px must be >= 1, not {self.tiled_above_px}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Stretch:
    """Reflectance to 8-bit display values: ``byte = round(255 * clip((r - low) / (high - low), 0, 1) ** (1 / gamma))``
    with ``r`` the reflectance (stored value x 1e-4).

    Attributes
    ----------
    low, high : float
        Reflectance shown black and white (dimensionless, 0-1 scale); 0-0.2 suits vegetated land in true colour.
    gamma : float
        Display gamma (> 0); 1 is linear, > 1 brightens the dark tones.
    """

    low: float = 0.0
    high: float = 0.2
    gamma: float = 1.0

    def __post_init__(self):
        if not self.high > self.low:
            raise InvalidParameterError(f"stretch high ({self.high}) must be above low ({self.low})")
        if not self.gamma > 0:
            raise InvalidParameterError(f"gamma must be positive, not {self.gamma}")


@dataclass(frozen=True)
class PyramidParams:
    """How ``mosaic tiles`` renders the XYZ WebMercatorQuad pyramid.

    Attributes
    ----------
    min_zoom, max_zoom : int
        Zoom levels, 0 <= min_zoom <= max_zoom <= :data:`MAX_ZOOM`.
    format : str
        Key of :data:`TILE_FORMATS`.
    stretch : Stretch
        Reflectance display stretch.
    bands : tuple of str
        Mosaic bands shown as red, green, blue (by band description).
    flagged : str
        Style of always-cloudy pixels, one of :data:`FLAGGED_STYLES`.
    png_zlevel : int
        DEFLATE level of PNG tiles (1-9); 1 writes files ~10 % larger three times faster than GDAL's default 6.
    meta_tiles : int
        The base zoom is rendered in square blocks of this many tiles per side (a power of two): one reprojection
        per block instead of one per tile; 8 (2048 px blocks) keeps a worker under ~100 MB.
    """

    min_zoom: int
    max_zoom: int
    format: str = "png"
    stretch: Stretch = field(default_factory=Stretch)
    bands: tuple[str, str, str] = ("B4", "B3", "B2")
    flagged: str = "transparent"
    png_zlevel: int = 1
    meta_tiles: int = 8

    def __post_init__(self):
        if not 0 <= self.min_zoom <= MAX_ZOOM or not 0 <= self.max_zoom <= MAX_ZOOM:
            raise ZoomRangeError(f"zoom range {self.min_zoom}-{self.max_zoom} is outside 0-{MAX_ZOOM}")
        if self.min_zoom > self.max_zoom:
            raise ZoomRangeError(f"zoom range {self.min_zoom}-{self.max_zoom} is inverted")
        if self.format not in TILE_FORMATS:
            raise InvalidParameterError(f"tile format must be one of {', '.join(TILE_FORMATS)}, not {self.format!r}")
        if self.flagged not in FLAGGED_STYLES:
            raise InvalidParameterError(f"flagged style must be one of {', '.join(FLAGGED_STYLES)}, "
                                        f"not {self.flagged!r}")
        if not 1 <= self.png_zlevel <= 9:
            raise InvalidParameterError(f"PNG zlevel must be 1-9, not {self.png_zlevel}")
        if self.meta_tiles < 1 or self.meta_tiles & (self.meta_tiles - 1):
            raise InvalidParameterError(f"meta_tiles must be a power of two, not {self.meta_tiles}")

    @property
    def extension(self) -> str:
        return self.format

    def to_dict(self) -> dict:
        return asdict(self)
