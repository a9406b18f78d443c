"""What SDMX-ML 2.1 and 3.0 structure messages share, written once with lxml.

DSM writes SDMX-ML itself rather than through sdmx1's writer: sdmx1 has no 3.0 writer, and its 2.1
writer has no ProvisionAgreement, writes ``validTo`` from ``valid_from``, drops text-format facets other
than ``textType``, fails on some concept schemes and skips ``isExternalReference`` artefacts (stubs).
One class holds the shared shape (header, container order, maintainable attributes, names, annotations,
items, text formats); ``sdmx_ml21`` and ``sdmx_ml30`` subclass it for what differs (references as
``<Ref>`` or URNs, data structure components, constraints, provision agreements).

Order of this file: message, maintainable, items, representations, artefact bodies.
"""

import contextlib
from collections.abc import Callable
from typing import ClassVar

from lxml import etree
from sdmx.model import common

from app.model.structure import Shaped, StructureResponse
from app.writers.structure import _common as c

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# sdmx1 Facet.type field -> SDMX-ML TextFormat attribute
FACET_ATTRIBUTES = {
    "is_sequence": "isSequence",
    "interval": "interval",
    "start_value": "startValue",
    "end_value": "endValue",
    "time_interval": "timeInterval",
    "start_time": "startTime",
    "end_time": "endTime",
    "min_length": "minLength",
    "max_length": "maxLength",
    "min_value": "minValue",
    "max_value": "maxValue",
    "decimals": "decimals",
    "pattern": "pattern",
}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class MLWriter:
    """Writes one structure message; subclasses set the namespaces and the version differences."""

    NS: ClassVar[dict[str, str]]
    V30: ClassVar[bool]
    # (container tag, sdmx1 class names) in the order the message schema wants them.
    CONTAINERS: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]]

    def __init__(self, response: StructureResponse):
        self.response = response
        self.lang = response.lang
        self.nsmap = {k: v for k, v in self.NS.items() if k != "xml"}

    # -- message --------------------------------------------------------------------------------

    def q(self, name: str) -> str:
        """``"str:Code"`` -> Clark notation."""
        prefix, _, local = name.partition(":")
        return f"{{{self.NS[prefix]}}}{local}"

    def sub(self, parent: etree._Element, name: str, text: object = None, **attrib: object):
        elem = etree.SubElement(
            parent, self.q(name), {k: _text(v) for k, v in attrib.items() if v is not None}
        )
        if text is not None:
            elem.text = _text(text)
        return elem

    def write(self) -> bytes:
        root = etree.Element(self.q("mes:Structure"), nsmap=self.nsmap)
        self.header(root)
        structures = self.sub(root, "mes:Structures")
        artefacts = list(self.response.artefacts)
        for shaped in artefacts:
            c.kind(shaped.artefact)  # unsupported types fail before any output
        for container, classes in self.CONTAINERS:
            chosen = [s for s in artefacts if type(s.artefact).__name__ in classes]
            chosen.sort(key=lambda s: classes.index(type(s.artefact).__name__))
            if chosen:
                parent = self.sub(structures, f"str:{container}")
                for shaped in chosen:
                    self.artefact(parent, shaped)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def header(self, root: etree._Element) -> None:
        h = self.response.header
        header = self.sub(root, "mes:Header")
        self.sub(header, "mes:ID", h.id)
        self.sub(header, "mes:Test", "false")
        self.sub(header, "mes:Prepared", h.prepared.isoformat())
        self.sub(header, "mes:Sender", id=h.sender)

    # -- maintainable ---------------------------------------------------------------------------

    def tag(self, obj: object) -> str:
        k = c.kind(obj)
        return f"str:{k.cls30 if self.V30 else k.cls21}"

    def artefact(self, parent: etree._Element, shaped: Shaped) -> None:
        obj = shaped.artefact
        full = not shaped.stub
        attrib = self.maintainable_attributes(shaped)
        elem = self.sub(parent, self.tag(obj), **attrib)
        self.annotations(elem, obj, full or shaped.complete)
        self.names(elem, obj, descriptions=full or shaped.complete)
        if c.writes_body(shaped):
            self.body(elem, shaped)

    def maintainable_attributes(self, shaped: Shaped) -> dict[str, object]:
        obj = shaped.artefact
        full_header = not shaped.stub or shaped.complete
        attrib: dict[str, object] = {
            "id": obj.id,
            "urn": c.maintainable_urn(obj, self.V30),
            "agencyID": c.agency_id(obj),
            "version": c.version(obj),
        }
        if shaped.stub:
            attrib["isExternalReference"] = True
            attrib["structureURL"] = c.structure_url(shaped, self.response.structure_url, self.V30)
        else:
            attrib["isExternalReference"] = False
        if full_header:
            attrib["validFrom"] = obj.valid_from
            attrib["validTo"] = obj.valid_to
        if c.is_partial(shaped):
            attrib["isPartial"] = True
        return attrib

    def annotations(self, elem: etree._Element, obj: object, write: bool = True) -> None:
        notes = getattr(obj, "annotations", None) or []
        if not (write and notes):
            return
        parent = self.sub(elem, "com:Annotations")
        for a in notes:
            ann = self.sub(parent, "com:Annotation", id=a.id)
            if a.title:
                self.sub(ann, "com:AnnotationTitle", a.title)
            if a.type:
                self.sub(ann, "com:AnnotationType", a.type)
            if a.url:
                self.sub(ann, "com:AnnotationURL", a.url)
            for lang, text in c.languages(a.text, self.lang):
                self.sub(ann, "com:AnnotationText", text).set(XML_LANG, lang)

    def names(self, elem: etree._Element, obj: object, descriptions: bool = True) -> None:
        names = c.languages(obj.name, self.lang) or [("en", obj.id)]  # type: ignore[attr-defined]
        for lang, text in names:
            self.sub(elem, "com:Name", text).set(XML_LANG, lang)
        if descriptions:
            for lang, text in c.languages(obj.description, self.lang):  # type: ignore[attr-defined]
                self.sub(elem, "com:Description", text).set(XML_LANG, lang)

    def body(self, elem: etree._Element, shaped: Shaped) -> None:
        writer = self.BODIES.get(type(shaped.artefact).__name__)
        if writer is None:
            writer = MLWriter.item_scheme
        writer(self, elem, shaped)

    BODIES: ClassVar[dict[str, Callable[..., None]]] = {}

    # -- items ----------------------------------------------------------------------------------

    def item_scheme(self, elem: etree._Element, shaped: Shaped) -> None:
        kept = c.kept_items(shaped)
        nested = isinstance(shaped.artefact, common.CategoryScheme)
        for item in c.roots(kept) if nested else kept:
            self.item(elem, item, kept, nested)

    def item(self, parent: etree._Element, item: common.Item, kept, nested: bool) -> None:
        k = c.ITEM_KINDS[type(item).__name__]
        attrib: dict[str, object] = {"id": item.id}
        with contextlib.suppress(ValueError):
            attrib["urn"] = c.item_urn(item)
        elem = self.sub(parent, f"str:{k[1]}", **attrib)
        self.annotations(elem, item)
        self.names(elem, item)
        if nested:
            for child in c.children(item, kept):
                self.item(elem, child, kept, nested)
            return
        parent_id = c.parent_id(item, kept)
        if parent_id is not None:
            self.parent_ref(elem, parent_id)
        if isinstance(item, common.Concept) and item.core_representation:
            self.representation(elem, "str:CoreRepresentation", item.core_representation)

    def parent_ref(self, elem: etree._Element, parent_id: str) -> None:
        raise NotImplementedError

    # -- representations ------------------------------------------------------------------------

    def ref(self, parent: etree._Element, name: str, obj: object, **kw: object) -> None:
        """A reference to ``obj`` (``<Ref .../>`` in 2.1, a URN in 3.0)."""
        raise NotImplementedError

    def representation(
        self, parent: etree._Element, name: str, rep: common.Representation | None
    ) -> None:
        if rep is None:
            return
        enumerated = rep.enumerated
        if enumerated is not None and not self.enumeration_allowed(name, enumerated):
            enumerated = None
        if enumerated is None and not rep.non_enumerated:
            return
        elem = self.sub(parent, name)
        if enumerated is not None:
            self.ref(elem, "str:Enumeration", enumerated)
        else:
            self.text_format(elem, "str:TextFormat", rep.non_enumerated)

    def enumeration_allowed(self, name: str, enumerated: object) -> bool:
        return True

    def text_format(self, parent: etree._Element, name: str, facets) -> None:
        attrib: dict[str, object] = {}
        for facet in facets:
            if facet.value_type is not None:
                vt = facet.value_type.name
                attrib["textType"] = vt[:1].upper() + vt[1:]
            for field, xml_name in FACET_ATTRIBUTES.items():
                value = getattr(facet.type, field, None)
                if value is not None:
                    attrib[xml_name] = value
        self.sub(parent, name, **attrib)

    # -- artefact bodies shared by both versions --------------------------------------------------

    def dataflow(self, elem: etree._Element, shaped: Shaped) -> None:
        structure = shaped.artefact.structure
        if structure is not None:
            self.ref(elem, "str:Structure", structure)

    def categorisation(self, elem: etree._Element, shaped: Shaped) -> None:
        obj = shaped.artefact
        if isinstance(obj.artefact, common.MaintainableArtefact):
            self.ref(elem, "str:Source", obj.artefact)
        if obj.category is not None:
            self.ref(elem, "str:Target", obj.category)

    def dimensions(self, dsd) -> list:
        return list(dsd.dimensions.components)

    def attachment_kind(self, obj: object) -> str:
        """ConstraintAttachment child element for an attached object."""
        name = type(obj).__name__
        if isinstance(obj, common.MaintainableArtefact):
            return c.kind(obj).cls21
        return name
