"""FLG codes of L3A products (Theia L3A convention) and the nodata values of the other L3A masks: the one table read
by the kernels, the writer, the reader, ``l3a validate`` and the mosaic renderer.

The compose kernels classify each observation with these same codes (the FLG of a pixel is the class of the
observations that made it). The module imports only :mod:`l2a.constants` (which imports nothing), so numba kernels
take the values as compile-time constants.
"""

from types import MappingProxyType

from l2a.constants import REFLECTANCE_NODATA

__all__ = ["FLG_NODATA", "FLG_CLOUD", "FLG_SNOW", "FLG_WATER", "FLG_LAND", "FLG_CODES", "WGT_NODATA", "DTS_NODATA"]

FLG_NODATA = 0  # never observed: nodata, outside the swath
FLG_CLOUD = 1   # always cloudy or in cloud shadow
FLG_SNOW = 2
FLG_WATER = 3
FLG_LAND = 4

#: Name -> code, in code order.
FLG_CODES = MappingProxyType({"nodata": FLG_NODATA, "cloud": FLG_CLOUD, "snow": FLG_SNOW, "water": FLG_WATER,
                              "land": FLG_LAND})

#: WGT (int16, sum of weights x 1000) where FLG is 0: Theia L3A uses the reflectance nodata value.
WGT_NODATA = REFLECTANCE_NODATA
#: DTS (int16, day of year) where FLG is 0: the same value.
DTS_NODATA = REFLECTANCE_NODATA
