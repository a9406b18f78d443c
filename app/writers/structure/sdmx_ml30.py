"""SDMX-ML 3.0 structure messages, kept close to the official samples (sdmx-twg/sdmx-ml).

What changes from 2.1: references are URNs in element text; containers are in alphabetical order;
there is no ``isFinal`` (a final version has no ``-draft`` suffix); the measure is ``str:Measure`` in
``str:MeasureList``; attribute relationships are ``Dataflow`` (2.1 ``None``), ``Dimension`` ids,
``Group`` or ``Observation`` (2.1 ``PrimaryMeasure``); a content constraint is a ``DataConstraint``
with a ``role``; a provision agreement names its ``Dataflow`` and ``DataProvider`` by URN.

No ``str:MeasureRelationship`` is written: with one measure it says nothing, and sdmx1 (2.28) raises
NotImplementedError on it. A 2.1 ``MeasureDimension`` has no 3.0 equivalent; it is written as a plain
``Dimension`` without the concept-scheme enumeration (which 3.0 dimensions cannot carry).
"""

from typing import ClassVar

from lxml import etree
from sdmx.model import common

from app.formats.media import MediaType
from app.formats.sdmxml import NS30
from app.model.structure import Shaped, StructureResponse
from app.writers.structure import _common as c
from app.writers.structure import register
from app.writers.structure._ml import MLWriter

# mes:Structures children in XSD order (alphabetical), with the sdmx1 classes each holds.
CONTAINERS_30: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AgencySchemes", ("AgencyScheme",)),
    ("Categorisations", ("Categorisation",)),
    ("CategorySchemes", ("CategoryScheme",)),
    ("Codelists", ("Codelist",)),
    ("ConceptSchemes", ("ConceptScheme",)),
    ("DataConstraints", ("ContentConstraint",)),
    ("DataConsumerSchemes", ("DataConsumerScheme",)),
    ("Dataflows", ("DataflowDefinition",)),
    ("DataProviderSchemes", ("DataProviderScheme",)),
    ("DataStructures", ("DataStructureDefinition",)),
    ("ProvisionAgreements", ("ProvisionAgreement",)),
)


