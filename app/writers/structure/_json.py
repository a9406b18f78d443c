"""What SDMX-JSON 1.0 and 2.0 structure messages share.

Both are ``{"meta": {...}, "data": {"codelists": [...], ...}}`` with URN references and, for every
nameable thing, ``name`` (one language: the response language, else English, else any) beside
``names`` (all languages). One class holds the shared shape; ``sdmx_json10`` and ``sdmx_json20``
subclass it for the keys that differ (SDMX 2.1 vs 3.0 information model: ``primaryMeasure`` vs
``measures``, ``assignmentStatus`` vs ``usage``, ``textFormat``/``textType`` vs ``format``/``dataType``,
``contentConstraints``/``type`` vs ``dataConstraints``/``role``, ``structureUsage`` vs ``dataflow``).

Order of this file: message, maintainable, items, representations, artefact bodies.
"""

import contextlib
import json
from typing import Any, ClassVar

from sdmx.model import common

from app.model.structure import Shaped, StructureResponse
from app.writers.structure import _common as c
from app.writers.structure._ml import FACET_ATTRIBUTES

Obj = dict[str, Any]

# JSON key of each item list, by sdmx1 item scheme class name.
ITEM_KEYS = {
    "AgencyScheme": "agencies",
    "DataProviderScheme": "dataProviders",
    "DataConsumerScheme": "dataConsumers",
    "Codelist": "codes",
    "ConceptScheme": "concepts",
    "CategoryScheme": "categories",
}

_NUMERIC = {"interval", "startValue", "endValue", "minValue", "maxValue"}
_INTEGER = {"minLength", "maxLength", "decimals"}


def _number(value: object) -> object:
    try:
        number = float(str(value))
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


