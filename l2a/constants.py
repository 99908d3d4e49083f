"""Data-model constants shared by every package: reflectance encoding, mask planes, resolution groups.

One home for each fact (SPEC section 3); everything else imports from here. The module imports nothing, so numba
kernels can take these values as compile-time constants.
"""

__all__ = ["REFLECTANCE_NODATA", "REFLECTANCE_QUANTIFICATION", "MASK_NAMES", "RESOLUTIONS"]

#: Nodata value of int16 reflectance x 10000 (Theia convention), on disk and in memory.
REFLECTANCE_NODATA = -10000
#: Scale of int16 reflectance: stored value = reflectance x this.
REFLECTANCE_QUANTIFICATION = 10000.0
#: Names of the boolean mask planes of :meth:`l2a.product.L2AProduct.read_masks`.
MASK_NAMES = ("cloud", "shadow", "snow", "water", "nodata", "saturated")
#: Resolution groups of Sentinel-2 L2A products: R1 = 10 m bands, R2 = 20 m bands.
RESOLUTIONS = ("R1", "R2")
