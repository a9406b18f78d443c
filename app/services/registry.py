"""The in-memory structure registry: which artefacts a structure query selects, their references, and
how much of each to write.

`Registry(msg)` indexes one sdmx1 `StructureMessage` holding every loaded artefact, once: artefacts by
(resource, agency, id, version), the sorted versions of each (resource, agency, id), and the reference graph
in both directions. Queries then only walk those indexes.

Reference graph (an edge points from the referencing artefact to the referenced one, its *child*):

- Dataflow → DSD; Metadataflow → MSD.
- DSD → the concept schemes of its components' concepts, and the codelist (or concept scheme, for an SDMX 2.1
  measure dimension) that gives each component its values: the local representation, else the concept's
  core representation (the representation actually in force; other core representations are reached
  through the concept scheme).
- ConceptScheme → the codelists of its concepts' core representations. Codelist → nothing.
- Categorisation → the categorised artefact and the category's scheme.
- Data constraint → the artefacts it is attached to (dataflow, DSD, provision agreement, the scheme of a
  data provider).
- ProvisionAgreement → its dataflow and its data provider's scheme.
- HierarchicalCodelist / Hierarchy → the codelists of their codes; HierarchyAssociation → its objects.
- A maintainer agency does not make its agency scheme a child (as FMR does; the spec's table lists
  AgencyScheme for every type, which would tie every artefact to every other).

References to artefacts not loaded are dropped. `references`: ``parents`` are direct referrers,
``ancestors`` referrers at any depth, ``children``/``descendants`` likewise downwards, ``parentsandsiblings``
the parents plus their children, ``all`` that plus descendants. A concrete type (``codelist``) returns the
artefacts of that type among ancestors and descendants: the spec says "referenced by or referencing", and
resolving through the graph is what clients expect (a dataflow references no codelist directly, yet
``dataflow/.../?references=codelist`` asks for its DSD's codelists).
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property
from typing import Any

from sdmx.message import StructureMessage
from sdmx.model import common, v21, v30
from sdmx.model.common import MaintainableArtefact

from app.model.query import (
    CONCRETE_RESOURCES,
    GROUP_RESOURCES,
    REFERENCE_MODES,
    QuerySyntaxError,
    StructureQuery,
    Version,
)
from app.model.structure import Shaped

Key = tuple[str, str, str, str]  # (resource, agency, id, version text)

# Concrete resource of an sdmx1 object: first matching class wins (subclasses first).
_CLASSES: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("agencyscheme", common.AgencyScheme),
    ("dataconsumerscheme", common.DataConsumerScheme),
    ("dataproviderscheme", common.DataProviderScheme),
    ("metadataproviderscheme", v30.MetadataProviderScheme),
    ("dataflow", common.BaseDataflow),
    ("metadataflow", common.BaseMetadataflow),
    ("categoryscheme", common.CategoryScheme),
    ("categorisation", common.Categorisation),
    ("codelist", common.Codelist),
    ("hierarchicalcodelist", v21.HierarchicalCodelist),
    ("conceptscheme", common.ConceptScheme),
    ("metadatastructure", common.BaseMetadataStructureDefinition),
    ("datastructure", common.BaseDataStructureDefinition),
    ("structureset", v21.StructureSet),
    ("contentconstraint", (v21.ContentConstraint, v30.DataConstraint)),
    ("metadataconstraint", v30.MetadataConstraint),
    ("provisionagreement", common.ProvisionAgreement),
    ("hierarchy", v30.Hierarchy),
    ("hierarchyassociation", v30.HierarchyAssociation),
    ("valuelist", v30.ValueList),
    ("transformationscheme", common.TransformationScheme),
    ("rulesetscheme", common.RulesetScheme),
    ("userdefinedoperatorscheme", common.UserDefinedOperatorScheme),
    ("customtypescheme", common.CustomTypeScheme),
    ("namepersonalisationscheme", common.NamePersonalisationScheme),
    ("vtlmappingscheme", common.VTLMappingScheme),
)
_ORDER = {resource: i for i, resource in enumerate(CONCRETE_RESOURCES)}
_ROLE = {"actualconstraint": "actual", "allowedconstraint": "allowable"}
_NESTED = (
    common.CategoryScheme,
)  # item schemes whose item ids are paths (A.B); flat ones match any depth
_STUB_DETAILS = {"allstubs": (True, False), "allcompletestubs": (True, True)}
_REFERENCE_DETAILS = {"referencestubs": (True, False), "referencecompletestubs": (True, True)}


def resource_of(obj: object) -> str | None:
    """The concrete REST resource name of an sdmx1 maintainable artefact (None if DSM does not serve it)."""
    for resource, cls in _CLASSES:
        if isinstance(obj, cls):
            return resource
    return None


def expand_resource(resource: str) -> tuple[str, ...]:
    """The concrete resource names a (possibly grouping) resource name stands for."""
    return GROUP_RESOURCES.get(resource, (resource,))


def _maintainable(obj: object) -> MaintainableArtefact | None:
    """The maintainable artefact that holds ``obj`` (an item's scheme), or ``obj`` itself."""
    for _ in range(100):  # bounded: parent chains in item hierarchies are short
        if obj is None or isinstance(obj, MaintainableArtefact):
            return obj
        obj = getattr(obj, "parent", None)
    return None


def _enumerated(component: object) -> object | None:
    """The maintainable giving a component its values: local representation, else the concept's core one."""
    for rep in (
        getattr(component, "local_representation", None),
        getattr(getattr(component, "concept_identity", None), "core_representation", None),
    ):
        if rep is not None and rep.enumerated is not None:
            return rep.enumerated
    return None


def _components(dsd: object) -> Iterator[object]:
    for name in ("dimensions", "attributes", "measures"):
        yield from getattr(getattr(dsd, name, None), "components", ())


def _hierarchical_codes(codes: Iterable) -> Iterator[object]:
    for hc in codes:
        yield hc
        yield from _hierarchical_codes(getattr(hc, "child", ()))


def _role(constraint: object) -> str | None:
    role = getattr(constraint, "role", None)
    return getattr(getattr(role, "role", None), "name", None)


def _item_ids(scheme: object) -> dict[str, object]:
    """An item scheme's items by id (a hierarchical codelist's hierarchies)."""
    if isinstance(scheme, common.ItemScheme):
        return dict(scheme.items)
    if isinstance(scheme, v21.HierarchicalCodelist):
        return {h.id: h for h in scheme.hierarchy}
    return {}


# What each type of artefact points at (maintainables, or items standing for their schemes).
def _dsd_refs(dsd) -> Iterator[object]:
    for component in _components(dsd):
        yield getattr(component, "concept_identity", None)
        yield _enumerated(component)


def _concept_scheme_refs(scheme) -> Iterator[object]:
    for concept in scheme.items.values():
        rep = concept.core_representation
        yield rep.enumerated if rep is not None else None


def _hcl_refs(hcl) -> Iterator[object]:
    for hierarchy in hcl.hierarchy:
        yield from (hc.code for hc in _hierarchical_codes(hierarchy.codes.values()))


_REFERS: tuple[tuple[type | tuple[type, ...], Callable[[Any], Iterable[object]]], ...] = (
    ((common.BaseDataflow, common.BaseMetadataflow), lambda o: (o.structure,)),
    (common.BaseDataStructureDefinition, _dsd_refs),
    (common.ConceptScheme, _concept_scheme_refs),
    (common.Categorisation, lambda o: (o.artefact, o.category)),
    ((v21.ContentConstraint, v30.DataConstraint), lambda o: o.content),
    (common.ProvisionAgreement, lambda o: (o.structure_usage, o.data_provider)),
    (v21.HierarchicalCodelist, _hcl_refs),
    (v30.Hierarchy, lambda o: (hc.code for hc in _hierarchical_codes(o.codes.values()))),
    (v30.HierarchyAssociation, lambda o: (o.linked_object, o.linked_hierarchy, o.context_object)),
)


def match_items(scheme: object, item_ids: Sequence[str] | None) -> frozenset[str] | None:
    """The item ids written for an itemID query: each matched item and, for a nested path, its ancestors.

    ``None`` (no itemID, ``*`` or ``all``) means every item. In a category scheme an id is a path from a
    top-level category (``A.B``); in flat schemes a plain id matches the item of that id.
    """
    if item_ids is None:
        return None
    items = _item_ids(scheme)
    nested = isinstance(scheme, _NESTED)
    found: set[str] = set()
    for path in item_ids:
        steps = path.split(".")
        if not nested and len(steps) == 1:
            if path in items:
                found.add(path)
            continue
        level = [
            i for i in items.values() if not isinstance(getattr(i, "parent", None), common.Item)
        ]
        chain = []
        for step in steps:
            item = next((i for i in level if i.id == step), None)
            if item is None:
                chain = []
                break
            chain.append(item.id)
            level = list(getattr(item, "child", ()))
        found.update(chain)
    return frozenset(found)


class Registry:
    """Every loaded structure, indexed for REST structure queries. Immutable once built."""

    def __init__(self, message: StructureMessage):
        self._artefacts: dict[Key, MaintainableArtefact] = {}
        self._versions: dict[tuple[str, str, str], list[Version]] = {}
        self._keys: dict[int, Key] = {}
        for obj in message.iter_objects():
            resource = resource_of(obj)
            if resource is None or obj.is_external_reference:
                continue
            key = (
                resource,
                getattr(obj.maintainer, "id", None) or "",
                obj.id,
                str(obj.version or ""),
            )
            self._artefacts[key] = obj
            self._keys[id(obj)] = key
            self._versions.setdefault(key[:3], []).append(Version.parse(key[3]))
        for versions in self._versions.values():
            versions.sort()
        self._by_resource: dict[str, list[tuple[str, str]]] = {}
        for resource, agency, id_ in sorted(self._versions):
            self._by_resource.setdefault(resource, []).append((agency, id_))
        self._children: dict[Key, frozenset[Key]] = {
            k: frozenset(self._find_children(a)) - {k} for k, a in self._artefacts.items()
        }
        parents: dict[Key, set[Key]] = {k: set() for k in self._artefacts}
        for key, children in self._children.items():
            for child in children:
                parents[child].add(key)
        self._parents = {k: frozenset(v) for k, v in parents.items()}

    # -- keys and lookups ------------------------------------------------------------------------------

    def key(self, artefact: MaintainableArtefact) -> Key | None:
        """The registry key of ``artefact`` (an indexed object, or another with the same identity)."""
        key = self._keys.get(id(artefact))
        if key is not None:
            return key
        resource = resource_of(artefact)
        agency = getattr(getattr(artefact, "maintainer", None), "id", None)
        if resource is None or agency is None:
            return None
        if artefact.version:
            key = (resource, agency, artefact.id, str(artefact.version))
            return key if key in self._artefacts else None
        versions = self._versions.get((resource, agency, artefact.id))
        return (resource, agency, artefact.id, versions[-1].text) if versions else None

    def _sort_key(self, key: Key) -> tuple:
        return (_ORDER.get(key[0], len(_ORDER)), key[1], key[2], Version.parse(key[3]).sort_key)

    def _sorted(self, keys: Iterable[Key]) -> list[MaintainableArtefact]:
        return [self._artefacts[k] for k in sorted(set(keys), key=self._sort_key)]

    def get(self, resource: str, agency: str, id: str, version: str) -> MaintainableArtefact | None:
        """The artefact of exactly this identity; ``resource`` may be a group such as organisationscheme."""
        for concrete in expand_resource(resource):
            artefact = self._artefacts.get((concrete, agency, id, version))
            if artefact is not None:
                return artefact
        return None

    def latest(self, resource: str, agency: str, id: str) -> MaintainableArtefact | None:
        """The highest version of (agency, id), whatever its status (REST v1 ``latest``)."""
        for concrete in expand_resource(resource):
            versions = self._versions.get((concrete, agency, id))
            if versions:
                return self._artefacts[(concrete, agency, id, versions[-1].text)]
        return None

    def dataflows(self) -> list[MaintainableArtefact]:
        """Every dataflow, in agency/id/version order."""
        return self._sorted(k for k in self._artefacts if k[0] == "dataflow")

    def dependents(self, artefact: MaintainableArtefact) -> list[MaintainableArtefact]:
        """The artefacts that reference ``artefact`` directly (what stops it being deleted)."""
        key = self.key(artefact)
        return self._sorted(self._parents.get(key, ())) if key else []

    def __len__(self) -> int:
        return len(self._artefacts)

    def __iter__(self) -> Iterator[MaintainableArtefact]:
        return iter(self._sorted(self._artefacts))

    # -- 1. select -------------------------------------------------------------------------------------

    def select(self, query: StructureQuery) -> list[MaintainableArtefact]:
        """The artefacts matching the query's type, agency, id, version and item expressions."""
        agencies = None if query.agencies is None else set(query.agencies)
        ids = None if query.ids is None else set(query.ids)
        role = _ROLE.get(query.resource)
        found: list[Key] = []
        for resource in expand_resource(query.resource):
            for agency, id_ in self._by_resource.get(resource, ()):
                if (agencies is not None and agency not in agencies) or (
                    ids is not None and id_ not in ids
                ):
                    continue
                versions = self._versions[(resource, agency, id_)]
                picked = {v.text for expr in query.versions for v in expr.pick(versions)}
                found.extend((resource, agency, id_, v) for v in picked)
        result = []
        for key in found:
            artefact = self._artefacts[key]
            if role is not None and _role(artefact) != role:
                continue
            if query.items is not None and not match_items(artefact, query.items):
                continue
            result.append(key)
        return self._sorted(result)

    # -- 2. references ---------------------------------------------------------------------------------

    def _find_children(self, obj: MaintainableArtefact) -> Iterator[Key]:
        refer = next((f for cls, f in _REFERS if isinstance(obj, cls)), None)
        for target in refer(obj) if refer else ():
            maintainable = _maintainable(target)
            if maintainable is not None and maintainable is not obj:
                key = self.key(maintainable)
                if key is not None:
                    yield key

    def _closure(self, start: Iterable[Key], edges: dict[Key, frozenset[Key]]) -> set[Key]:
        seen: set[Key] = set()
        todo = list(start)
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def _step(self, keys: Iterable[Key], edges: dict[Key, frozenset[Key]]) -> set[Key]:
        return {n for k in keys for n in edges.get(k, ())}

    def references(
        self, artefacts: Iterable[MaintainableArtefact], mode: str | Iterable[str] = "none"
    ) -> list[MaintainableArtefact]:
        """The artefacts the REST ``references`` value adds to ``artefacts`` (never those themselves).

        ``mode`` is one value or several (v2 allows a list); the result is their union.
        """
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
        start = {k for k in map(self.key, artefacts) if k is not None}
        found: set[Key] = set()
        for m in modes:
            found |= self._references(start, m)
        return self._sorted(found - start)

    def _references(self, start: set[Key], mode: str) -> set[Key]:
        if mode == "none":
            return set()
        if mode == "parents":
            return self._step(start, self._parents)
        if mode == "ancestors":
            return self._closure(start, self._parents)
        if mode == "children":
            return self._step(start, self._children)
        if mode == "descendants":
            return self._closure(start, self._children)
        if mode in ("parentsandsiblings", "all"):
            parents = self._step(start, self._parents)
            found = parents | self._step(parents, self._children)
            if mode == "all":
                found |= self._closure(start, self._children)
            return found
        if mode in REFERENCE_MODES or mode in ("structure", "*"):
            raise AssertionError(mode)  # pragma: no cover - every mode is handled above
        concrete = set(expand_resource(mode))
        if not concrete <= set(CONCRETE_RESOURCES):
            raise QuerySyntaxError("references", mode, "a reference mode or a structure type")
        role = _ROLE.get(mode)
        near = self._closure(start, self._parents) | self._closure(start, self._children)
        return {
            k
            for k in near
            if k[0] in concrete and (role is None or _role(self._artefacts[k]) == role)
        }

    # -- 3. shape --------------------------------------------------------------------------------------

    def shape(
        self,
        selected: Sequence[MaintainableArtefact],
        referenced: Sequence[MaintainableArtefact] = (),
        detail: str = "full",
        item_ids: Sequence[str] | None = None,
    ) -> list[Shaped]:
        """Say how much of each artefact to write, following REST ``detail`` (and ``itemID``)."""
        result = []
        if detail in _STUB_DETAILS:
            stub, complete = _STUB_DETAILS[detail]
            return [Shaped(a, stub=stub, complete=complete) for a in (*selected, *referenced)]
        for artefact in selected:
            result.append(Shaped(artefact, items=match_items(artefact, item_ids)))
        if detail in _REFERENCE_DETAILS:
            stub, complete = _REFERENCE_DETAILS[detail]
            result.extend(Shaped(a, stub=stub, complete=complete) for a in referenced)
        elif detail == "referencepartial":
            partial = _Partial(self, selected, referenced)
            result.extend(Shaped(a, items=partial.items(a)) for a in referenced)
        else:  # full, raw: DSM stores no wildcarded references or codelist extensions to resolve
            result.extend(Shaped(a) for a in referenced)
        return result


class _Partial:
    """``detail=referencepartial``: the items of each referenced item scheme that the selection uses."""

    def __init__(self, registry: Registry, selected: Sequence, referenced: Sequence):
        self.registry = registry
        self.selected = list(selected)
        self.returned = [*selected, *referenced]

    def items(self, artefact: MaintainableArtefact) -> frozenset[str] | None:
        key = self.registry.key(artefact)
        for table in (self.codes, self.concepts, self.agencies, self.providers, self.categories):
            if key in table:
                return frozenset(table[key] & set(_item_ids(artefact)))
        return None

    # the selection's structures, dataflows, provision agreements and constraints

    @cached_property
    def flows(self) -> list:
        flows = [a for a in self.selected if isinstance(a, common.BaseDataflow)]
        flows += [
            a.structure_usage for a in self.selected if isinstance(a, common.ProvisionAgreement)
        ]
        return [f for f in flows if f is not None]

    @cached_property
    def structures(self) -> list:
        dsds = [a for a in self.selected if isinstance(a, common.BaseDataStructureDefinition)]
        return dsds + [f.structure for f in self.flows if f.structure is not None]

    def _allowed_constraints(self, targets: Iterable[Key]) -> list:
        reg = self.registry
        keys = {p for t in targets for p in reg._parents.get(t, ()) if p[0] == "contentconstraint"}
        return [reg._artefacts[k] for k in sorted(keys) if _role(reg._artefacts[k]) == "allowable"]

    @cached_property
    def allowed(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        """Values per component id: allowed (absent: any) and excluded, for the selection's data.

        Constraints on the selected dataflows, their DSDs, selected provision agreements and selected
        constraints all apply (intersection). A dataflow's provision agreements each constrain one
        provider, so they add the union of what they allow, and only for a component that every one of
        them restricts.
        """
        reg = self.registry
        keys = lambda artefacts: {k for k in map(reg.key, artefacts) if k is not None}  # noqa: E731
        selected_pas = keys(a for a in self.selected if isinstance(a, common.ProvisionAgreement))
        constraints = self._allowed_constraints(
            keys((*self.flows, *self.structures)) | selected_pas
        )
        constraints += [a for a in self.selected if resource_of(a) == "contentconstraint"]
        allowed, excluded = _allowed_values(constraints)
        other_pas = {
            p
            for f in keys(a for a in self.selected if isinstance(a, common.BaseDataflow))
            for p in reg._parents[f]
            if p[0] == "provisionagreement"
        } - selected_pas
        per_pa = [_allowed_values(self._allowed_constraints([pa]))[0] for pa in sorted(other_pas)]
        for component_id in set.intersection(*(set(a) for a in per_pa)) if per_pa else ():
            union = set().union(*(a[component_id] for a in per_pa))
            allowed[component_id] = allowed.get(component_id, union) & union
        return allowed, excluded

    # item sets per scheme key; a scheme absent from a table is written in full

    @cached_property
    def codes(self) -> dict[Key, set[str]]:
        allowed, excluded = self.allowed
        used: dict[Key, set[str]] = {}
        full: set[Key] = set()
        for dsd in self.structures:
            for component in _components(dsd):
                enumerated = _enumerated(component)
                key = self.registry.key(enumerated) if enumerated is not None else None
                if key is None or key[0] != "codelist":
                    continue
                if component.id in allowed:
                    used.setdefault(key, set()).update(
                        allowed[component.id] - excluded.get(component.id, set())
                    )
                elif component.id in excluded:
                    used.setdefault(key, set()).update(
                        set(_item_ids(enumerated)) - excluded[component.id]
                    )
                else:
                    full.add(key)
        return {k: v for k, v in used.items() if k not in full}

    @cached_property
    def concepts(self) -> dict[Key, set[str]]:
        used: dict[Key, set[str]] = {}
        for dsd in self.structures:
            for component in _components(dsd):
                concept = getattr(component, "concept_identity", None)
                key = self.registry.key(_maintainable(concept)) if concept is not None else None
                if key is not None:
                    used.setdefault(key, set()).add(concept.id)
        return used

    @cached_property
    def agencies(self) -> dict[Key, set[str]]:
        names = {getattr(a.maintainer, "id", None) for a in self.returned}
        return {
            self.registry.key(a): names for a in self.returned if resource_of(a) == "agencyscheme"
        }

    @cached_property
    def providers(self) -> dict[Key, set[str]]:
        used: dict[Key, set[str]] = {}
        for a in self.returned:
            targets = (
                [a.data_provider]
                if isinstance(a, common.ProvisionAgreement)
                else getattr(a, "content", ())
            )
            for provider in targets:
                if isinstance(provider, common.DataProvider):
                    key = self.registry.key(_maintainable(provider))
                    if key is not None:
                        used.setdefault(key, set()).add(provider.id)
        return used

    @cached_property
    def categories(self) -> dict[Key, set[str]]:
        used: dict[Key, set[str]] = {}
        for a in self.returned:
            category = a.category if isinstance(a, common.Categorisation) else None
            key = self.registry.key(_maintainable(category)) if category is not None else None
            while key is not None and isinstance(category, common.Category):
                used.setdefault(key, set()).add(category.id)
                category = category.parent
        return used


def _allowed_values(constraints: Iterable) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per component id, the values allowed by every constraint (intersection) and those excluded."""
    allowed: dict[str, set[str]] = {}
    excluded: dict[str, set[str]] = {}
    for constraint in constraints:
        inc: dict[str, set[str]] = {}
        for region in getattr(constraint, "data_content_region", ()) or ():
            target = inc if region.included else excluded
            for component, selection in region.member.items():
                values = {str(getattr(v, "value", v)) for v in selection.values}
                (target if selection.included else excluded).setdefault(component.id, set()).update(
                    values
                )
        keyset = getattr(constraint, "data_content_keys", None)
        if keyset is not None and keyset.included:
            for data_key in keyset.keys:
                if data_key.included:
                    for component, value in data_key.key_value.items():
                        inc.setdefault(component.id, set()).add(str(value.value))
        for component_id, values in inc.items():
            allowed[component_id] = (
                allowed[component_id] & values if component_id in allowed else values
            )
    return allowed, excluded
