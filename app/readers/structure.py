"""SDMX-ML 2.1 structure messages <-> the artefact elements they hold.

DSM keeps each maintainable artefact as its own SDMX-ML 2.1 element (the database is authoritative),
and builds a whole registry by merging elements back into one message, so that artefacts may refer
to artefacts of other files or earlier loads. This module is that split and that merge, at the XML
level; the information model comes from sdmx1 reading the merged message.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from app.errors import BadRequest
from app.formats.sdmxml import CONTAINERS_21, NS21, RESOURCE_BY_TAG_21

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
_MES = f"{{{NS21['mes']}}}"
_STR = f"{{{NS21['str']}}}"


@dataclass(frozen=True)
class ArtefactXml:
    """One maintainable artefact and its SDMX-ML 2.1 element, serialised with its namespaces."""

    resource: str
    agency: str
    id: str
    version: str
    is_final: bool
    xml: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.resource, self.agency, self.id, self.version)


def parse_xml(data: bytes) -> etree._Element:
    """Parse XML safely (no entities, no network); a syntax error is a 400 with its position."""
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise BadRequest(f"Malformed XML at line {line}, column {column}: {exc.msg}") from exc


def read_artefacts(data: bytes) -> list[ArtefactXml]:
    """The artefacts of an SDMX-ML 2.1 structure message, in document order."""
    root = parse_xml(data)
    if root.tag != f"{_MES}Structure":
        raise BadRequest(
            f"Expected an SDMX-ML 2.1 structure message (mes:Structure in namespace "
            f"{NS21['mes']}), found {root.tag!r}"
        )
    structures = root.find(f"{_MES}Structures")
    if structures is None:
        return []
    found = []
    for container in structures:
        for element in container:
            local = etree.QName(element).localname
            resource = RESOURCE_BY_TAG_21.get(local)
            if resource is None:
                raise BadRequest(f"Unknown structure element {local!r} in {container.tag!r}")
            found.append(_artefact(resource, element))
    return found


def _artefact(resource: str, element: etree._Element) -> ArtefactXml:
    try:
        agency, ident = element.attrib["agencyID"], element.attrib["id"]
    except KeyError as exc:
        raise BadRequest(f"{etree.QName(element).localname} without {exc.args[0]}") from exc
    return ArtefactXml(
        resource=resource,
        agency=agency,
        id=ident,
        version=element.get("version", "1.0"),
        is_final=element.get("isFinal", "false") == "true",
        xml=etree.tostring(element, encoding="unicode"),
    )


def merge(elements: Iterable[str], *, header_id: str = "DSM_REGISTRY") -> bytes:
    """One SDMX-ML 2.1 structure message holding `elements`, each in its container, in XSD order."""
    by_tag: dict[str, list[etree._Element]] = {}
    for text in elements:
        element = etree.fromstring(text, _PARSER)
        by_tag.setdefault(etree.QName(element).localname, []).append(element)
    root = etree.Element(f"{_MES}Structure", nsmap={k: NS21[k] for k in ("mes", "str", "com")})
    header = etree.SubElement(root, f"{_MES}Header")
    etree.SubElement(header, f"{_MES}ID").text = header_id
    etree.SubElement(header, f"{_MES}Test").text = "false"
    etree.SubElement(header, f"{_MES}Prepared").text = "2000-01-01T00:00:00"
    etree.SubElement(header, f"{_MES}Sender", id="DSM")
    structures = etree.SubElement(root, f"{_MES}Structures")
    containers: dict[str, etree._Element] = {}
    for container_tag, tag, _ in CONTAINERS_21:
        for element in by_tag.get(tag, ()):
            if container_tag not in containers:
                containers[container_tag] = etree.SubElement(structures, f"{_STR}{container_tag}")
            containers[container_tag].append(element)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
