"""Quantification values of Theia/MUSCATE products (reference-l2a-formats.md section 3.7): stored value = physical
value x quantification. They are the defaults when a product's MTD_ALL.xml does not give them, and the values the
toolkit's own products are written with."""

from l2a.constants import REFLECTANCE_NODATA, REFLECTANCE_QUANTIFICATION

__all__ = ["REFLECTANCE_QUANTIFICATION", "REFLECTANCE_NODATA", "AOT_QUANTIFICATION", "WVC_QUANTIFICATION",
           "AOT_NODATA", "WVC_NODATA"]

#: ATB band 2: aerosol optical thickness at 550 nm x 200 (uint8).
AOT_QUANTIFICATION = 200
#: ATB band 1: water vapour content, g/cm2 x 20 (uint8).
WVC_QUANTIFICATION = 20
#: ATB values marking pixels without an estimate.
AOT_NODATA = 0
WVC_NODATA = 0
