"""FLG codes of L3A products (Theia L3A convention), the one table read by the kernels, the writer, the reader,
``l3a validate`` and the mosaic renderer.

The compose kernels classify each observation with these same codes (the FLG of a pixel is the class of the
observations that made it). The module imports nothing, so numba kernels take the values as compile-time constants.
"""

from types import MappingProxyType

__all__ = ["FLG_NODATA", "FLG_CLOUD", "FLG_SNOW", "FLG_WATER", "FLG_LAND", "FLG_CODES"]

FLG_NODATA = 0  # never observed: nodata, outside the swath
FLG_CLOUD = 1   # always cloudy or in cloud shadow
FLG_SNOW = 2
FLG_WATER = 3
FLG_LAND = 4

#: Name -> code, in code order.
FLG_CODES = MappingProxyType({"nodata": FLG_NODATA, "cloud": FLG_CLOUD, "snow": FLG_SNOW, "water": FLG_WATER,
                              "land": FLG_LAND})
