"""What every structure writer needs to know about sdmx1 objects, whatever the wire format.

- ``KINDS``: one row per artefact type DSM writes, with its URN package and class and its REST resource.
  sdmx1 names some classes after the information model (``DataStructureDefinition``,
  ``DataflowDefinition``) where URNs and REST use the SDMX-ML names (``DataStructure``, ``Dataflow``),
  and its own URN builder keeps the model names, so DSM builds URNs here from the table.
- Labels: ``label`` picks one language (the response language, then English, then any);
  ``texts`` keeps them all.
- Shaping (``Shaped``): ``kept_items`` applies ``items`` (REST ``referencepartial``), keeping the nesting
  of hierarchical items (categories) among the kept ones; ``structure_url`` builds a stub's link.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from sdmx.model import common

from app.model.structure import Shaped


@dataclass(frozen=True)
class Kind:
    """Facts about one artefact type: URN package and classes, REST resources, item class."""

    package: str
    cls21: str  # SDMX-ML 2.1 element / URN class
    cls30: str  # SDMX-ML 3.0 element / URN class
    resource21: str  # REST v1 resource
    resource30: str  # REST v2 structure type
    item: str | None = None  # URN class of the items, for item schemes


# Keyed by sdmx1 class name (sdmx1 has common/v21/v30 variants of most classes).
KINDS: dict[str, Kind] = {
    "AgencyScheme": Kind(
        "base", "AgencyScheme", "AgencyScheme", "agencyscheme", "agencyscheme", "Agency"
    ),
    "DataProviderScheme": Kind(
        "base",
        "DataProviderScheme",
        "DataProviderScheme",
        "dataproviderscheme",
        "dataproviderscheme",
        "DataProvider",
    ),
    "DataConsumerScheme": Kind(
        "base",
        "DataConsumerScheme",
        "DataConsumerScheme",
        "dataconsumerscheme",
        "dataconsumerscheme",
        "DataConsumer",
    ),
    "Codelist": Kind("codelist", "Codelist", "Codelist", "codelist", "codelist", "Code"),
    "ConceptScheme": Kind(
        "conceptscheme",
        "ConceptScheme",
        "ConceptScheme",
        "conceptscheme",
        "conceptscheme",
        "Concept",
    ),
    "CategoryScheme": Kind(
        "categoryscheme",
        "CategoryScheme",
        "CategoryScheme",
        "categoryscheme",
        "categoryscheme",
        "Category",
    ),
    "Categorisation": Kind(
        "categoryscheme", "Categorisation", "Categorisation", "categorisation", "categorisation"
    ),
    "DataflowDefinition": Kind("datastructure", "Dataflow", "Dataflow", "dataflow", "dataflow"),
    "DataStructureDefinition": Kind(
        "datastructure", "DataStructure", "DataStructure", "datastructure", "datastructure"
    ),
    "ContentConstraint": Kind(
        "registry", "ContentConstraint", "DataConstraint", "contentconstraint", "dataconstraint"
    ),
    "ProvisionAgreement": Kind(
        "registry",
        "ProvisionAgreement",
        "ProvisionAgreement",
        "provisionagreement",
        "provisionagreement",
    ),
}

# URN package and class of non-maintainable targets, by sdmx1 class name.
ITEM_KINDS: dict[str, tuple[str, str]] = {
    "Agency": ("base", "Agency"),
    "DataProvider": ("base", "DataProvider"),
    "DataConsumer": ("base", "DataConsumer"),
    "Code": ("codelist", "Code"),
    "Concept": ("conceptscheme", "Concept"),
    "Category": ("categoryscheme", "Category"),
}

# Artefacts whose references the schemas require even in a stub (they are not items or components).
STUB_BODY = frozenset({"ProvisionAgreement"})

URN_PREFIX = "urn:sdmx:org.sdmx.infomodel"


class UnsupportedArtefact(ValueError):
    """An artefact type the structure writers do not write."""


def kind(obj: object) -> Kind:
    """The ``Kind`` row for an sdmx1 maintainable artefact."""
    try:
        return KINDS[type(obj).__name__]
    except KeyError:
        raise UnsupportedArtefact(
            f"cannot write {type(obj).__name__} {getattr(obj, 'id', '?')}; "
            f"expected one of {', '.join(KINDS)}"
        ) from None


def agency_id(obj: common.MaintainableArtefact) -> str:
    """The maintainer's id (``"SDMX"`` when sdmx1 did not record one)."""
    return getattr(obj.maintainer, "id", None) or "SDMX"


def version(obj: common.MaintainableArtefact) -> str:
    """The version as text; ``1.0`` when sdmx1 has none."""
    return str(obj.version) if obj.version is not None else "1.0"


def maintainable_urn(obj: common.MaintainableArtefact, v30: bool = False) -> str:
    """``urn:sdmx:org.sdmx.infomodel.codelist.Codelist=DSM:CL_SEX(1.0)``."""
    k = kind(obj)
    cls = k.cls30 if v30 else k.cls21
    return f"{URN_PREFIX}.{k.package}.{cls}={agency_id(obj)}:{obj.id}({version(obj)})"


def item_path(item: common.Item) -> str:
    """The item's id; for categories (nested in SDMX-ML), prefixed with its ancestors' (``POP.MIG``)."""
    if not isinstance(item, common.Category):
        return item.id
    ids = [item.id]
    parent = item.parent
    while isinstance(parent, type(item)):
        ids.insert(0, parent.id)
        parent = parent.parent
    return ".".join(ids)


