"""The numba kernels of the synthesis, each with its pure-numpy twin ``<name>_ref`` beside it.

- :mod:`.prepare`: :func:`prepare_date_block`, one date of a block from its raw rasters to class, weight and
  BRDF-normalised reflectance;
- :mod:`.compose`: :func:`compose_block`, the fused per-pixel synthesis of a block over every date;
- :mod:`.outliers`: :func:`screen_outliers`, the multi-temporal test giving the cloud class to clear observations
  that brighten like haze or darken like a shadow against the pixel's other dates;
- :mod:`.dates`: :func:`day_of_year_from_day_number`, DTS from the weighted-mean days.

Kernels take plain arrays and scalars (no I/O, no logging); FLG codes come from :mod:`l3a.flags`.
"""

from .compose import NOB_MAX, SNOW_WATER_RULE_CODES, WGT_MAX, compose_block, compose_block_ref
from .dates import day_of_year_from_day_number, day_of_year_from_day_number_ref
from .outliers import screen_outliers, screen_outliers_ref
from .prepare import SNOW_AND_WATER_CODES, prepare_date_block, prepare_date_block_ref

__all__ = [
    "WGT_MAX",
    "NOB_MAX",
    "SNOW_WATER_RULE_CODES",
    "SNOW_AND_WATER_CODES",
    "compose_block",
    "compose_block_ref",
    "prepare_date_block",
    "prepare_date_block_ref",
    "screen_outliers",
    "screen_outliers_ref",
    "day_of_year_from_day_number",
    "day_of_year_from_day_number_ref",
]
