"""SDMX-ML facts: namespaces, and how structure artefacts sit in a 2.1 structure message.

Facts only, as data; readers and writers import them (STYLE.md, "write format facts once").
"""

import re
from typing import Final

# text XML 1.0 cannot carry, even as a character reference: C0 controls but tab, LF and CR
# (NUL among them, which PostgreSQL cannot store either), and the non-characters U+FFFE, U+FFFF
NOT_XML_TEXT: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

NS21: Final = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
    "xml": "http://www.w3.org/XML/1998/namespace",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
NS30: Final = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common",
    "xml": "http://www.w3.org/XML/1998/namespace",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}

# SDMX-ML 2.1 `mes:Structures` children in schema order: (container tag, artefact tag, REST resource).
# The REST resource names are those of the SDMX REST API (v1 path segment / v2 structure type).
CONTAINERS_21: Final[tuple[tuple[str, str, str], ...]] = (
    ("OrganisationSchemes", "AgencyScheme", "agencyscheme"),
    ("OrganisationSchemes", "DataConsumerScheme", "dataconsumerscheme"),
    ("OrganisationSchemes", "DataProviderScheme", "dataproviderscheme"),
    ("OrganisationSchemes", "OrganisationUnitScheme", "organisationunitscheme"),
    ("Dataflows", "Dataflow", "dataflow"),
    ("Metadataflows", "Metadataflow", "metadataflow"),
    ("CategorySchemes", "CategoryScheme", "categoryscheme"),
    ("Categorisations", "Categorisation", "categorisation"),
    ("Codelists", "Codelist", "codelist"),
    ("HierarchicalCodelists", "HierarchicalCodelist", "hierarchicalcodelist"),
    ("Concepts", "ConceptScheme", "conceptscheme"),
    ("MetadataStructures", "MetadataStructure", "metadatastructure"),
    ("DataStructures", "DataStructure", "datastructure"),
    ("StructureSets", "StructureSet", "structureset"),
    ("ProcessSteps", "Process", "process"),
    ("ReportingTaxonomies", "ReportingTaxonomy", "reportingtaxonomy"),
    ("Constraints", "AttachmentConstraint", "attachmentconstraint"),
    ("Constraints", "ContentConstraint", "contentconstraint"),
    ("ProvisionAgreements", "ProvisionAgreement", "provisionagreement"),
)
RESOURCE_BY_TAG_21: Final = {tag: resource for _, tag, resource in CONTAINERS_21}
