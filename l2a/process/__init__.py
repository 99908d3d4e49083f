"""The embedded Level-1C -> Level-2A processor (SPEC section 5), single-date mode.

>>> from l2a.process import process_l1c
>>> results = process_l1c(["S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE"], "l2a")  # doctest: +SKIP

Modules: :mod:`~l2a.process.params` (thresholds), :mod:`~l2a.process.kernels` (numba loops with numpy twins),
:mod:`~l2a.process.masks` (coarse cloud, cirrus, snow, water and shadow masks), :mod:`~l2a.process.aerosols` (AOT
and water vapour), :mod:`~l2a.process.driver` (one product), :mod:`~l2a.process.run` (several inputs),
:mod:`~l2a.process.bare` (bands without SAFE metadata). The atmospheric correction itself is
:mod:`l2a.atmosphere`. MAJA's multi-temporal methods will keep a per-tile state (the reference composite) beside
the products: :func:`process_source` has its ``state`` argument for it.
"""

from .bare import BareL1C, open_bare_bands
from .driver import ProcessResult, process_source
from .params import ProcessParams
from .run import process_l1c

__all__ = ["process_l1c", "process_source", "ProcessParams", "ProcessResult", "BareL1C", "open_bare_bands"]
