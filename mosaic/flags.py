"""FLG codes of the mosaic: the L3A codes (:mod:`l3a.flags`, their one home) plus the mosaic's own ``outside`` code.

``flags.tif`` of ``mosaic build`` and the blocks of ``mosaic tiles`` carry the L3A classes where a tile contributes,
and :data:`FLG_OUTSIDE` beyond every tile's frame and the cutline (the raster's nodata). The module imports nothing
heavy, so numba kernels take the values as compile-time constants.
"""

from l3a.flags import FLG_CLOUD, FLG_LAND, FLG_NODATA, FLG_SNOW, FLG_WATER

__all__ = ["FLG_NODATA", "FLG_CLOUD", "FLG_SNOW", "FLG_WATER", "FLG_LAND", "FLG_OUTSIDE", "FLG_DESCRIPTION"]

#: Outside the mosaic: beyond every tile's frame or the cutline (nodata of ``flags.tif``, a uint8 band).
FLG_OUTSIDE = 255
#: The codes as the ``FLG_VALUES`` tag of ``flags.tif`` describes them.
FLG_DESCRIPTION = (f"{FLG_NODATA} nodata, {FLG_CLOUD} always cloudy, {FLG_SNOW} snow, {FLG_WATER} water, "
                   f"{FLG_LAND} land, {FLG_OUTSIDE} outside the mosaic")
