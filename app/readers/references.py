"""Every reference an SDMX-ML 2.1 artefact element makes, read from its `Ref` and `URN` elements.

`dsm check` and structure submissions use it to prove that all references resolve before anything is
stored. Reading references at the XML level (rather than through sdmx1, which silently invents
stand-ins for missing targets) is what lets a missing target be reported by name.
"""

import re
from dataclasses import dataclass

from lxml import etree

URN = re.compile(
    r"^urn:sdmx:org\.sdmx\.infomodel\.(?P<package>\w+)\.(?P<cls>\w+)="
    r"(?P<agency>[^:]+):(?P<id>[^(]+)\((?P<version>[^)]+)\)(?:\.(?P<item>.+))?$"
)

# Item classes and the class of the scheme that holds them.
ITEM_PARENT = {
    "Code": "Codelist",
    "Concept": "ConceptScheme",
    "Category": "CategoryScheme",
    "Agency": "AgencyScheme",
    "DataProvider": "DataProviderScheme",
    "DataConsumer": "DataConsumerScheme",
    "OrganisationUnit": "OrganisationUnitScheme",
}
# Components are "items" of structures; a reference to one only needs its structure to exist.
COMPONENT_PARENT = {
    "Dimension": "DataStructure",
    "TimeDimension": "DataStructure",
    "MeasureDimension": "DataStructure",
    "DataAttribute": "DataStructure",
    "PrimaryMeasure": "DataStructure",
    "GroupDimensionDescriptor": "DataStructure",
}
SCHEME_CLASSES = {"Codelist", "ConceptScheme", "CategoryScheme", *ITEM_PARENT.values()}


@dataclass(frozen=True)
class Reference:
    cls: str  # class of the maintainable target, e.g. "Codelist"
    agency: str
    id: str
    version: str
    item: str | None = None  # item id (dotted path for nested categories)

    def __str__(self) -> str:
        tail = f".{self.item}" if self.item else ""
        return f"{self.cls} {self.agency}:{self.id}({self.version}){tail}"


def _from_urn(text: str) -> Reference | None:
    match = URN.match(text.strip())
    if match is None:
        return None
    cls, item = match["cls"], match["item"]
    parent = ITEM_PARENT.get(cls) or COMPONENT_PARENT.get(cls)
    if parent and cls in COMPONENT_PARENT:
        item = None
    return Reference(parent or cls, match["agency"], match["id"], match["version"], item)


def _from_ref(ref: etree._Element) -> Reference:
    cls = ref.get("class", "")
    parent_id = ref.get("maintainableParentID")
    if parent_id:
        parent = ITEM_PARENT.get(cls) or COMPONENT_PARENT.get(cls, cls)
        item = None if cls in COMPONENT_PARENT else ref.get("id")
        version = ref.get("maintainableParentVersion", "1.0")
        return Reference(parent, ref.get("agencyID", ""), parent_id, version, item)
    return Reference(cls, ref.get("agencyID", ""), ref.get("id", ""), ref.get("version", "1.0"))


def references(element: etree._Element) -> list[Reference]:
    """All references made inside one artefact element (an empty class means 'any class')."""
    found: list[Reference] = []
    for node in element.iter():
        if not isinstance(node.tag, str):
            continue
        local = etree.QName(node).localname
        if local == "Ref" and (node.get("agencyID") or node.get("maintainableParentID")):
            found.append(_from_ref(node))
        elif local == "URN" and node.text:
            ref = _from_urn(node.text)
            if ref is not None:
                found.append(ref)
    return found


def declared_items(element: etree._Element) -> set[str]:
    """Ids of the items an item scheme declares; nested categories also by their dotted path."""
    items: set[str] = set()

    def walk(parent: etree._Element, prefix: str) -> None:
        for child in parent:
            if (
                isinstance(child.tag, str)
                and child.get("id")
                and child.tag.endswith(
                    (
                        "}Code",
                        "}Concept",
                        "}Category",
                        "}Agency",
                        "}DataProvider",
                        "}DataConsumer",
                        "}OrganisationUnit",
                    )
                )
            ):
                items.add(child.get("id"))
                items.add(prefix + child.get("id"))
                walk(child, prefix + child.get("id") + ".")

    walk(element, "")
    return items
