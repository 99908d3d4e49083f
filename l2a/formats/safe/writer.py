"""Writer of ESA Level-1C SAFE products (the layout of real products, processing baseline >= 04.00).

Layout, as the real sample ``S2B_MSIL1C_20240305T104819_N0510_R051_T31TCJ_20240305T125347.SAFE``::

    S2A_MSIL1C_<datatake start>_N0500_R<orbit>_<tile>_<generation>.SAFE/
        MTD_MSIL1C.xml        product metadata: QUANTIFICATION_VALUE 10000, RADIO_ADD_OFFSET -1000 per band, U,
                              solar irradiances, special values (NODATA 0, SATURATED 65535), footprint
        manifest.safe         XFDU manifest listing the data objects
        DATASTRIP/DS_<centre>_<generation>_S<sensing>/MTD_DS.xml      (minimal)
        GRANULE/L1C_<tile>_A<absolute orbit>_<sensing>/
            MTD_TL.xml        Tile_Geocoding (10/20/60 m sizes and positions), sun grid, viewing grids per band and
                              per detector (23 x 23 nodes every 5 km, NaN outside each detector), mean angles
            IMG_DATA/<tile>_<datatake start>_B01.jp2 ... B12.jp2, B8A.jp2      uint16, native resolution,
                              lossless JPEG 2000 (OpenJPEG, QUALITY=100, REVERSIBLE=YES)
            QI_DATA/          (empty)

Digital numbers: ``DN = round(TOA x 10000) + 1000``, 0 = no data (outside the swath), 65535 saturated.

Bands are written block by block into temporary GeoTIFFs inside a hidden temporary folder; :meth:`close` encodes the
JPEG 2000 files, writes the XML documents and renames the folder, so no partial product is ever visible. Nothing
depends on the wall clock: the generation time is derived from the sensing time.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.crs import CRS
from rasterio.windows import Window

from l2a.angles import AngleGrid
from l2a.errors import InvalidParameterError
from l2a.grid import Grid
from l2a.io.atomic import AtomicFolder
from l2a.io.raster import check_window
from l2a.io.xmldoc import sub_element

__all__ = ["L1CMetadata", "L1CSafeWriter", "L1C_BANDS", "dn_from_toa", "band_resolution_m", "safe_product_name",
           "QUANTIFICATION", "RADIO_ADD_OFFSET"]

logger = logging.getLogger(__name__)

#: The 13 L1C bands, ESA order (band_id 0..12).
L1C_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
QUANTIFICATION = 10000
RADIO_ADD_OFFSET = -1000
NODATA_DN, SATURATED_DN = 0, 65535
_RES = {"B1": 60, "B2": 10, "B3": 10, "B4": 10, "B5": 20, "B6": 20, "B7": 20, "B8": 10, "B8A": 20, "B9": 60,
        "B10": 60, "B11": 20, "B12": 20}
_NS = "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd"
_NS_TL = "https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-1C_Tile_Metadata.xsd"
# Exo-atmospheric solar irradiance, W m-2 um-1 (S2A: ESA product metadata; S2B: the real sample product).
_SOLAR = {
    "S2A": (1884.69, 1959.66, 1823.24, 1512.06, 1424.64, 1287.61, 1162.08, 1041.63, 955.32, 812.92, 367.15,
            245.59, 85.25),
    "S2B": (1874.3, 1959.75, 1824.93, 1512.79, 1425.78, 1291.13, 1175.57, 1041.28, 953.93, 817.58, 365.41,
            247.08, 87.75),
}
_WAVELENGTH = {  # (min, max, central) nm, S2A
    "B1": (430, 457, 442.7), "B2": (440, 538, 492.7), "B3": (537, 582, 559.8), "B4": (646, 684, 664.6),
    "B5": (694, 713, 704.1), "B6": (731, 749, 740.5), "B7": (769, 797, 782.8), "B8": (760, 908, 832.8),
    "B8A": (848, 881, 864.7), "B9": (932, 958, 945.1), "B10": (1337, 1412, 1373.5), "B11": (1539, 1682, 1613.7),
    "B12": (2078, 2320, 2202.4)}


def band_resolution_m(band: str) -> int:
    """Native resolution of an L1C band, m (10, 20 or 60)."""
    return _RES[band]


def dn_from_toa(toa: np.ndarray) -> np.ndarray:
    """L1C digital numbers from TOA reflectance.

    Parameters
    ----------
    toa : numpy.ndarray
        float (rows, cols) TOA reflectance; NaN = no data.

    Returns
    -------
    numpy.ndarray
        uint16 (rows, cols): ``round(toa * 10000) + 1000`` clipped to 1..65534, 0 where ``toa`` is NaN.
    """
    toa = np.asarray(toa, np.float64)
    dn = np.clip(np.rint(np.nan_to_num(toa, nan=0.0) * QUANTIFICATION) - RADIO_ADD_OFFSET, 1, SATURATED_DN - 1)
    return np.where(np.isnan(toa), NODATA_DN, dn).astype(np.uint16)


@dataclass(frozen=True)
class L1CMetadata:
    """Identity, grids and angles of an L1C product to write.

    Attributes
    ----------
    platform : str
        ``S2A`` or ``S2B``.
    tile : str
        ``T31TCJ``.
    sensing_time : datetime.datetime
        UTC time the tile was sensed (``SENSING_TIME``).
    datatake_start : datetime.datetime
        UTC start of the datatake (product name, ``PRODUCT_START_TIME``).
    crs : CRS
        UTM CRS of the tile.
    grids : mapping int -> Grid
        10, 20 and 60 m grids (possibly with coarser pixels for small simulations: keys are the nominal bands'
        resolutions).
    relative_orbit, absolute_orbit : int
    sun : AngleGrid
        Sun angles, 23 x 23 nodes every 5 km.
    view : mapping band -> mapping detector -> AngleGrid
        Viewing angles per band and detector (NaN outside each detector).
    footprint_lonlat : tuple of (lon, lat)
        Tile corners, degrees (for ``EXT_POS_LIST``).
    processing_baseline : str
        ``"05.00"`` (reprocessed collection: offsets present).
    """

    platform: str
    tile: str
    sensing_time: dt.datetime
    datatake_start: dt.datetime
    crs: CRS
    grids: Mapping[int, Grid]
    relative_orbit: int
    absolute_orbit: int
    sun: AngleGrid
    view: Mapping[str, Mapping[int, AngleGrid]]
    footprint_lonlat: tuple = ()
    processing_baseline: str = "05.00"
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def generation_time(self) -> dt.datetime:
        """Deterministic 'processing' time: two hours after the datatake start."""
        return self.datatake_start + dt.timedelta(hours=2)


def safe_product_name(meta: L1CMetadata) -> str:
    """``S2A_MSIL1C_20180603T104251_N0500_R051_T31TCJ_20180603T124251.SAFE``."""
    return (f"{meta.platform}_MSIL1C_{meta.datatake_start:%Y%m%dT%H%M%S}_N{meta.processing_baseline.replace('.', '')}"
            f"_R{meta.relative_orbit:03d}_{meta.tile}_{meta.generation_time:%Y%m%dT%H%M%S}.SAFE")


def _iso(when: dt.datetime, digits: int = 3) -> str:
    frac = f"{when.microsecond:06d}"[:digits]
    return f"{when:%Y-%m-%dT%H:%M:%S}.{frac}Z"


def _values(a: np.ndarray) -> list[str]:
    return [" ".join("NaN" if not np.isfinite(v) else f"{v:.6g}" for v in row) for row in a]


def _angle_block(parent: ET.Element, grid: AngleGrid) -> None:
    for name, values in (("Zenith", grid.zenith), ("Azimuth", grid.azimuth)):
        el = sub_element(parent, name)
        sub_element(el, "COL_STEP", f"{grid.col_step:g}", unit="m")
        sub_element(el, "ROW_STEP", f"{grid.row_step:g}", unit="m")
        vl = sub_element(el, "Values_List")
        for row in _values(values):
            sub_element(vl, "VALUES", row)


def _earth_sun_u(day: dt.date) -> float:
    doy = day.timetuple().tm_yday
    return 1.0 / (1.0 - 0.01672 * math.cos(math.radians(0.9856 * (doy - 4)))) ** 2


def _write_xml(path: Path, root: ET.Element) -> None:
    ET.indent(root, space="  ")
    data = ET.tostring(root, encoding="UTF-8", xml_declaration=False)
    path.write_bytes(b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + data + b"\n")


class L1CSafeWriter:
    """Write one L1C SAFE product band block by band block (a context manager).

    Parameters
    ----------
    out_dir : path-like
        Folder that will hold the ``.SAFE`` folder.
    meta : L1CMetadata
    threads : int
        JPEG 2000 encoding threads.
    overwrite : bool
        Replace an existing product of the same name (on successful close only).

    Attributes
    ----------
    path : pathlib.Path
        Final product folder.
    cloud_percent, snow_percent : float or None
        Quality indicators written to the metadata; set them before :meth:`close`.

    Raises
    ------
    ProductExistsError
        If the product folder exists and ``overwrite`` is False.
    """

    def __init__(self, out_dir, meta: L1CMetadata, *, threads: int = 1, overwrite: bool = False):
        self.meta = meta
        self.name = safe_product_name(meta)
        self.out_dir = Path(out_dir).absolute()
        self.path = self.out_dir / self.name
        self.threads = max(1, int(threads))
        self.granule = f"L1C_{meta.tile}_A{meta.absolute_orbit:06d}_{meta.sensing_time:%Y%m%dT%H%M%S}"
        self.stem = f"{meta.tile}_{meta.datatake_start:%Y%m%dT%H%M%S}"
        self._folder = AtomicFolder(self.path, overwrite=overwrite)
        self._tmp = self._folder.tmp
        self._img = self._tmp / "GRANULE" / self.granule / "IMG_DATA"
        self._img.mkdir(parents=True)
        (self._tmp / "GRANULE" / self.granule / "QI_DATA").mkdir()
        self._datasets: dict[str, rasterio.io.DatasetWriter] = {}
        self.cloud_percent: float | None = None
        self.snow_percent: float | None = None
        self._state = "open"

    def write_band(self, band: str, data: np.ndarray, window: Window | None = None) -> None:
        """Write a block of digital numbers.

        Parameters
        ----------
        band : str
            ``B1`` ... ``B12``, ``B8A``.
        data : numpy.ndarray
            uint16 (rows, cols) DN (:func:`dn_from_toa`), on the band's native-resolution grid.
        window : Window, optional
            Where the block goes; the whole grid if None.
        """
        if self._state != "open":
            raise InvalidParameterError(f"writer is {self._state}", self.path)
        if band not in _RES:
            raise InvalidParameterError(f"{band!r} is not an L1C band", self.path)
        arr = np.asarray(data)
        if arr.dtype != np.uint16 or arr.ndim != 2:
            raise InvalidParameterError(f"band {band}: expected 2-D uint16 DN, got {arr.ndim}-D {arr.dtype}", self.path)
        grid = self.meta.grids[_RES[band]]
        win = check_window(window, grid.height, grid.width, os.fspath(self.path))
        if band not in self._datasets:
            self._datasets[band] = rasterio.open(
                self._tmp / f".{band}.tif", "w", driver="GTiff", height=grid.height, width=grid.width, count=1,
                dtype="uint16", crs=self.meta.crs, transform=grid.transform, tiled=True, blockxsize=256,
                blockysize=256, compress="ZSTD", zstd_level=1, bigtiff="IF_SAFER")
        self._datasets[band].write(arr, 1, window=win)

    def close(self) -> Path:
        """Encode the JPEG 2000 files, write the metadata and rename the product into place."""
        if self._state == "closed":
            return self.path
        try:
            files = []
            for band in L1C_BANDS:
                if band not in self._datasets:
                    continue
                src = self._datasets.pop(band)
                src.close()
                esa = "B8A" if band == "B8A" else f"B{int(band[1:]):02d}"
                rel = f"GRANULE/{self.granule}/IMG_DATA/{self.stem}_{esa}.jp2"
                with rasterio.Env(GDAL_PAM_ENABLED="NO"):
                    rasterio.shutil.copy(src.name, self._tmp / rel, driver="JP2OpenJPEG", QUALITY="100",
                                         REVERSIBLE="YES", BLOCKXSIZE="1024", BLOCKYSIZE="1024",
                                         NUM_THREADS=str(self.threads))
                os.remove(src.name)
                files.append((band, rel))
            self._write_tile_metadata()
            self._write_product_metadata(files)
            self._write_datastrip()
            self._write_manifest(files)
            self._folder.publish()
        except BaseException:
            self.abort()
            raise
        self._state = "closed"
        logger.info("wrote %s", self.path)
        return self.path

    def abort(self) -> None:
        """Discard everything written."""
        if self._state == "closed":
            return
        for ds in self._datasets.values():
            ds.close()
        self._datasets.clear()
        self._folder.discard()
        self._state = "aborted"

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # --- documents ----------------------------------------------------------------------------------------------
    @property
    def _datastrip_id(self) -> str:
        m = self.meta
        return (f"{m.platform}_OPER_MSI_L1C_DS_SIMU_{m.generation_time:%Y%m%dT%H%M%S}_S{m.sensing_time:%Y%m%dT%H%M%S}"
                f"_N{m.processing_baseline}")

    def _write_tile_metadata(self) -> None:
        m = self.meta
        root = ET.Element("n1:Level-1C_Tile_ID", {"xmlns:n1": _NS_TL})
        gi = sub_element(root, "n1:General_Info")
        sub_element(gi, "TILE_ID", f"{m.platform}_OPER_MSI_L1C_TL_SIMU_{m.generation_time:%Y%m%dT%H%M%S}_"
                            f"A{m.absolute_orbit:06d}_{m.tile}_N{m.processing_baseline}", metadataLevel="Brief")
        sub_element(gi, "DATASTRIP_ID", self._datastrip_id, metadataLevel="Standard")
        sub_element(gi, "DOWNLINK_PRIORITY", "NOMINAL", metadataLevel="Standard")
        sub_element(gi, "SENSING_TIME", _iso(m.sensing_time, 6), metadataLevel="Standard")
        geo = sub_element(root, "n1:Geometric_Info")
        tg = sub_element(geo, "Tile_Geocoding", metadataLevel="Brief")
        epsg = m.crs.to_epsg()
        sub_element(tg, "HORIZONTAL_CS_NAME", f"WGS84 / UTM zone {epsg % 100}{'N' if epsg < 32700 else 'S'}")
        sub_element(tg, "HORIZONTAL_CS_CODE", f"EPSG:{epsg}")
        for res in sorted(m.grids):
            size = sub_element(tg, "Size", resolution=res)
            sub_element(size, "NROWS", m.grids[res].height)
            sub_element(size, "NCOLS", m.grids[res].width)
        for res in sorted(m.grids):
            t = m.grids[res].transform
            pos = sub_element(tg, "Geoposition", resolution=res)
            sub_element(pos, "ULX", f"{t.c:.10g}")
            sub_element(pos, "ULY", f"{t.f:.10g}")
            sub_element(pos, "XDIM", f"{t.a:.10g}")
            sub_element(pos, "YDIM", f"{t.e:.10g}")
        angles = sub_element(geo, "Tile_Angles", metadataLevel="Standard")
        sun = sub_element(angles, "Sun_Angles_Grid")
        _angle_block(sun, m.sun)
        mean = sub_element(angles, "Mean_Sun_Angle")
        zen, az = m.sun.mean()
        sub_element(mean, "ZENITH_ANGLE", f"{zen:.12g}", unit="deg")
        sub_element(mean, "AZIMUTH_ANGLE", f"{az:.12g}", unit="deg")
        means = []
        for band_id, band in enumerate(L1C_BANDS):
            per = m.view.get(band, {})
            for det in sorted(per):
                el = sub_element(angles, "Viewing_Incidence_Angles_Grids", bandId=band_id, detectorId=det)
                _angle_block(el, per[det])
            means.append((band_id, _mean_of(per)))
        ml = sub_element(angles, "Mean_Viewing_Incidence_Angle_List")
        for band_id, mv in means:
            if mv is None:
                continue
            el = sub_element(ml, "Mean_Viewing_Incidence_Angle", bandId=band_id)
            sub_element(el, "ZENITH_ANGLE", f"{mv[0]:.12g}", unit="deg")
            sub_element(el, "AZIMUTH_ANGLE", f"{mv[1]:.12g}", unit="deg")
        qi = sub_element(root, "n1:Quality_Indicators_Info", metadataLevel="Standard")
        ic = sub_element(qi, "Image_Content_QI")
        sub_element(ic, "CLOUDY_PIXEL_PERCENTAGE", f"{self.cloud_percent or 0.0:.6g}")
        sub_element(ic, "DEGRADED_MSI_DATA_PERCENTAGE", "0")
        sub_element(ic, "SNOW_PIXEL_PERCENTAGE", f"{self.snow_percent or 0.0:.6g}")
        _write_xml(self._tmp / "GRANULE" / self.granule / "MTD_TL.xml", root)

    def _write_product_metadata(self, files) -> None:
        m = self.meta
        root = ET.Element("n1:Level-1C_User_Product", {"xmlns:n1": _NS})
        gi = sub_element(root, "n1:General_Info")
        pi = sub_element(gi, "Product_Info")
        sub_element(pi, "PRODUCT_START_TIME", _iso(m.datatake_start))
        sub_element(pi, "PRODUCT_STOP_TIME", _iso(m.sensing_time))
        sub_element(pi, "PRODUCT_URI", self.name)
        sub_element(pi, "PROCESSING_LEVEL", "Level-1C")
        sub_element(pi, "PRODUCT_TYPE", "S2MSI1C")
        sub_element(pi, "PROCESSING_BASELINE", m.processing_baseline)
        sub_element(pi, "PRODUCT_DOI", "Not applicable (simulated product)")
        sub_element(pi, "GENERATION_TIME", _iso(m.generation_time, 6))
        dtk = sub_element(pi, "Datatake", datatakeIdentifier=f"G{m.platform}_{m.datatake_start:%Y%m%dT%H%M%S}_"
                                                      f"{m.absolute_orbit:06d}_N{m.processing_baseline}")
        sub_element(dtk, "SPACECRAFT_NAME", f"Sentinel-{m.platform[1:]}")
        sub_element(dtk, "DATATAKE_TYPE", "INS-NOBS")
        sub_element(dtk, "DATATAKE_SENSING_START", _iso(m.datatake_start))
        sub_element(dtk, "SENSING_ORBIT_NUMBER", m.relative_orbit)
        sub_element(dtk, "SENSING_ORBIT_DIRECTION", "DESCENDING")
        qo = sub_element(pi, "Query_Options", completeSingleTile="true")
        sub_element(qo, "PRODUCT_FORMAT", "SAFE_COMPACT")
        org = sub_element(pi, "Product_Organisation")
        gl = sub_element(org, "Granule_List")
        gr = sub_element(gl, "Granule", datastripIdentifier=self._datastrip_id,
                  granuleIdentifier=f"{m.platform}_OPER_MSI_L1C_TL_SIMU_{m.generation_time:%Y%m%dT%H%M%S}_"
                                    f"A{m.absolute_orbit:06d}_{m.tile}_N{m.processing_baseline}",
                  imageFormat="JPEG2000")
        for _, rel in files:
            sub_element(gr, "IMAGE_FILE", rel.removesuffix(".jp2"))
        ic = sub_element(gi, "Product_Image_Characteristics")
        for text, index in (("NODATA", NODATA_DN), ("SATURATED", SATURATED_DN)):
            sv = sub_element(ic, "Special_Values")
            sub_element(sv, "SPECIAL_VALUE_TEXT", text)
            sub_element(sv, "SPECIAL_VALUE_INDEX", index)
        order = sub_element(ic, "Image_Display_Order")
        for color, idx in (("RED_CHANNEL", 3), ("GREEN_CHANNEL", 2), ("BLUE_CHANNEL", 1)):
            sub_element(order, color, idx)
        sub_element(ic, "QUANTIFICATION_VALUE", QUANTIFICATION, unit="none")
        offsets = sub_element(ic, "Radiometric_Offset_List")
        for band_id in range(len(L1C_BANDS)):
            sub_element(offsets, "RADIO_ADD_OFFSET", RADIO_ADD_OFFSET, band_id=band_id)
        rc = sub_element(ic, "Reflectance_Conversion")
        sub_element(rc, "U", f"{_earth_sun_u(m.sensing_time.date()):.15g}")
        sil = sub_element(rc, "Solar_Irradiance_List")
        for band_id, e0 in enumerate(_SOLAR.get(m.platform, _SOLAR["S2A"])):
            sub_element(sil, "SOLAR_IRRADIANCE", e0, bandId=band_id, unit="W/m²/µm")
        spl = sub_element(ic, "Spectral_Information_List")
        for band_id, band in enumerate(L1C_BANDS):
            si = sub_element(spl, "Spectral_Information", bandId=band_id, physicalBand=band)
            sub_element(si, "RESOLUTION", _RES[band])
            wl = sub_element(si, "Wavelength")
            lo, hi, centre = _WAVELENGTH[band]
            sub_element(wl, "MIN", lo, unit="nm")
            sub_element(wl, "MAX", hi, unit="nm")
            sub_element(wl, "CENTRAL", centre, unit="nm")
        geo = sub_element(root, "n1:Geometric_Info")
        pf = sub_element(sub_element(geo, "Product_Footprint"), "Product_Footprint")
        corners = list(m.footprint_lonlat) + list(m.footprint_lonlat[:1])
        sub_element(sub_element(pf, "Global_Footprint"), "EXT_POS_LIST", " ".join(f"{lat:.12g} {lon:.12g}" for lon, lat in corners))
        crs = sub_element(geo, "Coordinate_Reference_System")
        sub_element(crs, "GEO_TABLES", "EPSG", version="1")
        sub_element(crs, "HORIZONTAL_CS_TYPE", "GEOGRAPHIC")
        qi = sub_element(root, "n1:Quality_Indicators_Info")
        sub_element(qi, "Cloud_Coverage_Assessment", f"{self.cloud_percent or 0.0:.6g}")
        sub_element(qi, "Snow_Coverage_Assessment", f"{self.snow_percent or 0.0:.6g}")
        _write_xml(self._tmp / "MTD_MSIL1C.xml", root)

    def _write_datastrip(self) -> None:
        m = self.meta
        folder = self._tmp / "DATASTRIP" / f"DS_SIMU_{m.generation_time:%Y%m%dT%H%M%S}_S{m.sensing_time:%Y%m%dT%H%M%S}"
        (folder / "QI_DATA").mkdir(parents=True)
        root = ET.Element("Level-1C_DataStrip_ID")
        gi = sub_element(root, "General_Info")
        sub_element(gi, "DATASTRIP_ID", self._datastrip_id)
        sub_element(gi, "SPACECRAFT_NAME", f"Sentinel-{m.platform[1:]}")
        sub_element(gi, "DATATAKE_SENSING_START", _iso(m.datatake_start))
        sub_element(gi, "SENSING_ORBIT_NUMBER", m.relative_orbit)
        sub_element(gi, "DOWNLINK_ORBIT_NUMBER", m.absolute_orbit)
        for key, value in sorted(m.extra.items()):
            sub_element(gi, "SIMULATION_PARAMETER", value, name=key)
        _write_xml(folder / "MTD_DS.xml", root)

    def _write_manifest(self, files) -> None:
        # prefixed tag names and explicit xmlns attributes: ET.register_namespace is global state, not thread-safe
        root = ET.Element("xfdu:XFDU", {"xmlns:xfdu": "urn:ccsds:schema:xfdu:1",
                                        "version": "esa/safe/sentinel/1.1/sentinel-2/msi/archive_l1c_user_product"})
        dos = sub_element(root, "dataObjectSection")
        rels = ["MTD_MSIL1C.xml", f"GRANULE/{self.granule}/MTD_TL.xml"] + [rel for _, rel in files]
        for i, rel in enumerate(rels):
            do = sub_element(dos, "dataObject", ID=f"DataObject_{i}")
            bo = sub_element(do, "byteStream", mimeType="application/octet-stream",
                      size=os.path.getsize(self._tmp / rel))
            sub_element(bo, "fileLocation", locatorType="URL", href=f"./{rel}")
        _write_xml(self._tmp / "manifest.safe", root)


def _mean_of(per_detector: Mapping[int, AngleGrid]) -> tuple[float, float] | None:
    """Mean (zenith, azimuth) of a band over all its detectors' known nodes."""
    if not per_detector:
        return None
    zen = np.concatenate([g.zenith[np.isfinite(g.zenith)] for g in per_detector.values()])
    az = np.concatenate([g.azimuth[np.isfinite(g.azimuth)] for g in per_detector.values()])
    if zen.size == 0:
        return None
    a = np.deg2rad(az)
    return float(zen.mean()), float(np.rad2deg(np.arctan2(np.sin(a).mean(), np.cos(a).mean())) % 360.0)
