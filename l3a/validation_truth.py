"""What :mod:`l3a.validate` reads besides the L3A product: the synthesis' own record and the simulator's truth.

* :func:`synthesis_record`: the :class:`~l3a.params.CompositeParams` and the used inputs (product id and the path
  the synthesis read it from) of an L3A product, from its ``DATA/*_IPP_ALL.xml``;
* :func:`read_truth_index` and :func:`truth_acquisitions`: the simulator's ``truth/index.json`` (layout in
  :mod:`l2a.simulate.truth`), every value read checked for its JSON type (:class:`MetadataError` naming the file and
  the place in the document, never a ``KeyError``);
* :func:`locate_inputs`: the L2A products the synthesis used, to recompute its weights.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from l2a.errors import MetadataError, MissingFileError
from l2a.io.jsondoc import read_json
from l2a.io.xmldoc import parse_xml

from .params import CompositeParams
from .product import L3AProduct
from .weights import date_offset_days, date_weight

__all__ = ["TruthAcquisition", "UsedInput", "synthesis_record", "read_truth_index", "truth_acquisitions",
           "locate_inputs"]


@dataclass(frozen=True)
class UsedInput:
    """One input the synthesis used, as its IPP_ALL.xml records it.

    Attributes
    ----------
    product_id : str
        The L2A product's id (its folder name for Theia products).
    path : str
        Where the synthesis read it (the ``INPUT`` element's text; may be empty or no longer exist).
    """

    product_id: str
    path: str


@dataclass(frozen=True)
class TruthAcquisition:
    """One used acquisition of the truth index.

    Attributes
    ----------
    product_id : str
        The simulated L2A product of this acquisition (index ``product``).
    when : datetime.datetime
        Acquisition time, UTC.
    relative_orbit : int
    files : dict of str -> Path
        Truth rasters by role (``REFL_R1``, ``NADIR_R1``, ``MASKS_R1``, ``ATMO_R2``, ...), absolute paths.
    date_weight : float
        W_date of this acquisition in the synthesis (0.5-1).
    """

    product_id: str
    when: dt.datetime
    relative_orbit: int
    files: dict
    date_weight: float


def synthesis_record(product: L3AProduct) -> tuple[CompositeParams, list[UsedInput]]:
    """Parameters and used inputs of a synthesis, from the product's ``DATA/*_IPP_ALL.xml``.

    Raises
    ------
    MissingFileError
        No IPP_ALL.xml.
    MetadataError
        No used input, or a parameter nested too deeply for the JSON parser (one line naming the file).
    """
    root = product.files.root   # the product folder, also for a product opened from its item file
    if not isinstance(root, Path):
        raise MissingFileError("IPP_ALL.xml (parameters and inputs of the synthesis) is not read from a remote item; "
                               "give the product folder", product.path)
    path = root / "DATA" / f"{product.name}_IPP_ALL.xml"
    if not path.exists():
        raise MissingFileError("IPP_ALL.xml (parameters and inputs of the synthesis) not found", path)
    root = parse_xml(path)
    values: dict[str, Any] = {}
    for el in root.iter("PARAMETER"):
        name, text = el.get("name"), (el.text or "")
        try:
            values[name] = json.loads(text)
        except ValueError:  # a plain string parameter
            values[name] = text
        except RecursionError:
            raise MetadataError(f"IPP_ALL.xml: parameter {name!r} is nested too deeply", path) from None
    used = [UsedInput(el.get("product_id"), (el.text or "").strip()) for el in root.iter("INPUT")
            if el.get("used", "True") == "True"]
    if not used or any(u.product_id is None for u in used):
        raise MetadataError("IPP_ALL.xml lists no used input product", path)
    return CompositeParams.from_dict(values), used


def read_truth_index(truth_dir: Path) -> tuple[Path, dict]:
    """The simulator's ``index.json`` in ``truth_dir``, read within :mod:`l2a.io.jsondoc`'s limits (size, depth)."""
    index_path = truth_dir / "index.json"
    if not index_path.exists():
        raise MissingFileError("truth index.json not found (a folder written by `l2a simulate`, or its truth/)",
                               index_path)
    index = read_json(index_path, "truth index")
    if not isinstance(index, dict):
        raise MetadataError(f"truth index is {_json_type(index)}, expected an object", index_path)
    return index_path, index


# JSON type names for messages, by the Python type json.loads gives
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "an integer", float: "a number",
               bool: "a boolean", type(None): "null"}


def _json_type(value) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _get(obj: dict, key: str, kind: type, where: str, source: Path, default=None):
    """``obj[key]`` checked to be a JSON value of ``kind`` (``dict``, ``list``, ``str`` or ``int``); ``default`` when
    absent and a default is given. ``where`` is the place of ``obj`` in the document (``tiles.T31TCJ``; ``""`` for
    the top level).

    Raises
    ------
    MetadataError
        One line naming ``source`` and where in the document the value is missing or of another type.
    """
    if key not in obj:
        if default is not None:
            return default
        raise MetadataError(f"truth index: {where or 'the document'} has no {key!r}", source)
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        at = f"{where}.{key}" if where else key
        raise MetadataError(f"truth index: {at} is {_json_type(value)}, expected {_JSON_TYPES[kind]}", source)
    return value


def _files(entry: dict, required: Sequence[str], truth_dir: Path, where: str, source: Path) -> dict[str, Path]:
    """The ``files`` of an acquisition or a month: name -> path under ``truth_dir``, with the ``required`` names."""
    files = _get(entry, "files", dict, where, source)
    for name, value in files.items():
        if not isinstance(value, str):
            raise MetadataError(f"truth index: {where}.files.{name} is {_json_type(value)}, expected a string",
                                source)
    for name in required:
        if name not in files:
            raise MetadataError(f"truth index: {where}.files has no {name!r}", source)
    return {k: truth_dir / v for k, v in files.items()}


def truth_acquisitions(truth_dir: Path, index_path: Path, index: dict, product: L3AProduct, params: CompositeParams,
                       used: Sequence[str]) -> tuple[list[TruthAcquisition], dict]:
    """The used acquisitions (in date order) and the monthly truth files of the product's tile and central date.

    Parameters
    ----------
    truth_dir, index_path, index
        The truth folder, its ``index.json`` and the parsed document (:func:`read_truth_index`).
    product : L3AProduct
    params : CompositeParams
        The synthesis' parameters (for W_date).
    used : sequence of str
        Product ids of the used inputs.

    Returns
    -------
    (list of TruthAcquisition, dict of str -> Path)
        Acquisitions sorted by time then product id; monthly truth files by role (``REFL_R1``, ...).

    Raises
    ------
    MetadataError
        A value missing or of another JSON type (one line naming the file and the place), an input of the synthesis
        not in this truth, or no monthly truth for the central date.
    """
    tile = _get(index, "tiles", dict, "", index_path, default={}).get(product.tile)
    if tile is None:
        raise MetadataError(f"the truth has no tile {product.tile}", index_path)
    where = f"tiles.{product.tile}"
    if not isinstance(tile, dict):
        raise MetadataError(f"truth index: {where} is {_json_type(tile)}, expected an object", index_path)
    entries = _get(tile, "acquisitions", list, where, index_path)
    by_product = {}
    for k, a in enumerate(entries):
        if not isinstance(a, dict):
            raise MetadataError(f"truth index: {where}.acquisitions[{k}] is {_json_type(a)}, expected an object",
                                index_path)
        by_product[_get(a, "product", str, f"{where}.acquisitions[{k}]", index_path)] = (k, a)
    for pid in used:
        if pid not in by_product:  # an L2A product made from the simulated L1C by `l2a process`: match the pass
            match = _same_pass(pid, entries)
            if match is not None:
                by_product[pid] = match
    missing = [p for p in used if p not in by_product]
    if missing:
        raise MetadataError(f"input {missing[0]} of the synthesis is not in this truth", index_path)
    required = [f"{kind}_{res}" for res in product.grids for kind in ("MASKS", "REFL")]
    dated = []
    for pid in used:
        k, a = by_product[pid]
        at = f"{where}.acquisitions[{k}]"
        text = _get(a, "datetime", str, at, index_path)
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise MetadataError(f"truth index: {at}.datetime {text[:40]!r} is not an ISO date and time",
                                index_path) from None
        dated.append((text, pid, when, _get(a, "relative_orbit", int, at, index_path),
                      _files(a, required, truth_dir, at, index_path)))
    acquisitions = []
    for _, pid, when, orbit, files in sorted(dated, key=lambda d: (d[0], d[1])):
        offset = date_offset_days(when, product.central_date)
        acquisitions.append(TruthAcquisition(pid, when, orbit, files, date_weight(offset, params)))
    central = f"{product.central_date:%Y-%m-%d}"
    month = None
    for k, m in enumerate(_get(tile, "monthly", list, where, index_path, default=[])):
        if not isinstance(m, dict):
            raise MetadataError(f"truth index: {where}.monthly[{k}] is {_json_type(m)}, expected an object",
                                index_path)
        if _get(m, "central_date", str, f"{where}.monthly[{k}]", index_path) == central:
            month = (k, m)
            break
    if month is None:
        raise MetadataError(f"the truth has no monthly reflectance for {product.central_date}", index_path)
    k, m = month
    return acquisitions, _files(m, [f"REFL_{res}" for res in product.grids], truth_dir, f"{where}.monthly[{k}]",
                                index_path)


def _same_pass(product_id: str, entries: list) -> tuple[int, dict] | None:
    """The truth acquisition of the same platform and time (within a second) as a Theia product name, if any."""
    from l2a.formats.theia.names import parse_product_name

    name = parse_product_name(product_id)
    if name is None:
        return None
    for k, a in enumerate(entries):
        try:
            when = dt.datetime.fromisoformat(str(a.get("datetime", "")).replace("Z", "+00:00"))
        except ValueError:
            continue
        if a.get("platform") == name.platform and abs((when - name.datetime).total_seconds()) < 1.0:
            return k, a
    return None


def locate_inputs(used: Sequence[UsedInput], simulation_dir: Path) -> tuple[list[Path] | None, str | None]:
    """The folders of the L2A products a synthesis used.

    Each is looked for first where the synthesis read it (the path in IPP_ALL.xml, if that folder or ``.zip`` still
    exists and is named after the product id), then in the simulation folder (the parent of ``truth/``) under its
    product id.

    Returns
    -------
    (list of Path, None) when every product is found, in the order of ``used``; (None, reason) otherwise.
    """
    found = []
    for u in used:
        recorded = Path(u.path) if u.path else None
        if recorded is not None and recorded.exists() and u.product_id in (recorded.name, recorded.stem):
            found.append(recorded)
        elif (simulation_dir / u.product_id).is_dir():
            found.append(simulation_dir / u.product_id)
        else:
            return None, (f"L2A product {u.product_id} not found (neither at the path IPP_ALL.xml records nor in "
                          f"{simulation_dir})")
    return found, None
