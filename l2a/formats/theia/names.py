"""Names in Theia/MUSCATE products: product identifiers, tile codes, and the file roles found by name.

A product identifier reads ``<SAT>_<YYYYMMDD>-<HHMMSS>-<mmm>_L2A_T<tile>_<C|D>_V<major>-<minor>``, e.g.
``SENTINEL2A_20170613-071216-460_L2A_T38KPD_D_V1-4`` (reference-l2a-formats.md section 3.1). Files inside the product
carry that identifier followed by a role: ``_FRE_B4.tif``, ``_FRE_STACK.tif`` (iota2 stacks), ``_CLM_R1.tif`` ...
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Iterable

from l2a.errors import InvalidParameterError
from l2a.sensors import L2A_BANDS, normalize_platform
from l2a.tiles import normalize_tile

__all__ = ["ProductName", "parse_product_name", "format_product_name",
           "TheiaFiles", "classify_members", "MASK_KINDS", "THEIA_PLATFORM_NAMES"]

#: Platform spelled as in Theia product names.
THEIA_PLATFORM_NAMES = {"S2A": "SENTINEL2A", "S2B": "SENTINEL2B", "S2C": "SENTINEL2C", "VENUS": "VENUS-XS"}
#: Mask rasters of a Theia L2A product (MASKS/ folder).
MASK_KINDS = ("CLM", "MG2", "EDG", "SAT")

_NAME_RE = re.compile(
    r"^(?P<sat>SENTINEL2[A-D]|VENUS(?:-XS)?)_(?P<date>\d{8})-(?P<time>\d{6})-(?P<ms>\d{3})_(?P<level>L[0-9][A-C])_"
    r"(?P<site>[A-Za-z0-9-]+?)_(?P<kind>[A-Z])(?:_V(?P<version>\d+-\d+))?$")
_BAND_RE = re.compile(r"^(?P<id>.+)_(?P<kind>FRE|SRE)_(?P<band>B\d{1,2}A?)\.tif$", re.IGNORECASE)
_STACK_RE = re.compile(r"^(?P<id>.+)_(?P<kind>FRE|SRE)_STACK\.tif$", re.IGNORECASE)
_MASK_RE = re.compile(r"^(?P<id>.+)_(?P<kind>CLM|MG2|EDG|SAT)_(?P<res>R[12])\.tif$", re.IGNORECASE)
_ATB_RE = re.compile(r"^(?P<id>.+)_ATB_(?P<res>R[12])\.tif$", re.IGNORECASE)
_MTD_RE = re.compile(r"^(?P<id>.+)_MTD_ALL\.xml$", re.IGNORECASE)


@dataclass(frozen=True)
class ProductName:
    """Fields of a Theia product identifier.

    Attributes
    ----------
    product_id : str
        The identifier as given.
    platform : str
        Canonical platform (``S2A`` ... ``VENUS``).
    datetime : datetime.datetime
        Acquisition time, UTC, millisecond precision.
    level : str
        ``L2A`` (``L3A`` for syntheses).
    tile : str
        Tile with its ``T`` (``T38KPD``), or the VENuS site name.
    kind : str
        ``C`` or ``D`` (meaning not documented, see reference notes).
    version : str or None
        ``1-4`` for ``_V1-4``.
    """

    product_id: str
    platform: str
    datetime: dt.datetime
    level: str
    tile: str
    kind: str
    version: str | None


def parse_product_name(name: str) -> ProductName | None:
    """Parse a Theia product identifier (folder or archive name, ``.zip`` allowed); None if it is not one."""
    base = name[:-4] if name.lower().endswith(".zip") else name
    m = _NAME_RE.match(base)
    if not m:
        return None
    try:
        when = dt.datetime.strptime(m["date"] + m["time"], "%Y%m%d%H%M%S").replace(
            microsecond=int(m["ms"]) * 1000, tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    sat = m["sat"].split("-")[0]
    return ProductName(base, normalize_platform(sat), when, m["level"], normalize_tile(m["site"]), m["kind"],
                       m["version"])


def format_product_name(platform: str, when: dt.datetime, tile: str, *, level: str = "L2A", kind: str = "C",
                        version: str = "1-0") -> str:
    """Build a Theia product identifier.

    Parameters
    ----------
    platform : str
        Any spelling accepted by :func:`l2a.sensors.normalize_platform`.
    when : datetime.datetime
        Acquisition time; naive times are taken as UTC. Milliseconds are truncated, never rounded up.
    tile : str
        MGRS tile (``T`` optional) or site name.
    version : str
        ``major-minor`` (``"1.0"`` accepted).

    Returns
    -------
    str
        e.g. ``SENTINEL2A_20180715-105302-456_L2A_T31TCJ_C_V1-0``.
    """
    version = version.replace(".", "-")
    if not re.fullmatch(r"\d+-\d+", version):
        raise InvalidParameterError(f"product version must look like 1-0, not {version!r}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    when = when.astimezone(dt.timezone.utc)
    sat = THEIA_PLATFORM_NAMES[normalize_platform(platform)]
    stamp = f"{when:%Y%m%d-%H%M%S}-{when.microsecond // 1000:03d}"
    return f"{sat}_{stamp}_{level}_{normalize_tile(tile)}_{kind}_V{version}"


@dataclass
class TheiaFiles:
    """Files of one Theia product, by role, as paths relative to the product root.

    Attributes
    ----------
    bands : dict
        ``"FRE"``/``"SRE"`` -> {band name -> member}.
    stacks : dict
        ``"FRE"``/``"SRE"`` -> member of the multi-band stack (iota2).
    masks : dict
        (kind, res) -> member, kind in :data:`MASK_KINDS`, res ``R1``/``R2``.
    atb : dict
        res -> member.
    mtd : str or None
        MTD_ALL.xml member.
    file_id : str or None
        Identifier prefixed to the file names (the product id when the files were not renamed).
    """

    bands: dict = field(default_factory=lambda: {"FRE": {}, "SRE": {}})
    stacks: dict = field(default_factory=dict)
    masks: dict = field(default_factory=dict)
    atb: dict = field(default_factory=dict)
    mtd: str | None = None
    file_id: str | None = None


def classify_members(members: Iterable[str]) -> TheiaFiles:
    """Sort the members of a product (relative POSIX paths) into roles by their names.

    Only files at the product root and in ``MASKS/`` count (``DATA/`` holds private files). When two files claim
    one role, the first in sorted order wins.
    """
    files = TheiaFiles()
    for member in sorted(members):
        folder, _, base = member.rpartition("/")
        if folder not in ("", "MASKS"):
            continue
        if m := _BAND_RE.match(base):
            band = m["band"].upper()
            if band in L2A_BANDS:
                files.bands[m["kind"].upper()].setdefault(band, member)
        elif m := _STACK_RE.match(base):
            files.stacks.setdefault(m["kind"].upper(), member)
        elif m := _MASK_RE.match(base):
            files.masks.setdefault((m["kind"].upper(), m["res"].upper()), member)
        elif m := _ATB_RE.match(base):
            files.atb.setdefault(m["res"].upper(), member)
        elif m := _MTD_RE.match(base):
            files.mtd = files.mtd or member
        else:
            continue
        files.file_id = files.file_id or m["id"]
    return files