class ML30Writer(MLWriter):
    NS: ClassVar = NS30
    V30: ClassVar = True
    CONTAINERS: ClassVar = CONTAINERS_30

    def ref(self, parent: etree._Element, name: str, obj: object, **kw: object) -> None:
        self.sub(parent, name, c.urn(obj, v30=True))

    def parent_ref(self, elem: etree._Element, parent_id: str) -> None:
        self.sub(elem, "str:Parent", parent_id)

    def enumeration_allowed(self, name: str, enumerated: object) -> bool:
        # Components and concepts are enumerated by codelists (or value lists) only.
        return isinstance(enumerated, common.Codelist)

    def maintainable_attributes(self, shaped: Shaped) -> dict[str, object]:
        attrib = super().maintainable_attributes(shaped)
        if isinstance(shaped.artefact, common.OrganisationScheme):
            del attrib["version"]  # fixed at 1.0 in 3.0: MaintainableWithoutVersionType
        if type(shaped.artefact).__name__ == "ContentConstraint":
            attrib["role"] = c.constraint_role(shaped.artefact)
        return attrib

    # -- data structure -------------------------------------------------------------------------

    def data_structure(self, elem: etree._Element, shaped: Shaped) -> None:
        dsd = shaped.artefact
        comps = self.sub(elem, "str:DataStructureComponents")
        dims = self.sub(comps, "str:DimensionList", id="DimensionDescriptor")
        dimensions = list(dsd.dimensions.components)
        plain = [d for d in dimensions if not isinstance(d, common.TimeDimension)]
        for n, dim in enumerate(plain, start=1):
            d = self.sub(dims, "str:Dimension", id=dim.id, position=n)
            self.component(d, dim, "Dimension")
        for dim in dimensions:
            if isinstance(dim, common.TimeDimension):
                self.component(self.sub(dims, "str:TimeDimension", id=dim.id), dim, "TimeDimension")
        for group in dsd.group_dimensions.values():
            g = self.sub(comps, "str:Group", id=group.id)
            self.annotations(g, group)
            for dim in group.components:
                self.sub(self.sub(g, "str:GroupDimension"), "str:DimensionReference", dim.id)
        if len(dsd.attributes.components):
            attrs = self.sub(comps, "str:AttributeList", id="AttributeDescriptor")
            for attr in dsd.attributes.components:
                self.attribute(attrs, attr)
        if len(dsd.measures.components):
            measures = self.sub(comps, "str:MeasureList", id="MeasureDescriptor")
            for measure in dsd.measures.components:
                self.component(self.sub(measures, "str:Measure", id=measure.id), measure, "Measure")

    def component(self, elem: etree._Element, comp, cls: str) -> None:
        self.annotations(elem, comp)
        if comp.concept_identity is not None:
            self.ref(elem, "str:ConceptIdentity", comp.concept_identity)
        self.representation(elem, "str:LocalRepresentation", comp.local_representation)

    def attribute(self, parent: etree._Element, attr) -> None:
        status = getattr(attr.usage_status, "name", "conditional")
        usage = "mandatory" if status == "mandatory" else "optional"
        elem = self.sub(parent, "str:Attribute", id=attr.id, usage=usage)
        self.component(elem, attr, "DataAttribute")
        rel = self.sub(elem, "str:AttributeRelationship")
        related = attr.related_to
        dims = getattr(related, "dimensions", None)
        group = getattr(related, "group_key", None)
        if dims:
            for dim in dims:  # 3.0 has no attachment group beside dimensions
                self.sub(rel, "str:Dimension", dim.id)
        elif group is not None:
            self.sub(rel, "str:Group", group.id)
        elif type(related).__name__ in ("PrimaryMeasureRelationship", "ObservationRelationship"):
            self.sub(rel, "str:Observation")
        else:
            self.sub(rel, "str:Dataflow")

    # -- constraints and agreements -------------------------------------------------------------

    def data_constraint(self, elem: etree._Element, shaped: Shaped) -> None:
        obj = shaped.artefact
        attached = sorted(obj.content, key=lambda a: (type(a).__name__, a.id))
        if attached:
            att = self.sub(elem, "str:ConstraintAttachment")
            for target in attached:
                self.ref(att, f"str:{self.attachment_kind(target)}", target)
        keys = obj.data_content_keys
        if keys is not None and keys.keys:
            ks = self.sub(elem, "str:DataKeySet", isIncluded=c.is_included(keys.included))
            for key in keys.keys:
                k = self.sub(ks, "str:Key")
                for dim, value in key.key_value.items():
                    self.sub(self.sub(k, "str:KeyValue", id=dim.id), "str:Value", value.value)
        for region in obj.data_content_region:
            cr = self.sub(elem, "str:CubeRegion", include=c.is_included(region.included))
            for comp, selection in region.member.items():
                tag = "str:Component" if isinstance(comp, common.DataAttribute) else "str:KeyValue"
                ms = self.sub(cr, tag, id=comp.id)
                for value in selection.values:
                    if hasattr(value, "value"):
                        self.sub(ms, "str:Value", value.value)

    def provision_agreement(self, elem: etree._Element, shaped: Shaped) -> None:
        obj = shaped.artefact
        if obj.structure_usage is not None:
            self.ref(elem, "str:Dataflow", obj.structure_usage)
        if obj.data_provider is not None:
            self.ref(elem, "str:DataProvider", obj.data_provider)

    BODIES: ClassVar = {
        "DataflowDefinition": MLWriter.dataflow,
        "Categorisation": MLWriter.categorisation,
        "DataStructureDefinition": data_structure,
        "ContentConstraint": data_constraint,
        "ProvisionAgreement": provision_agreement,
    }


@register(MediaType.STRUCTURE_ML_30)
def write(response: StructureResponse) -> bytes:
    """The SDMX-ML 3.0 structure message for ``response``."""
    return ML30Writer(response).write()
