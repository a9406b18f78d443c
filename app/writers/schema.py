"""The XML Schema of a dataflow's SDMX-ML 2.1 structure-specific data (REST schema queries).

The SDMX 2.1 pattern (Section 3B, "structure specific schemas"): a schema whose target namespace
is the URN of the structure it is built for, followed by `:ObsLevelDim:` and the dimension at the
observation level, e.g. `urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=DSM:DF_X(1.0):
ObsLevelDim:TIME_PERIOD`. It derives, by restriction of the abstract types of
`SDMXDataStructureSpecific.xsd` (prefix `dsd`), a `DataSetType`, `SeriesType` and `ObsType` whose
XML attributes are the components (dimensions required, attributes optional), each typed by a
simple type: an enumeration of the codes the context allows for coded components, an XML Schema
type for the SDMX text types. Both SDMX schemas are imported by file name
(`SDMXCommon.xsd`, `SDMXDataStructureSpecific.xsd`): save the schema beside the official ones.

Groups are not declared (DSM's DSDs define none, and DSM stores none).
"""

from dataclasses import dataclass
from typing import Final

from lxml import etree

from app.model.dsd import CompiledFlow, Level

MEDIA_TYPE: Final = "application/vnd.sdmx.schema+xml;version=2.1"
XS: Final = "http://www.w3.org/2001/XMLSchema"
COMMON: Final = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
DSD: Final = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific"
URN: Final = "urn:sdmx:org.sdmx.infomodel."
_PACKAGES: Final = {
    "datastructure": "datastructure.DataStructure",
    "dataflow": "datastructure.Dataflow",
    "provisionagreement": "registry.ProvisionAgreement",
}
# SDMX text types -> XML Schema types (anything else: xs:string)
_TEXT_TYPES: Final = {
    "string": "xs:string",
    "alpha": "common:AlphaType",
    "alphanumeric": "common:AlphaNumericType",
    "numeric": "common:NumericType",
    "bigInteger": "xs:integer",
    "integer": "xs:int",
    "long": "xs:long",
    "short": "xs:short",
    "decimal": "xs:decimal",
    "float": "xs:float",
    "double": "xs:double",
    "boolean": "xs:boolean",
    "uri": "xs:anyURI",
    "count": "xs:integer",
    "inclusiveValueRange": "xs:decimal",
    "exclusiveValueRange": "xs:decimal",
    "incremental": "xs:decimal",
    "observationalTimePeriod": "common:ObservationalTimePeriodType",
    "standardTimePeriod": "common:StandardTimePeriodType",
    "basicTimePeriod": "common:BasicTimePeriodType",
    "gregorianTimePeriod": "common:GregorianTimePeriodType",
    "gregorianYear": "xs:gYear",
    "gregorianYearMonth": "xs:gYearMonth",
    "gregorianDay": "xs:date",
    "reportingTimePeriod": "common:ReportingTimePeriodType",
    "dateTime": "xs:dateTime",
    "timeRange": "common:TimeRangeType",
    "month": "xs:gMonth",
    "monthDay": "xs:gMonthDay",
    "day": "xs:gDay",
    "time": "xs:time",
    "duration": "xs:duration",
}
_NUMERIC: Final = {"xs:decimal", "xs:float", "xs:double", "xs:integer", "xs:int", "xs:long"}


@dataclass(frozen=True)
class SchemaRequest:
    """What to write the schema for: the compiled flow (its components' codes already cut to
    what the context allows), the context and the artefact that names the namespace."""

    flow: CompiledFlow
    context: str  # datastructure | dataflow | provisionagreement
    agency: str
    id: str
    version: str
    dimension_at_observation: str  # TIME_PERIOD, a dimension id, or AllDimensions


def namespace(request: SchemaRequest) -> str:
    package = _PACKAGES[request.context]
    return (
        f"{URN}{package}={request.agency}:{request.id}({request.version})"
        f":ObsLevelDim:{request.dimension_at_observation}"
    )


