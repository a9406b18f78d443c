"""SDMX-ML 2.1 structure messages.

References are ``<Ref>`` elements (id, agencyID, version, package, class; items also name their
maintainable parent); stubs carry ``isExternalReference="true"`` and ``structureURL``; a partial item
scheme carries ``isPartial="true"``. Containers follow ``app.formats.sdmxml.CONTAINERS_21``.
"""

from typing import ClassVar

from lxml import etree
from sdmx.model import common

from app.formats.media import MediaType
from app.formats.sdmxml import CONTAINERS_21, NS21
from app.model.structure import Shaped, StructureResponse
from app.writers.structure import _common as c
from app.writers.structure import register
from app.writers.structure._ml import MLWriter

# sdmx1 class names by SDMX-ML 2.1 element name, for the containers table.
_CLASS_BY_TAG = {k.cls21: name for name, k in c.KINDS.items()}


def _containers() -> tuple[tuple[str, tuple[str, ...]], ...]:
    result: list[tuple[str, list[str]]] = []
    for container, tag, _ in CONTAINERS_21:
        name = _CLASS_BY_TAG.get(tag)
        if name is None:
            continue
        if result and result[-1][0] == container:
            result[-1][1].append(name)
        else:
            result.append((container, [name]))
    return tuple((container, tuple(names)) for container, names in result)


_USAGE = {"mandatory": "Mandatory", "conditional": "Conditional"}


class ML21Writer(MLWriter):
    NS: ClassVar = NS21
    V30: ClassVar = False
    CONTAINERS: ClassVar = _containers()

    def maintainable_attributes(self, shaped: Shaped) -> dict[str, object]:
        attrib = super().maintainable_attributes(shaped)
        if not shaped.stub or shaped.complete:
            attrib["isFinal"] = bool(shaped.artefact.is_final)
        if type(shaped.artefact).__name__ == "ContentConstraint":
            attrib["type"] = c.constraint_role(shaped.artefact)
        return attrib

    # -- references -----------------------------------------------------------------------------

    def ref(self, parent: etree._Element, name: str, obj: object, **kw: object) -> None:
        elem = self.sub(parent, name)
        if isinstance(obj, common.MaintainableArtefact):
            k = c.kind(obj)
            etree.SubElement(
                elem,
                "Ref",
                id=obj.id,
                agencyID=c.agency_id(obj),
                version=c.version(obj),
                package=k.package,
                attrib={"class": k.cls21},
            )
            return
        package, cls = c.ITEM_KINDS[type(obj).__name__]
        scheme = c.scheme_of(obj)  # type: ignore[arg-type]
        etree.SubElement(
            elem,
            "Ref",
            id=c.item_path(obj),  # type: ignore[arg-type]
            maintainableParentID=scheme.id,
            maintainableParentVersion=c.version(scheme),
            agencyID=c.agency_id(scheme),
            package=package,
            attrib={"class": cls},
        )

    def local_ref(self, parent: etree._Element, name: str, id_: str) -> None:
        etree.SubElement(self.sub(parent, name), "Ref", id=id_)

    def parent_ref(self, elem: etree._Element, parent_id: str) -> None:
        self.local_ref(elem, "str:Parent", parent_id)

    # -- data structure -------------------------------------------------------------------------

    def data_structure(self, elem: etree._Element, shaped: Shaped) -> None:
        dsd = shaped.artefact
        comps = self.sub(elem, "str:DataStructureComponents")
        dims = self.sub(comps, "str:DimensionList", id="DimensionDescriptor")
        for n, dim in enumerate(dsd.dimensions.components, start=1):
            self.dimension(dims, dim, n)
        for group in dsd.group_dimensions.values():
            g = self.sub(comps, "str:Group", id=group.id)
            self.annotations(g, group)
            for dim in group.components:
                gd = self.sub(g, "str:GroupDimension")
                self.local_ref(gd, "str:DimensionReference", dim.id)
        if len(dsd.attributes.components):
            attrs = self.sub(comps, "str:AttributeList", id="AttributeDescriptor")
            for attr in dsd.attributes.components:
                self.attribute(attrs, attr, dsd)
        measures = self.sub(comps, "str:MeasureList", id="MeasureDescriptor")
        for measure in dsd.measures.components[:1]:
            m = self.sub(measures, "str:PrimaryMeasure", id=measure.id)
            self.component(m, measure)

    def dimension(self, parent: etree._Element, dim, position: int) -> None:
        name = type(dim).__name__
        tag = name if name in ("TimeDimension", "MeasureDimension") else "Dimension"
        elem = self.sub(parent, f"str:{tag}", id=dim.id, position=dim.order or position)
        self.component(elem, dim)

    def component(self, elem: etree._Element, comp) -> None:
        self.annotations(elem, comp)
        if comp.concept_identity is not None:
            self.ref(elem, "str:ConceptIdentity", comp.concept_identity)
        self.representation(elem, "str:LocalRepresentation", comp.local_representation)

    def attribute(self, parent: etree._Element, attr, dsd) -> None:
        status = getattr(attr.usage_status, "name", "conditional")
        elem = self.sub(
            parent, "str:Attribute", id=attr.id, assignmentStatus=_USAGE.get(status, "Conditional")
        )
        self.component(elem, attr)
        rel = self.sub(elem, "str:AttributeRelationship")
        related = attr.related_to
        dims = getattr(related, "dimensions", None)
        group = getattr(related, "group_key", None)
        if dims:
            for dim in dims:
                self.local_ref(rel, "str:Dimension", dim.id)
            if group is not None:
                self.local_ref(rel, "str:AttachmentGroup", group.id)
        elif group is not None:
            self.local_ref(rel, "str:Group", group.id)
        elif type(related).__name__ in ("PrimaryMeasureRelationship", "ObservationRelationship"):
            measures = dsd.measures.components
            self.local_ref(rel, "str:PrimaryMeasure", measures[0].id if measures else "OBS_VALUE")
        else:
            self.sub(rel, "str:None")

    # -- constraints and agreements -------------------------------------------------------------

    def content_constraint(self, elem: etree._Element, shaped: Shaped) -> None:
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
                    kv = self.sub(k, "com:KeyValue", id=dim.id)
                    self.sub(kv, "com:Value", value.value)
        for region in obj.data_content_region:
            cr = self.sub(elem, "str:CubeRegion", include=c.is_included(region.included))
            for comp, selection in region.member.items():
                tag = "com:Attribute" if isinstance(comp, common.DataAttribute) else "com:KeyValue"
                ms = self.sub(cr, tag, id=comp.id)
                for value in selection.values:
                    if hasattr(value, "value"):
                        self.sub(ms, "com:Value", value.value)

    def provision_agreement(self, elem: etree._Element, shaped: Shaped) -> None:
        obj = shaped.artefact
        if obj.structure_usage is not None:
            self.ref(elem, "str:StructureUsage", obj.structure_usage)
        if obj.data_provider is not None:
            self.ref(elem, "str:DataProvider", obj.data_provider)

    BODIES: ClassVar = {
        "DataflowDefinition": MLWriter.dataflow,
        "Categorisation": MLWriter.categorisation,
        "DataStructureDefinition": data_structure,
        "ContentConstraint": content_constraint,
        "ProvisionAgreement": provision_agreement,
    }


@register(MediaType.STRUCTURE_ML_21)
def write(response: StructureResponse) -> bytes:
    """The SDMX-ML 2.1 structure message for ``response``."""
    return ML21Writer(response).write()
