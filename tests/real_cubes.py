"""Test helper: real Sentinel-2 L2A time series (openEO netCDF cubes) and Sen2Cor-like SAFE products made from them.

The cubes under ``../shared/data/real/openeo_gfmap_s2l2a_cubes`` hold real Sen2Cor reflectances on a 10 m grid,
already without the -1000 offset (README there). :func:`load_cube` reads one into a :class:`Cube`;
:func:`write_sen2cor_like` writes one date as a real-looking Sen2Cor L2A SAFE so that the readers can be checked
against known values:

* ``MTD_MSIL2A.xml`` with QUANTIFICATION_VALUES_LIST (BOA 10000, AOT 1000, WVP 1000) and, unless ``offset=None``,
  BOA_ADD_OFFSET_VALUES_LIST = ``offset`` (-1000) for the 13 bands; stored DN = cube DN - offset (DN 0 stays 0);
* ``GRANULE/L2A_<tile>_A<orbit>_<time>/MTD_TL.xml`` with Tile_Geocoding for the cube's grid (10, 20 and 60 m), a
  23 x 23 sun grid computed for the time and place (NOAA solar-position formulas, ~0.1 degree) and, per band, two
  overlapping detectors' viewing grids (synthetic, NaN outside each detector);
* ``IMG_DATA/R10m`` (10 m bands B02 B03 B04 B08, AOT) and ``IMG_DATA/R20m`` (every cube band except B08, SCL,
  AOT) as lossless JP2 (JP2OpenJPEG, QUALITY=100, REVERSIBLE=YES). No R60m, TCI or WVP.

20 m rasters are made from the 10 m cube by nearest neighbour at factor 2: the upper-left 10 m pixel of each 20 m
pixel, ``a[::2, ::2]`` (an odd size gives ceil(n / 2) pixels). So a reader's 20 m SCL equals ``cube.scl[::2, ::2]``
and its 10 m masks are that SCL repeated 2 x 2, not the cube's own 10 m SCL.

Use from a test file::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from real_cubes import load_cube, write_sen2cor_like
"""

from __future__ import annotations

import datetime as dt
import os
import re
import warnings
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

__all__ = ["Cube", "REAL_DIR", "CUBES_DIR", "L1C_DIR", "CUBE_NAMES", "load_cube", "write_sen2cor_like",
           "zip_product", "sun_angles", "mgrs_tile"]

