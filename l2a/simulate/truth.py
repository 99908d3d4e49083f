"""Ground truth of a simulation, written beside the products under ``DIR/truth/``.

Layout (paths relative to ``DIR/truth``; all rasters are COGs on the product grids of the tile, or of the window
of it that was simulated)::

    index.json                                        every file, date, code table and definition (one JSON document)
    {tile}/acquisitions/{stem}_REFL_R1.tif            int16 x10000, B2 B3 B4 B8; -10000 outside the swath
    {tile}/acquisitions/{stem}_REFL_R2.tif            int16 x10000, B5 B6 B7 B8A B11 B12
    {tile}/acquisitions/{stem}_NADIR_R1.tif, _R2      int16 x10000, the same bands at nadir view; -10000 outside
    {tile}/acquisitions/{stem}_MASKS_R1.tif, _R2      uint8: class, cloud, shadow, landcover
    {tile}/acquisitions/{stem}_ATMO_R2.tif            float32: AOT at 550 nm, water vapour g/cm2; NaN outside
    {tile}/monthly/{tile}_{YYYYMM}15_REFL_R1.tif, _R2 int16 x10000: cloud-free nadir reflectance on the 15th
    {tile}/monthly/{tile}_{YYYYMM}15_MASKS_R1.tif, _R2 uint8: class, landcover
    {tile}/{tile}_DEM_R2.tif                          int16: ground altitude, m (the terrain of every pass)

``stem`` is ``{tile}_{YYYYMMDDTHHMMSS}_{platform}_R{orbit}`` (e.g. ``T31TCJ_20180610T104243_S2A_R051``).

What each reflectance is (also in ``index.json`` under ``definitions``, :data:`DEFINITIONS`):

* per acquisition, **REFL** is the directional surface reflectance as that pass sees it: the ground's own
  directional model (:mod:`l2a.simulate.surface_brdf`, per land cover, *not* the Roy et al. model the synthesis
  divides out) at this pass's sun angles and each band's viewing angles (its detector's, odd and even detectors
  staggered along track as in the metadata grids); no cloud, no shadow, no haze: what a perfect L2A processor
  returns;
* per acquisition, **NADIR** is the same ground at view zenith 0 and this pass's sun angles: what a perfect
  directional normalisation of that observation returns;
* per month, **REFL** is the nadir-view reflectance of the ground on the 15th (the phenology of that day) at the sun
  zenith of the 15th at that pixel at the nominal local overpass time, 10:51 local mean solar time (the time at
  which the simulated descending tracks cross 43.7 N; UTC = 10.85 h - longitude / 15): what a perfect cloud-free,
  BRDF-normalised synthesis centred on the 15th returns. The actual passes of a month differ from it by the date (sun
  and phenology) and by a few minutes of local time.

Codes: class 0 outside the swath, 1 land, 2 water, 3 snow; cloud 0 clear, 1 thin (optical thickness 0.05 to 1 for
water clouds / 0.3 for cirrus), 2 opaque; shadow 1 where the direct sun beam is cut by more than half; landcover as
:data:`l2a.simulate.landscape.LANDCOVER_CODES`. The L2A products' own masks are a simulated processor's estimate of
these, with errors (:mod:`l2a.simulate.masks`); the truth masks are exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np
from rasterio.windows import Window

from l2a.grid import Grid
from l2a.io.atomic import atomic_write_bytes
from l2a.io.cog import CogWriter

from .landscape import LANDCOVER_CODES

__all__ = ["TruthWriter", "write_index", "acquisition_stem", "ACQUISITION_MASK_BANDS", "MONTHLY_MASK_BANDS",
           "CODE_TABLES", "DEFINITIONS"]

ACQUISITION_MASK_BANDS = ("class", "cloud", "shadow", "landcover")
MONTHLY_MASK_BANDS = ("class", "landcover")
CODE_TABLES = {
    "class": {"0": "outside the swath", "1": "land", "2": "water", "3": "snow"},
    "cloud": {"0": "clear", "1": "thin cloud (optical thickness from 0.05 to 1 for water clouds, to 0.3 for cirrus)",
              "2": "cloud (water clouds of optical thickness >= 1, cirrus >= 0.3)"},
    "shadow": {"0": "sunlit", "1": "cloud shadow"},
    "landcover": {str(k): v for k, v in sorted(LANDCOVER_CODES.items())},
}


#: What the truth files are, recorded in index.json.
DEFINITIONS = {
    "acquisition_REFL": "true directional surface reflectance as the pass sees it: the ground's own per-land-cover "
                        "BRDF (not the synthesis' Roy et al. model) at the pass's sun angles and each band's "
                        "detector viewing angles; no cloud, shadow or haze; int16 x10000, -10000 outside the swath",
    "acquisition_NADIR": "true surface reflectance at view zenith 0 and the pass's own sun angles (same ground, same "
                         "per-land-cover BRDF); int16 x10000, -10000 outside the swath",
    "monthly_REFL": "true nadir-view surface reflectance of the ground on the 15th (phenology of that day) at the sun "
                    "zenith of the 15th at the pixel at the nominal local overpass time; int16 x10000",
    "nominal_overpass_time": "10:51 local mean solar time (UTC hours = 10.85 - longitude / 15), the time the "
                             "simulated descending tracks cross 43.7 N",
    "l2a_masks": "the products' CLM/MG2 masks are a simulated processor's estimate with errors set by the simulator's "
                 "mask_quality; the truth MASKS are exact",
    "reference_sun_zenith_deg": "sun zenith at which the landscape's spectra are the nadir-view reflectance",
    "tile_DEM": "ground altitude (m) at the centre of each 20 m-band pixel, the terrain under every pass (surface "
                "pressure, snow line, tree line): a DEM for `l2a process --dem`; int16",
}


def acquisition_stem(tile: str, when, platform: str, relative_orbit: int) -> str:
    """File stem of the truth of one acquisition, e.g. ``T31TCJ_20180610T104243_S2A_R051``."""
    return f"{tile}_{when:%Y%m%dT%H%M%S}_{platform}_R{relative_orbit:03d}"


class TruthWriter:
    """Write the truth rasters of one acquisition or one month of one tile, block by block (context manager).

    Parameters
    ----------
    root : path-like
        ``DIR/truth``.
    files : mapping role -> relative path
        Roles ``REFL_R1``, ``REFL_R2``, ``MASKS_R1``, ``MASKS_R2`` and optionally ``NADIR_R1``, ``NADIR_R2``,
        ``ATMO_R2``.
    crs : CRS
        Tile CRS.
    grids : mapping ``"R1"``/``"R2"`` -> Grid
    bands : mapping ``"R1"``/``"R2"`` -> tuple of band names
    mask_bands : tuple of str
        Names of the MASKS bands.
    threads : int
        COG compression threads.
    """

    def __init__(self, root, files: Mapping[str, str], *, crs, grids: Mapping[str, Grid],
                 bands: Mapping[str, tuple[str, ...]], mask_bands: tuple[str, ...], threads: int = 1):
        self.root = Path(root)
        self.files = dict(files)
        self._writers: dict[str, CogWriter] = {}
        for role, rel in self.files.items():
            kind, res = role.split("_")
            grid = grids[res]
            if kind in ("REFL", "NADIR"):
                kw = dict(dtype="int16", count=len(bands[res]), nodata=-10000, descriptions=bands[res], scale=1e-4,
                          offset=0.0, resampling="average")
            elif kind == "MASKS":
                kw = dict(dtype="uint8", count=len(mask_bands), nodata=None, descriptions=mask_bands,
                          resampling="nearest")
            elif kind == "DEM":
                kw = dict(dtype="int16", count=1, nodata=None, descriptions=("altitude_m",), resampling="average")
            else:
                kw = dict(dtype="float32", count=2, nodata=float("nan"), descriptions=("AOT", "WV"),
                          resampling="average")
            self._writers[role] = CogWriter(self.root / rel, crs=crs, transform=grid.transform, height=grid.height,
                                            width=grid.width, threads=threads, tags={"SIMULATION_TRUTH": role}, **kw)

    def write(self, role: str, data: np.ndarray, window: Window) -> None:
        """Write a (bands, rows, cols) block of one role."""
        if role in self._writers:
            self._writers[role].write(data, window)

    def close(self) -> None:
        for w in self._writers.values():
            w.close()

    def abort(self) -> None:
        for w in self._writers.values():
            w.abort()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def truth_exists(root, files: Mapping[str, str]) -> bool:
    """True when every file of a truth set is present (a resumed run skips it)."""
    return all((Path(root) / rel).exists() for rel in files.values())


def write_index(root, index: dict) -> Path:
    """Write ``index.json`` atomically (sorted keys, no time stamps: same run, same bytes)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "index.json"
    atomic_write_bytes(path, (json.dumps(index, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    return path