def scheme_of(item: common.Item) -> common.ItemScheme:
    """The item scheme holding ``item``; ValueError when sdmx1 did not link one."""
    scheme = item.get_scheme() if hasattr(item, "get_scheme") else None
    if scheme is None:
        raise ValueError(f"{type(item).__name__} {item.id} has no item scheme to reference")
    return scheme


def item_urn(item: common.Item) -> str:
    """``urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=DSM:CS_MIG(1.0).FREQ``."""
    package, cls = ITEM_KINDS[type(item).__name__]
    scheme = scheme_of(item)
    return f"{URN_PREFIX}.{package}.{cls}={agency_id(scheme)}:{scheme.id}({version(scheme)}).{item_path(item)}"


def urn(obj: object, v30: bool = False) -> str:
    """URN of a maintainable artefact or of an item."""
    if isinstance(obj, common.MaintainableArtefact):
        return maintainable_urn(obj, v30)
    return item_urn(obj)  # type: ignore[arg-type]


def component_urn(parent: common.MaintainableArtefact, cls: str, path: str) -> str:
    """URN of a component (``Dimension``, ``DataAttribute``…) of a structure."""
    k = kind(parent)
    return (
        f"{URN_PREFIX}.{k.package}.{cls}={agency_id(parent)}:{parent.id}({version(parent)}).{path}"
    )


def texts(value: common.InternationalString | None) -> dict[str, str]:
    """All languages of a multilingual text, ``{}`` when absent."""
    return dict(value.localizations) if value is not None else {}


def label(value: common.InternationalString | None, lang: str) -> str | None:
    """The text in ``lang``, else English, else any language, else None."""
    all_ = texts(value)
    for candidate in (lang, "en"):
        if candidate in all_:
            return all_[candidate]
    return next(iter(all_.values()), None)


def languages(value: common.InternationalString | None, lang: str) -> list[tuple[str, str]]:
    """All (lang, text) pairs, the response language first; at least one pair for a name."""
    all_ = texts(value)
    return sorted(all_.items(), key=lambda kv: kv[0] != lang)


def structure_url(shaped: Shaped, base: str, v30: bool = False) -> str | None:
    """``{base}/{resource}/{agency}/{id}/{version}`` for a stub, None when ``base`` is empty."""
    if not base:
        return None
    obj = shaped.artefact
    k = kind(obj)
    resource = k.resource30 if v30 else k.resource21
    return f"{base.rstrip('/')}/{resource}/{agency_id(obj)}/{obj.id}/{version(obj)}"


def is_item_scheme(obj: object) -> bool:
    return isinstance(obj, common.ItemScheme)


def writes_body(shaped: Shaped) -> bool:
    """Whether to write the artefact's content: always, except for stubs (references excepted)."""
    return not shaped.stub or type(shaped.artefact).__name__ in STUB_BODY


def is_partial(shaped: Shaped) -> bool:
    """True when only some items of an item scheme are written."""
    return shaped.items is not None and is_item_scheme(shaped.artefact) and not shaped.stub


def kept_items(shaped: Shaped) -> list[common.Item]:
    """The items to write, in scheme order: all, or only those named in ``shaped.items``."""
    items = list(shaped.artefact.items.values())  # type: ignore[attr-defined]
    if shaped.items is None:
        return items
    return [i for i in items if i.id in shaped.items or item_path(i) in shaped.items]


def _kept_parent(item: common.Item, kept_ids: set[int]) -> common.Item | None:
    """The nearest ancestor of ``item`` among the kept items, or None."""
    parent = item.parent
    while isinstance(parent, type(item)):
        if id(parent) in kept_ids:
            return parent
        parent = parent.parent
    return None


def roots(kept: list[common.Item]) -> list[common.Item]:
    """Kept items with no kept ancestor: the top of the written hierarchy."""
    kept_ids = {id(i) for i in kept}
    return [i for i in kept if _kept_parent(i, kept_ids) is None]


def children(item: common.Item, kept: list[common.Item]) -> list[common.Item]:
    """Kept items whose nearest kept ancestor is ``item`` (hierarchical item schemes)."""
    kept_ids = {id(i) for i in kept}
    return [i for i in kept if _kept_parent(i, kept_ids) is item]


def parent_id(item: common.Item, kept: list[common.Item]) -> str | None:
    """Id of the item's parent when the parent is written too (codes, concepts)."""
    parent = item.parent
    if isinstance(parent, type(item)) and any(parent is k for k in kept):
        return parent.id
    return None


def is_included(value: object) -> bool:
    """sdmx1 keeps ``included`` as a bool or as the XML text ``"true"``/``"false"``."""
    if isinstance(value, str):
        return value.strip().lower() != "false"
    return bool(value) if value is not None else True


def constraint_role(constraint: object) -> str:
    """``Allowed`` or ``Actual`` (sdmx1 names the first ``allowable``)."""
    role = getattr(getattr(constraint, "role", None), "role", None)
    return "Actual" if getattr(role, "name", "") == "actual" else "Allowed"


def ordered(artefacts: Iterable[Shaped], order: list[str]) -> list[Shaped]:
    """``artefacts`` sorted by the position of their kind in ``order`` (sdmx1 class names), stably."""
    position = {name: n for n, name in enumerate(order)}
    result = list(artefacts)
    for shaped in result:
        kind(shaped.artefact)  # fail early and clearly on unsupported types
    return sorted(result, key=lambda s: position[type(s.artefact).__name__])