class JSONWriter:
    """Writes one structure message; subclasses set the keys that differ between versions."""

    SCHEMA: ClassVar[str]
    V30: ClassVar[bool]
    # (data key, sdmx1 class name) in the order of the schema's ``data`` properties.
    CONTAINERS: ClassVar[tuple[tuple[str, str], ...]]
    TEXT_FORMAT: ClassVar[str]  # "textFormat" (1.0) or "format" (2.0)
    TEXT_TYPE: ClassVar[str]  # "textType" (1.0) or "dataType" (2.0)

    def __init__(self, response: StructureResponse):
        self.response = response
        self.lang = response.lang

    # -- message --------------------------------------------------------------------------------

    def write(self) -> bytes:
        artefacts = list(self.response.artefacts)
        for shaped in artefacts:
            c.kind(shaped.artefact)  # unsupported types fail before any output
        data: Obj = {}
        for key, cls in self.CONTAINERS:
            chosen = [s for s in artefacts if type(s.artefact).__name__ == cls]
            if chosen:
                data[key] = [self.artefact(s) for s in chosen]
        message = {"meta": self.meta(), "data": data}
        return json.dumps(message, ensure_ascii=False).encode("utf-8")

    def meta(self) -> Obj:
        h = self.response.header
        languages = {self.lang}
        for shaped in self.response.artefacts:
            languages.update(c.texts(shaped.artefact.name))
        return {
            "schema": self.SCHEMA,
            "id": h.id,
            "test": False,
            "prepared": h.prepared.isoformat(),
            "contentLanguages": sorted(languages, key=lambda lang: lang != self.lang),
            "sender": {"id": h.sender},
        }

    # -- maintainable ---------------------------------------------------------------------------

    def artefact(self, shaped: Shaped) -> Obj:
        obj = shaped.artefact
        head = not shaped.stub or shaped.complete
        out: Obj = {"id": obj.id, "version": c.version(obj), "agencyID": c.agency_id(obj)}
        out.update(self.naming(obj, descriptions=head))
        out["isExternalReference"] = bool(shaped.stub)
        if head:
            out.update(self.maintainable_extras(shaped))
        links = [{"rel": "self", "urn": c.maintainable_urn(obj, self.V30)}]
        url = (
            c.structure_url(shaped, self.response.structure_url, self.V30) if shaped.stub else None
        )
        if url:
            links[0]["href"] = url
        out["links"] = links
        if head:
            out.update(self.annotations(obj))
        if c.writes_body(shaped):
            self.body(out, shaped)
        return out

    def maintainable_extras(self, shaped: Shaped) -> Obj:
        obj = shaped.artefact
        out: Obj = {}
        if obj.valid_from:
            out["validFrom"] = str(obj.valid_from)
        if obj.valid_to:
            out["validTo"] = str(obj.valid_to)
        return out

    def naming(self, obj: object, descriptions: bool = True) -> Obj:
        names = c.texts(obj.name) or {"en": obj.id}  # type: ignore[attr-defined]
        out: Obj = {"name": c.label(obj.name, self.lang) or obj.id, "names": names}  # type: ignore[attr-defined]
        if descriptions and (desc := c.texts(obj.description)):  # type: ignore[attr-defined]
            out["description"] = c.label(obj.description, self.lang)  # type: ignore[attr-defined]
            out["descriptions"] = desc
        return out

    def annotations(self, obj: object) -> Obj:
        result = []
        for a in getattr(obj, "annotations", None) or []:
            ann: Obj = {}
            for key, value in (("id", a.id), ("title", a.title), ("type", a.type)):
                if value:
                    ann[key] = value
            if a.url:
                ann["links"] = [{"href": a.url, "rel": "external"}]
            if texts := c.texts(a.text):
                ann["text"] = c.label(a.text, self.lang)
                ann["texts"] = texts
            result.append(ann)
        return {"annotations": result} if result else {}

    def body(self, out: Obj, shaped: Shaped) -> None:
        method = self.BODIES.get(type(shaped.artefact).__name__, "item_scheme")
        getattr(self, method)(out, shaped)

    BODIES: ClassVar[dict[str, str]] = {
        "DataflowDefinition": "dataflow",
        "Categorisation": "categorisation",
        "DataStructureDefinition": "data_structure",
        "ContentConstraint": "constraint",
        "ProvisionAgreement": "provision_agreement",
    }

    # -- items ----------------------------------------------------------------------------------

    def item_scheme(self, out: Obj, shaped: Shaped) -> None:
        if c.is_partial(shaped):
            out["isPartial"] = True
        kept = c.kept_items(shaped)
        nested = isinstance(shaped.artefact, common.CategoryScheme)
        items = c.roots(kept) if nested else kept
        if items:  # the schemas want no empty item lists
            out[ITEM_KEYS[type(shaped.artefact).__name__]] = [
                self.item(i, kept, nested) for i in items
            ]

    def item(self, item: common.Item, kept: list, nested: bool) -> Obj:
        out: Obj = {"id": item.id}
        out.update(self.naming(item))
        with contextlib.suppress(ValueError):
            out["links"] = [{"rel": "self", "urn": c.item_urn(item)}]
        out.update(self.annotations(item))
        if nested:
            if subs := c.children(item, kept):
                out["categories"] = [self.item(i, kept, nested) for i in subs]
            return out
        if (parent := c.parent_id(item, kept)) is not None:
            out["parent"] = parent
        if isinstance(item, common.Concept) and (
            rep := self.representation(item.core_representation)
        ):
            out["coreRepresentation"] = rep
        return out

    # -- representations ------------------------------------------------------------------------

    def urn(self, obj: object) -> str:
        return c.urn(obj, self.V30)

    def representation(
        self, rep: common.Representation | None, codelists_only: bool = False
    ) -> Obj:
        if rep is None:
            return {}
        enumerated = rep.enumerated
        if (
            enumerated is not None
            and codelists_only
            and not isinstance(enumerated, common.Codelist)
        ):
            enumerated = None
        if enumerated is not None:
            return {"enumeration": self.urn(enumerated)}
        if rep.non_enumerated:
            return {self.TEXT_FORMAT: self.text_format(rep.non_enumerated)}
        return {}

    def text_format(self, facets) -> Obj:
        out: Obj = {}
        for facet in facets:
            if facet.value_type is not None:
                vt = facet.value_type.name
                out[self.TEXT_TYPE] = vt[:1].upper() + vt[1:]
            for field, key in FACET_ATTRIBUTES.items():
                value = getattr(facet.type, field, None)
                if value is None:
                    continue
                if key in _NUMERIC or key in _INTEGER:
                    value = _number(value)
                out[key] = value
        return out

    # -- artefact bodies shared by both versions --------------------------------------------------

    def dataflow(self, out: Obj, shaped: Shaped) -> None:
        if shaped.artefact.structure is not None:
            out["structure"] = self.urn(shaped.artefact.structure)

    def categorisation(self, out: Obj, shaped: Shaped) -> None:
        obj = shaped.artefact
        if isinstance(obj.artefact, common.MaintainableArtefact):
            out["source"] = self.urn(obj.artefact)
        if obj.category is not None:
            out["target"] = self.urn(obj.category)

    def component(self, comp, codelists_only: bool = False) -> Obj:
        out: Obj = {"id": comp.id}
        out.update(self.annotations(comp))
        if comp.concept_identity is not None:
            out["conceptIdentity"] = self.urn(comp.concept_identity)
        if rep := self.representation(comp.local_representation, codelists_only):
            out["localRepresentation"] = rep
        return out

    def groups(self, dsd) -> list[Obj]:
        return [
            {"id": g.id, "groupDimensions": [d.id for d in g.components]}
            for g in dsd.group_dimensions.values()
        ]

    def attachment(self, constraint) -> Obj:
        out: dict[str, list[str]] = {}
        keys = {
            "DataflowDefinition": "dataflows",
            "DataStructureDefinition": "dataStructures",
            "ProvisionAgreement": "provisionAgreements",
        }
        for target in sorted(constraint.content, key=lambda a: (type(a).__name__, a.id)):
            key = keys.get(type(target).__name__)
            if key:
                out.setdefault(key, []).append(self.urn(target))
        return out

    def key_sets(self, constraint) -> list[Obj]:
        keys = constraint.data_content_keys
        if keys is None or not keys.keys:
            return []
        return [
            {
                "isIncluded": c.is_included(keys.included),
                "keys": [
                    {"keyValues": [{"id": d.id, "value": v.value} for d, v in k.key_value.items()]}
                    for k in keys.keys
                ],
            }
        ]

    def selections(self, region) -> tuple[list[Obj], list[Obj]]:
        """(key values, attribute values) of a cube region."""
        dims: list[Obj] = []
        attrs: list[Obj] = []
        for comp, selection in region.member.items():
            values = [v.value for v in selection.values if hasattr(v, "value")]
            target = attrs if isinstance(comp, common.DataAttribute) else dims
            target.append({"id": comp.id, "values": values})
        return dims, attrs