#: Real-data folder (``../shared/data/real`` from the project root; ``SYNTHEO_REAL_DATA`` overrides it).
REAL_DIR = Path(os.environ.get("SYNTHEO_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))
CUBES_DIR = REAL_DIR / "openeo_gfmap_s2l2a_cubes"
L1C_DIR = REAL_DIR / "alcd_toulouse_l1c_safe"
CUBE_NAMES = ("test_optical_cube", "cdse_sentinel2_l2a", "bap_quintad_cdse")

_UTC = dt.timezone.utc
_R10M = ("B2", "B3", "B4", "B8")
_ESA_ORDER = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
# Exo-atmospheric irradiance, W m-2 um-1 (as in real MTD_MSIL1C/MTD_MSIL2A files).
_SOLAR_IRRADIANCE = (1874.3, 1959.75, 1824.93, 1512.79, 1425.78, 1291.13, 1175.57, 1041.28, 953.93, 817.58,
                     365.41, 247.08, 87.75)
_SCL_NAMES = ("NODATA", "SATURATED_DEFECTIVE", "DARK_AREA_PIXELS", "CLOUD_SHADOWS", "VEGETATION", "NOT_VEGETATED",
              "WATER", "UNCLASSIFIED", "CLOUD_MEDIUM_PROBA", "CLOUD_HIGH_PROBA", "THIN_CIRRUS", "SNOW_ICE")
_NS_PRODUCT = "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd"
_NS_TILE = "https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-2A_Tile_Metadata.xsd"


@dataclass(frozen=True)
class Cube:
    """A real L2A time series on one 10 m grid.

    Attributes
    ----------
    name : str
        File stem (``"test_optical_cube"``).
    times : tuple of datetime.datetime
        Acquisition dates, UTC (the cubes give days: 00:00).
    bands : mapping Theia band name -> numpy.ndarray
        uint16 (dates, rows, cols), reflectance x 10000 without offset; 0 = nodata.
    scl : numpy.ndarray
        uint8 (dates, rows, cols) Sen2Cor scene classes; 0 = nodata.
    crs : rasterio.crs.CRS
    transform : affine.Affine
        10 m pixel-corner transform, north-up.
    aot : numpy.ndarray or None
        uint16 (dates, rows, cols), AOT x 1000; 0 = nodata.
    """

    name: str
    times: tuple[dt.datetime, ...]
    bands: Mapping[str, np.ndarray]
    scl: np.ndarray
    crs: CRS
    transform: Affine
    aot: np.ndarray | None = field(default=None)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the 10 m grid."""
        return self.scl.shape[1:]


def _times(ds) -> list[dt.datetime]:
    units = ds.tags().get("t#units", "")
    m = re.match(r"^\s*(days|hours|minutes|seconds) since (\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}:\d{2}))?", units)
    if not m:
        raise ValueError(f"{ds.name}: time units {units!r} not understood")
    origin = dt.datetime.fromisoformat(f"{m[2]}T{m[3] or '00:00:00'}").replace(tzinfo=_UTC)
    return [origin + dt.timedelta(**{m[1]: float(ds.tags(i)["NETCDF_DIM_t"])}) for i in ds.indexes]


def _as_uint(data: np.ma.MaskedArray, dtype) -> np.ndarray:
    """Masked (NaN, fill value) -> 0; floats rounded; cast to ``dtype``."""
    values = np.ma.masked_invalid(data.astype(np.float64)) if data.dtype.kind == "f" else data
    filled = np.ma.filled(values, 0)
    return np.rint(filled).astype(dtype) if filled.dtype.kind == "f" else filled.astype(dtype)


def load_cube(name: str | os.PathLike) -> Cube:
    """Read an openEO netCDF L2A cube (variables ``S2-L2A-B04``, ``S2-L2A-SCL``, ``S2-L2A-AOT``...).

    Parameters
    ----------
    name : str or path-like
        A name of :data:`CUBE_NAMES` (looked up in :data:`CUBES_DIR`) or a path to a ``.nc`` file.
    """
    path = Path(name)
    if not path.exists():
        path = CUBES_DIR / f"{Path(name).stem}.nc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as container:
            subdatasets = container.subdatasets
    arrays, grid, times = {}, None, None
    for sub in subdatasets:
        key = sub.rsplit(":", 1)[-1].rsplit("-", 1)[-1]  # "S2-L2A-B04" -> "B04"
        with rasterio.open(sub) as ds:
            here = (ds.crs, ds.transform, ds.shape)
            if grid not in (None, here) or times not in (None, _times(ds)):
                raise ValueError(f"{sub}: grid or dates differ from the other variables")
            grid, times = here, _times(ds)
            data = ds.read(masked=True)
        if key == "SCL":
            arrays["SCL"] = _as_uint(data, np.uint8)
        elif key == "AOT":
            arrays["AOT"] = _as_uint(data, np.uint16)
        else:  # "B04" -> "B4", "B8A" stays
            arrays[key if key.endswith("A") else f"B{int(key[1:])}"] = _as_uint(data, np.uint16)
    if "SCL" not in arrays or grid is None:
        raise ValueError(f"{path}: no SCL variable")
    order = np.argsort(times, kind="stable")
    pick = {k: v[order] for k, v in arrays.items()}
    bands = {b: pick.pop(b) for b in _ESA_ORDER if b in pick}
    return Cube(path.stem, tuple(times[i] for i in order), bands, pick["SCL"], grid[0], grid[1], pick.get("AOT"))


# --- geometry helpers -----------------------------------------------------------------------------------------
def sun_angles(when: dt.datetime, lon_deg: np.ndarray, lat_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sun (zenith, azimuth), degrees (azimuth clockwise from north), NOAA general solar position formulas
    (accuracy ~0.1 degree; no refraction)."""
    when = when.astimezone(_UTC)
    hours = when.hour + when.minute / 60 + when.second / 3600
    g = 2 * np.pi / 365 * (when.timetuple().tm_yday - 1 + (hours - 12) / 24)
    eqtime = 229.18 * (0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g) - 0.014615 * np.cos(2 * g)
                       - 0.040849 * np.sin(2 * g))
    decl = (0.006918 - 0.399912 * np.cos(g) + 0.070257 * np.sin(g) - 0.006758 * np.cos(2 * g)
            + 0.000907 * np.sin(2 * g) - 0.002697 * np.cos(3 * g) + 0.00148 * np.sin(3 * g))
    hour_angle = np.deg2rad((hours * 60 + eqtime + 4 * np.asarray(lon_deg)) / 4 - 180)
    lat = np.deg2rad(lat_deg)
    cos_zen = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    zenith = np.rad2deg(np.arccos(np.clip(cos_zen, -1, 1)))
    azimuth = np.rad2deg(np.arctan2(np.sin(hour_angle), np.cos(hour_angle) * np.sin(lat)
                                    - np.tan(decl) * np.cos(lat))) + 180
    return zenith, azimuth % 360


def mgrs_tile(crs: CRS, x: float, y: float) -> str:
    """MGRS 100 km square (``T31UES``) holding a point of a northern UTM zone (EPSG:326xx)."""
    epsg = crs.to_epsg()
    if epsg is None or not 32601 <= epsg <= 32660:
        raise ValueError(f"{crs} is not a northern UTM zone")
    zone = epsg - 32600
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    band = "CDEFGHJKLMNPQRSTUVWX"[min(int((lat + 80) // 8), 19)]
    column = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")[(zone - 1) % 3][int(x // 100000) - 1]
    row = "ABCDEFGHJKLMNPQRSTUV"[(int(y // 100000) + (5 if zone % 2 == 0 else 0)) % 20]
    return f"T{zone:02d}{band}{column}{row}"


# --- writing --------------------------------------------------------------------------------------------------
def _sub(parent: ET.Element, tag: str, text=None, **attrib) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in attrib.items()})
    if text is not None:
        el.text = str(text)
    return el


def _values(parent: ET.Element, tag: str, grid: np.ndarray) -> None:
    el = _sub(parent, tag)
    _sub(el, "COL_STEP", 5000, unit="m")
    _sub(el, "ROW_STEP", 5000, unit="m")
    values = _sub(el, "Values_List")
    for row in grid:
        _sub(values, "VALUES", " ".join("NaN" if np.isnan(v) else f"{v:.4f}" for v in row))


def _write_xml(root: ET.Element, path: Path) -> None:
    ET.indent(root, space="  ")
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)


def _write_jp2(path: Path, array: np.ndarray, crs: CRS, transform: Affine) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="JP2OpenJPEG", width=array.shape[1], height=array.shape[0], count=1,
                       dtype=array.dtype.name, crs=crs, transform=transform, QUALITY="100",
                       REVERSIBLE="YES") as dst:
        dst.write(array, 1)


def _product_xml(uri, platform, start, baseline, granule_id, image_files, offset, u) -> ET.Element:
    ET.register_namespace("n1", _NS_PRODUCT)
    root = ET.Element(f"{{{_NS_PRODUCT}}}Level-2A_User_Product")
    general = _sub(root, f"{{{_NS_PRODUCT}}}General_Info")
    info = _sub(general, "Product_Info")
    for tag, text in (("PRODUCT_START_TIME", f"{start:%Y-%m-%dT%H:%M:%S}.024Z"),
                      ("PRODUCT_STOP_TIME", f"{start:%Y-%m-%dT%H:%M:%S}.024Z"), ("PRODUCT_URI", uri),
                      ("PROCESSING_LEVEL", "Level-2A"), ("PRODUCT_TYPE", "S2MSI2A"),
                      ("PROCESSING_BASELINE", baseline)):
        _sub(info, tag, text)
    datatake = _sub(info, "Datatake", datatakeIdentifier=f"G{platform}_{start:%Y%m%dT%H%M%S}_036542_N{baseline}")
    _sub(datatake, "SPACECRAFT_NAME", f"Sentinel-{platform[1:]}")
    _sub(datatake, "DATATAKE_TYPE", "INS-NOBS")
    _sub(datatake, "SENSING_ORBIT_DIRECTION", "DESCENDING")
    granules = _sub(_sub(info, "Product_Organisation"), "Granule_List")
    granule = _sub(granules, "Granule", granuleIdentifier=granule_id, imageFormat="JPEG2000")
    for name in image_files:
        _sub(granule, "IMAGE_FILE", name)
    chars = _sub(general, "Product_Image_Characteristics")
    for text, index in (("NODATA", 0), ("SATURATED", 65535)):
        special = _sub(chars, "Special_Values")
        _sub(special, "SPECIAL_VALUE_TEXT", text)
        _sub(special, "SPECIAL_VALUE_INDEX", index)
    quant = _sub(chars, "QUANTIFICATION_VALUES_LIST")
    _sub(quant, "BOA_QUANTIFICATION_VALUE", 10000, unit="none")
    _sub(quant, "AOT_QUANTIFICATION_VALUE", "1000.0", unit="none")
    _sub(quant, "WVP_QUANTIFICATION_VALUE", "1000.0", unit="cm")
    if offset is not None:
        offsets = _sub(chars, "BOA_ADD_OFFSET_VALUES_LIST")
        for band_id in range(13):
            _sub(offsets, "BOA_ADD_OFFSET", int(offset), band_id=band_id)
    conversion = _sub(chars, "Reflectance_Conversion")
    _sub(conversion, "U", repr(u))
    irradiance = _sub(conversion, "Solar_Irradiance_List")
    for band_id, value in enumerate(_SOLAR_IRRADIANCE):
        _sub(irradiance, "SOLAR_IRRADIANCE", value, bandId=band_id, unit="W/m²/µm")
    classes = _sub(chars, "Scene_Classification_List")
    for index, name in enumerate(_SCL_NAMES):
        entry = _sub(classes, "Scene_Classification_ID")
        _sub(entry, "SCENE_CLASSIFICATION_TEXT", f"SC_{name}")
        _sub(entry, "SCENE_CLASSIFICATION_INDEX", index)
    return root


def _tile_xml(tile_id, sensing, crs, transform, shape, tile_name) -> ET.Element:
    ET.register_namespace("n1", _NS_TILE)
    root = ET.Element(f"{{{_NS_TILE}}}Level-2A_Tile_ID")
    general = _sub(root, f"{{{_NS_TILE}}}General_Info")
    _sub(general, "TILE_ID", tile_id, metadataLevel="Brief")
    _sub(general, "SENSING_TIME", f"{sensing:%Y-%m-%dT%H:%M:%S.%f}Z", metadataLevel="Standard")
    geometric = _sub(root, f"{{{_NS_TILE}}}Geometric_Info")
    geocoding = _sub(geometric, "Tile_Geocoding", metadataLevel="Brief")
    _sub(geocoding, "HORIZONTAL_CS_NAME", f"WGS84 / UTM zone {tile_name[1:3]}N")
    _sub(geocoding, "HORIZONTAL_CS_CODE", f"EPSG:{crs.to_epsg()}")
    rows, cols = shape
    for res in (10, 20, 60):
        size = _sub(geocoding, "Size", resolution=res)
        _sub(size, "NROWS", -(-rows * 10 // res))
        _sub(size, "NCOLS", -(-cols * 10 // res))
    for res in (10, 20, 60):
        position = _sub(geocoding, "Geoposition", resolution=res)
        for tag, value in (("ULX", transform.c), ("ULY", transform.f), ("XDIM", res), ("YDIM", -res)):
            _sub(position, tag, f"{value:.10g}")
    angles = _sub(geometric, "Tile_Angles", metadataLevel="Standard")
    nodes = np.arange(23) * 5000.0
    xs, ys = np.meshgrid(transform.c + nodes, transform.f - nodes)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    zenith, azimuth = sun_angles(sensing, lon, lat)
    sun = _sub(angles, "Sun_Angles_Grid")
    _values(sun, "Zenith", zenith)
    _values(sun, "Azimuth", azimuth)
    mean = _sub(angles, "Mean_Sun_Angle")
    _sub(mean, "ZENITH_ANGLE", f"{zenith.mean():.6f}", unit="deg")
    _sub(mean, "AZIMUTH_ANGLE", f"{azimuth.mean():.6f}", unit="deg")
    columns = np.broadcast_to(np.arange(23.0), (23, 23))
    for band_id in range(13):
        # two detectors overlapping on columns 11-12, NaN elsewhere; zenith grows across track
        for detector, (first, last, view_azimuth) in enumerate(((0, 12, 100.0), (11, 22, 104.0)), start=4):
            inside = (columns >= first) & (columns <= last)
            grids = _sub(angles, "Viewing_Incidence_Angles_Grids", bandId=band_id, detectorId=detector)
            _values(grids, "Zenith", np.where(inside, 1.0 + 0.4 * columns + 0.02 * band_id, np.nan))
            _values(grids, "Azimuth", np.where(inside, view_azimuth + 0.1 * band_id, np.nan))
    return root


def write_sen2cor_like(cube: Cube, index: int, out_dir: str | os.PathLike, baseline: str = "05.10", *,
                       offset: int | None = -1000, platform: str = "S2B", tile: str | None = None,
                       sensing_time: dt.datetime | None = None) -> Path:
    """Write date ``index`` of a cube as a Sen2Cor L2A SAFE folder (see module docstring).

    Parameters
    ----------
    cube : Cube
    index : int
        Date index in ``cube.times``.
    out_dir : path-like
        Folder that receives the ``.SAFE`` folder (created if needed).
    baseline : str
        PROCESSING_BASELINE written (``"05.10"``); it does not decide the offset.
    offset : int or None
        BOA_ADD_OFFSET written for the 13 bands (stored DN = cube DN - offset); None writes no offset list and
        stores the cube DN as they are.
    platform : str
        ``S2A``, ``S2B`` or ``S2C``.
    tile : str, optional
        MGRS tile (``T31UES``); by default the 100 km square holding the cube's upper-left corner.
    sensing_time : datetime, optional
        Tile SENSING_TIME, UTC; by default the cube's date at 10:56:29.

    Returns
    -------
    Path
        The ``.SAFE`` folder.
    """
    transform, crs, (rows, cols) = cube.transform, cube.crs, cube.shape
    tile = tile or mgrs_tile(crs, transform.c + 1, transform.f - 1)
    when = cube.times[index]
    sensing = sensing_time or when.replace(hour=10, minute=56, second=29, microsecond=24000)
    start = (sensing - dt.timedelta(minutes=8, seconds=10)).replace(microsecond=0)
    stamp = f"{start:%Y%m%dT%H%M%S}"
    generated = start + dt.timedelta(hours=2)
    uri = f"{platform}_MSIL2A_{stamp}_N{baseline.replace('.', '')}_R051_{tile}_{generated:%Y%m%dT%H%M%S}.SAFE"
    safe = Path(out_dir) / uri
    granule_dir = f"L2A_{tile}_A036542_{sensing:%Y%m%dT%H%M%S}"
    img = safe / "GRANULE" / granule_dir / "IMG_DATA"
    t20 = transform @ Affine.scale(2)
    rasters = []  # (relative name without .jp2, array, transform)
    for band, cube_dn in cube.bands.items():
        dn = cube_dn[index]
        if offset is not None:
            dn = np.where(dn == 0, 0, dn.astype(np.int64) - offset)
            if dn.max() > 65534 or dn.min() < 0:
                raise ValueError(f"{cube.name} {band}: DN out of uint16 range after the offset")
            dn = dn.astype(np.uint16)
        esa = band if band.endswith("A") else f"B{int(band[1:]):02d}"
        if band in _R10M:
            rasters.append((f"R10m/{tile}_{stamp}_{esa}_10m", dn, transform))
        if band != "B8":
            rasters.append((f"R20m/{tile}_{stamp}_{esa}_20m", dn[::2, ::2], t20))
    rasters.append((f"R20m/{tile}_{stamp}_SCL_20m", cube.scl[index][::2, ::2].astype(np.uint8), t20))
    if cube.aot is not None:
        rasters.append((f"R10m/{tile}_{stamp}_AOT_10m", cube.aot[index], transform))
        rasters.append((f"R20m/{tile}_{stamp}_AOT_20m", cube.aot[index][::2, ::2], t20))
    for rel, array, where in rasters:
        _write_jp2(img / f"{rel}.jp2", np.ascontiguousarray(array), crs, where)
    doy = sensing.timetuple().tm_yday
    u = 1.0 / (1.0 - 0.01673 * np.cos(0.0172 * (doy - 4))) ** 2
    image_files = [f"GRANULE/{granule_dir}/IMG_DATA/{rel}" for rel, _, _ in rasters]
    _write_xml(_product_xml(uri, platform, start, baseline, f"{platform}_OPER_MSI_L2A_TL_{tile}", image_files,
                            offset, float(u)), safe / "MTD_MSIL2A.xml")
    tile_id = f"{platform}_OPER_MSI_L2A_TL_2BPS_{stamp}_A036542_{tile}_N{baseline}"
    _write_xml(_tile_xml(tile_id, sensing, crs, transform, (rows, cols), tile),
               safe / "GRANULE" / granule_dir / "MTD_TL.xml")
    for empty in ("DATASTRIP", "HTML", "rep_info", f"GRANULE/{granule_dir}/AUX_DATA", f"GRANULE/{granule_dir}/QI_DATA"):
        (safe / empty).mkdir(exist_ok=True)
    return safe


def zip_product(folder: str | os.PathLike, dest: str | os.PathLike | None = None) -> Path:
    """Pack a product folder as ESA does: a .zip whose single top entry is the ``.SAFE`` folder."""
    folder = Path(folder)
    dest = Path(dest) if dest is not None else folder.with_name(folder.name.removesuffix(".SAFE") + ".zip")
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return dest


# --- Theia-like products ----------------------------------------------------------------------------------------
def write_theia_like(cube: Cube, index: int, out_dir: str | os.PathLike, *, platform: str = "S2B",
                     tile: str | None = None, hour: int = 10, minute: int = 56) -> Path:
    """Write date ``index`` of a cube as a Theia L2A product with the toolkit's writer.

    R1 bands keep the cube's 10 m pixels; R2 bands and masks take the upper-left 10 m pixel of each 2 x 2 block, as
    :func:`write_sen2cor_like` does. Masks from SCL: 8/9/10 cloud (10 also cirrus), 3 shadow, 6 water, 11 snow,
    0 edge (EDG), 1 saturated (SAT, every band bit); AOT (x1000 in the cube) goes to ATB band 2 (x200).
    """
    from l2a.angles import Angles
    from l2a.grid import Grid
    from l2a.sensors import L2A_BANDS, R1_BANDS, R2_BANDS
    from l2a.formats.theia.bits import encode_clm, encode_mg2
    from l2a.formats.theia.writer import L2AMetadata, write_l2a

    when = cube.times[index].replace(hour=hour, minute=minute, tzinfo=_UTC)
    rows, cols = cube.shape
    g1 = Grid(cube.transform, rows, cols)
    g2 = Grid(cube.transform @ Affine.scale(2), (rows + 1) // 2, (cols + 1) // 2)
    left, top = cube.transform.c, cube.transform.f
    lon, lat = _lonlat(cube.crs, left, top)
    sza, saz = sun_angles(when, np.array([lon]), np.array([lat]))
    angles = Angles(mean_sun=(float(sza[0]), float(saz[0])),
                    mean_view={b: (5.0, 100.0) for b in cube.bands})
    bands, masks, atb = {}, {}, {}
    for res, sl in (("R1", np.s_[:, :]), ("R2", np.s_[::2, ::2])):
        scl = cube.scl[index][sl]
        cloud = (scl >= 8) & (scl <= 10)
        masks[("CLM", res)] = encode_clm(cloud, scl == 3, cirrus=scl == 10)
        masks[("MG2", res)] = encode_mg2(scl == 6, scl == 11, cloud, scl == 3)
        masks[("EDG", res)] = (scl == 0).astype(np.uint8)
        masks[("SAT", res)] = np.where(scl == 1, 0xFF, 0).astype(np.uint8)
        if cube.aot is not None:
            aot = cube.aot[index][sl].astype(np.float64) / 1000.0
            atb[res] = np.stack([np.zeros_like(scl), np.where((cube.aot[index][sl] == 0) | (scl == 0), 0,
                                                              np.clip(np.rint(aot * 200), 1, 255))]).astype(np.uint8)
    for b, data in cube.bands.items():
        if b not in R1_BANDS + R2_BANDS:
            continue
        dn = data[index] if b in R1_BANDS else data[index][::2, ::2]
        bands[b] = np.where(dn == 0, -10000, np.minimum(dn, 32767)).astype(np.int16)
    meta = L2AMetadata(platform=platform, tile=tile or mgrs_tile(cube.crs, left, top), datetime=when,
                       crs=cube.crs, grids={"R1": g1, "R2": g2}, bands=tuple(b for b in L2A_BANDS if b in bands),
                       angles=angles, extra={"source": f"{cube.name} date {index}"})
    return write_l2a(out_dir, meta, bands, masks, atb or None)


def _lonlat(crs: CRS, x: float, y: float) -> tuple[float, float]:
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
