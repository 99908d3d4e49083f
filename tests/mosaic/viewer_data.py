"""Two tiny synthetic months for the viewer tests (``mosaic compare``, ``mosaic serve``, the browser tests).

Each month is a ``mosaic build``-like folder: ``mosaic.tif`` (COG, int16 reflectance x10000, bands described B2 B3
B4 B8, nodata -10000, tags CENTRAL_DATE and FLAGS) and ``flags.tif`` (FLG) on a 400 x 400 grid of 60 m pixels in
EPSG:3857 around (1.0 E, 43.7 N). The landscape is made of rectangular parcels of constant reflectance: between
July and August some crops are harvested (NDVI falls), some fields green up (NDVI rises), the rest stays. July has a
swath gap (FLG 0) along its west edge, August an always-cloudy disc (FLG 1) and a lake (FLG 3) in both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from l2a.io.cog import write_cog

BANDS = ("B2", "B3", "B4", "B8")
SIZE = 400
PIXEL_M = 60.0
ORIGIN = (111319.49 - SIZE * PIXEL_M / 2, 5419000.0 + SIZE * PIXEL_M / 2)  # EPSG:3857 upper-left corner
TRANSFORM = Affine(PIXEL_M, 0.0, ORIGIN[0], 0.0, -PIXEL_M, ORIGIN[1])
#: Reflectance x10000 (B2, B3, B4, B8) of the surface types.
SURFACES = {
    "crop": (300, 650, 350, 3800),
    "harvested": (900, 1150, 1400, 2100),
    "soil": (1000, 1200, 1500, 1900),
    "forest": (250, 450, 250, 2900),
    "meadow": (400, 800, 500, 3000),
    "water": (450, 400, 250, 120),
}
LAKE = (290, 120, 35)           # row, col, radius (pixels)
CLOUD = (90, 300, 30)           # August's always-cloudy disc
GAP_COLS = 24                   # July's swath gap, columns from the west edge


@dataclass
class Parcel:
    rows: tuple[int, int]
    cols: tuple[int, int]
    july: str
    august: str

    @property
    def centre(self) -> tuple[float, float]:
        """(row, col) of the parcel's centre, pixels."""
        return (self.rows[0] + self.rows[1]) / 2, (self.cols[0] + self.cols[1]) / 2


@dataclass
class Landscape:
    parcels: list = field(default_factory=list)

    def surface(self, month: str) -> np.ndarray:
        """Index into SURFACES per pixel (rows, cols)."""
        names = list(SURFACES)
        out = np.full((SIZE, SIZE), names.index("meadow"), np.int16)
        for p in self.parcels:
            out[p.rows[0]:p.rows[1], p.cols[0]:p.cols[1]] = names.index(getattr(p, month))
        rr, cc = np.mgrid[0:SIZE, 0:SIZE]
        r, c, radius = LAKE
        out[(rr - r) ** 2 + (cc - c) ** 2 <= radius ** 2] = names.index("water")
        return out


def landscape(seed: int = 3) -> Landscape:
    """Parcels on a 10 x 10 grid of 40 px cells with a 2 px hedge between them; a fixed random draw."""
    rng = np.random.default_rng(seed)
    out = Landscape()
    for i in range(10):
        for j in range(10):
            kind = rng.choice(["crop", "crop", "crop", "soil", "forest", "meadow"])
            august = kind
            if kind == "crop" and rng.random() < 0.5:
                august = "harvested"
            elif kind == "soil" and rng.random() < 0.6:
                august = "crop"
            out.parcels.append(Parcel((i * 40 + 2, i * 40 + 38), (j * 40 + 2, j * 40 + 38), kind, august))
    return out


def write_month(folder: str | Path, month: str, scene: Landscape | None = None, bands=BANDS) -> Path:
    """Write ``folder/mosaic.tif`` and ``folder/flags.tif`` of ``month`` ("july" or "august"); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    scene = scene or landscape()
    surface = scene.surface(month)
    table = np.array(list(SURFACES.values()), np.int16)  # (surfaces, 4 bands)
    refl = np.stack([table[surface, BANDS.index(b)] for b in bands]).astype(np.int16)
    flg = np.full((SIZE, SIZE), 4, np.uint8)
    flg[surface == list(SURFACES).index("water")] = 3
    rr, cc = np.mgrid[0:SIZE, 0:SIZE]
    if month == "july":
        flg[:, :GAP_COLS] = 0
    else:
        r, c, radius = CLOUD
        flg[(rr - r) ** 2 + (cc - c) ** 2 <= radius ** 2] = 1
    refl[:, flg < 2] = -10000
    date = dt.date(2018, 7, 15) if month == "july" else dt.date(2018, 8, 15)
    crs = CRS.from_epsg(3857)
    write_cog(folder / "mosaic.tif", refl, crs=crs, transform=TRANSFORM, nodata=-10000, descriptions=list(bands),
              scale=1e-4, tags={"CENTRAL_DATE": date.isoformat(), "FLAGS": "flags.tif"}, threads=1)
    write_cog(folder / "flags.tif", flg, crs=crs, transform=TRANSFORM, nodata=255, descriptions=["FLG"],
              resampling="nearest", threads=1)
    return folder


def ndvi_of(surface: str) -> float:
    _, _, red, nir = SURFACES[surface]
    return (nir - red) / (nir + red)


def pixel_lonlat(row: float, col: float) -> tuple[float, float]:
    """Lon/lat of a pixel position (row, col) of the months' grid (pixel centre at +0.5)."""
    from pyproj import Transformer

    x, y = TRANSFORM @ (col, row)
    lon, lat = Transformer.from_crs(3857, 4326, always_xy=True).transform(x, y)
    return lon, lat


def make_pyramids(root: Path, zooms=(9, 11)) -> tuple[Path, Path]:
    """Both months as mosaics and as ``mosaic tiles`` pyramids under ``root``; returns the pyramid folders."""
    from mosaic.params import PyramidParams
    from mosaic.tiles import build_pyramid

    scene = landscape()
    out = []
    for month in ("july", "august"):
        mosaic = write_month(root / f"mosaic-{month}", month, scene)
        pyramid = root / f"tiles-{month}"
        build_pyramid(mosaic / "mosaic.tif", pyramid, PyramidParams(*zooms), workers=1)
        out.append(pyramid)
    return out[0], out[1]
