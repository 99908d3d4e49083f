"""XML documents: every XML the toolkit reads is parsed here (defusedxml, one-line errors), and every document it
writes is built with :func:`sub_element`."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import defusedxml
import defusedxml.ElementTree as DET

from l2a.errors import MetadataError, MissingFileError, UnsafeXMLError

__all__ = ["parse_xml", "parse_xml_bytes", "strip_namespaces", "find_text", "find_float", "sub_element",
           "MAX_XML_BYTES"]

#: Largest metadata document accepted, bytes (real MTD_ALL.xml / MTD_TL.xml are < 5 MB).
MAX_XML_BYTES = 64 * 1024 * 1024


def parse_xml_bytes(data: bytes, source: str | os.PathLike) -> ET.Element:
    """Parse an XML document held in memory and return its root, namespaces stripped.

    Parameters
    ----------
    data : bytes
        The document.
    source : str or path-like
        Name used in error messages.

    Raises
    ------
    UnsafeXMLError
        If the document declares entities or references external resources (refused, never expanded).
    MetadataError
        If it is not well-formed.
    """
    if len(data) > MAX_XML_BYTES:
        raise MetadataError(f"XML document larger than {MAX_XML_BYTES} bytes", source)
    try:
        root = DET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden, defusedxml.DTDForbidden) as exc:
        raise UnsafeXMLError(f"XML refused: {type(exc).__name__} (entity declarations are not allowed)", source) from exc
    except ET.ParseError as exc:
        raise MetadataError(f"malformed XML: {exc}", source) from exc
    return strip_namespaces(root)


def parse_xml(path: str | os.PathLike) -> ET.Element:
    """Parse an XML file safely and return its root element, namespaces stripped (see :func:`parse_xml_bytes`)."""
    try:
        size = os.path.getsize(path)
        if size > MAX_XML_BYTES:
            raise MetadataError(f"XML document larger than {MAX_XML_BYTES} bytes", path)
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError as exc:
        raise MissingFileError("metadata file not found", path) from exc
    except IsADirectoryError as exc:
        raise MetadataError("expected an XML file, found a folder", path) from exc
    return parse_xml_bytes(data, path)


def strip_namespaces(root: ET.Element) -> ET.Element:
    """Remove ``{namespace}`` prefixes from every tag in place (ESA and Theia documents mix them freely)."""
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]
    return root


def find_text(root: ET.Element, path: str, source: str | os.PathLike | None = None, default: str | None = None,
              required: bool = False) -> str | None:
    """Text of the first element matching an ElementTree ``path`` (``.//TAG`` style), stripped.

    Raises :class:`MetadataError` naming ``source`` if ``required`` and the element is missing or empty.
    """
    el = root.find(path)
    if el is None or el.text is None or not el.text.strip():
        if required:
            raise MetadataError(f"missing field {path}", source)
        return default
    return el.text.strip()


def find_float(root: ET.Element, path: str, source: str | os.PathLike | None = None, default: float | None = None,
               required: bool = False) -> float | None:
    """Like :func:`find_text`, converted to float; a non-numeric value is a :class:`MetadataError`."""
    text = find_text(root, path, source, None, required)
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise MetadataError(f"field {path} is not a number: {text!r}", source) from None


def sub_element(parent: ET.Element, tag: str, text=None, **attrs) -> ET.Element:
    """Append a child element; ``text`` and attribute values are converted with ``str`` (None: no text)."""
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = str(text)
    return el
