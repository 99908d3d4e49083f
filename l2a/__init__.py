"""syntheo Level-2A: one product model for Theia/MUSCATE and Sen2Cor L2A, the L1C SAFE reader, the Theia-format
writer, sensors, and the scene simulator.

>>> from l2a import open_l2a
>>> with open_l2a("SENTINEL2A_20180715-105302-456_L2A_T31TCJ_C_V2-2") as p:   # doctest: +SKIP
...     red = p.read_band("B4")
"""

from ._version import __version__
from .detect import open_l1c, open_l2a
from .errors import SyntheoError
from .grid import Grid
from .product import L2AProduct

__all__ = ["__version__", "open_l2a", "open_l1c", "L2AProduct", "Grid", "SyntheoError"]
