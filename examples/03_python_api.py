"""The Python API: windowed reads of any L2A format, then syntheses with the default and WASP profiles.

Run after examples/02_simulate_and_compose.sh (it reuses its simulated products)::

    .venv/bin/python examples/03_python_api.py
"""

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from l2a import open_l2a
from l2a.detect import find_products
from l3a import CompositeParams, compose, open_l3a, validate_synthesis

SIM = Path("/tmp/syntheo-examples/02/l2a")
OUT = Path("/tmp/syntheo-examples/03")

paths = [p for p in find_products([SIM]) if "_T31TCJ_" in p.name]
with open_l2a(paths[0]) as product:
    print(product)
    red = product.read_band("B4", Window(100, 100, 64, 64))          # int16, reflectance x 10000
    masks = product.read_masks("R1", Window(100, 100, 64, 64))      # dict of bool planes
    print("red reflectance, clear pixels:", np.median(red[~masks["cloud"] & ~masks["nodata"]]) / 1e4)

# a 30-day half window instead of 23, everything else as the default profile
params = dataclasses.replace(CompositeParams(), half_window_days=30)
mine = open_l3a(compose(paths, dt.date(2018, 7, 15), params, OUT / "default", overwrite=True))
wasp = open_l3a(compose(paths, dt.date(2018, 7, 15), CompositeParams.wasp(), OUT / "wasp", overwrite=True))
for name, p in (("default", mine), ("wasp", wasp)):
    flg = p.read_mask("FLG", "R1")
    print(name, "land", (flg == 4).mean().round(3), "water", (flg == 3).mean().round(3),
          "cloud", (flg == 1).mean().round(3))

# against the simulator's truth (SIM/truth): worst band figures over land, flags, cloud leaks, swath-edge seams
for name, p in (("default", mine), ("wasp", wasp)):
    worst = validate_synthesis(p.path, SIM)["summary"]["worst"]
    print(name, {k: (round(v, 4) if isinstance(v, float) else v) for k, v in worst.items()})