class _Builder:
    def __init__(self, request: SchemaRequest) -> None:
        self.request = request
        self.flow = request.flow
        target = namespace(request)
        self.root = etree.Element(
            f"{{{XS}}}schema",
            nsmap={None: target, "xs": XS, "common": COMMON, "dsd": DSD},
            targetNamespace=target,
            elementFormDefault="qualified",
            attributeFormDefault="unqualified",
        )
        for ns, location in ((COMMON, "SDMXCommon.xsd"), (DSD, "SDMXDataStructureSpecific.xsd")):
            self.el(self.root, "import", namespace=ns, schemaLocation=location)
        self.types: dict[str, str] = {}

    def el(self, parent: etree._Element, tag: str, **attrib: str) -> etree._Element:
        return etree.SubElement(parent, f"{{{XS}}}{tag}", attrib)

    # -- simple types --------------------------------------------------------------------------

    def type_of(self, component_id: str) -> str:
        """The simple type of a component's values, declared on first use."""
        if component_id in self.types:
            return self.types[component_id]
        component = self.flow.components[component_id]
        if component.codes is not None:
            name = f"{component_id}Type"
            simple = self.el(self.root, "simpleType", name=name)
            restriction = self.el(simple, "restriction", base="xs:string")
            for code in sorted(component.codes):
                self.el(restriction, "enumeration", value=code)
            result = name
        elif component.role == "time":
            result = "common:ObservationalTimePeriodType"
        else:
            base = _TEXT_TYPES.get(component.text_type or "", "xs:string")
            result = base
            if component.role == "measure" and base in _NUMERIC:
                result = self._with_nan(component_id, base)
        self.types[component_id] = result
        return result

    def _with_nan(self, component_id: str, base: str) -> str:
        """A numeric measure also takes NaN (SDMX's missing value)."""
        name = f"{component_id}Type"
        union = self.el(self.el(self.root, "simpleType", name=name), "union", memberTypes=base)
        nan = self.el(self.el(union, "simpleType"), "restriction", base="xs:string")
        self.el(nan, "enumeration", value="NaN")
        return name

    # -- complex types -------------------------------------------------------------------------

    def attribute(self, parent: etree._Element, component_id: str, required: bool) -> None:
        self.el(
            parent,
            "attribute",
            name=component_id,
            type=self.type_of(component_id),
            use="required" if required else "optional",
        )

    def restriction(self, name: str, base: str) -> tuple[etree._Element, etree._Element]:
        complex_type = self.el(self.root, "complexType", name=name)
        restriction = self.el(self.el(complex_type, "complexContent"), "restriction", base=base)
        sequence = self.el(restriction, "sequence")
        self.el(sequence, "element", ref="common:Annotations", minOccurs="0")
        return restriction, sequence

    def build(self) -> etree._Element:
        flow = self.flow
        time = flow.time_dimension or "TIME_PERIOD"
        at_obs = self.request.dimension_at_observation
        flat = at_obs == "AllDimensions"
        dimensions = [*flow.dimensions, time]
        obs_dims = dimensions if flat else [at_obs]
        series_dims = [] if flat else [d for d in dimensions if d != at_obs]
        series_attrs = flow.attributes_at(Level.SERIES)
        obs_attrs = flow.attributes_at(Level.OBSERVATION)

        data_set, sequence = self.restriction("DataSetType", "dsd:DataSetType")
        self.el(
            sequence,
            "element",
            name="DataProvider",
            type="common:DataProviderReferenceType",
            form="unqualified",
            minOccurs="0",
        )
        choice = self.el(sequence, "choice", minOccurs="0")
        self.el(
            choice,
            "element",
            name="Obs" if flat else "Series",
            type="ObsType" if flat else "SeriesType",
            form="unqualified",
            maxOccurs="unbounded",
        )
        for attribute in flow.attributes_at(Level.DATASET):
            self.attribute(data_set, attribute, False)

        if not flat:
            series, sequence = self.restriction("SeriesType", "dsd:SeriesType")
            self.el(
                sequence,
                "element",
                name="Obs",
                type="ObsType",
                form="unqualified",
                minOccurs="0",
                maxOccurs="unbounded",
            )
            if time not in series_dims:
                self.el(series, "attribute", name=time, use="prohibited")
            for dimension in series_dims:
                self.attribute(series, dimension, True)
            for attribute in series_attrs:
                self.attribute(series, attribute, False)

        obs, _ = self.restriction("ObsType", "dsd:ObsType")
        if time not in obs_dims:
            self.el(obs, "attribute", name=time, use="prohibited")
        for dimension in obs_dims:
            self.attribute(obs, dimension, True)
        self.attribute(obs, flow.measure, False)
        # Outside time series, a series-level attribute may vary with the observation dimension
        # (DSM does not record which dimensions it relates to): it may sit on Obs too.
        on_obs = series_attrs if at_obs != time else ()
        for attribute in (*on_obs, *obs_attrs):
            self.attribute(obs, attribute, False)
        return self.root


def write(request: SchemaRequest) -> bytes:
    """The XML Schema document (UTF-8 bytes) for `request`."""
    return etree.tostring(
        _Builder(request).build(), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
