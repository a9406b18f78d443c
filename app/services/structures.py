"""Structure use cases: seed and load structure files, check references, keep each process's
in-memory registry in step with the database, and apply maintenance (submit, replace, delete).

The database is authoritative. Every change bumps `registry_state.revision`; `current()` compares one
integer per call and rebuilds the registry (merge all artefact elements, read with sdmx1, index) only
when another process or request changed structures.
"""

import functools
import io
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sdmx
from lxml import etree
from sdmx.model import common
from sdmx.model.common import ProvisionAgreement
from sdmx.model.v21 import MemberSelection, MemberValue
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from app.errors import Conflict, Invalid, NotFound
from app.formats.media import MediaType
from app.formats.sdmxml import NS21, NS30
from app.model.dsd import CompiledFlow
from app.model.query import StructureQuery
from app.model.structure import Header, Shaped, StructureResponse
from app.readers.references import SCHEME_CLASSES, Reference, declared_items, references
from app.readers.structure import ArtefactXml, merge, parse_xml, read_artefacts
from app.services import audit
from app.services.audit import SYSTEM, Actor
from app.services.compile import compile_all
from app.services.registry import Registry, resource_of
from app.storage import observations
from app.storage import structures as store
from app.writers.structure import write

CACHE_ENTRIES = 256  # rendered structure answers, labels, values derived from data versions


def structure_files(paths: Iterable[Path]) -> list[Path]:
    """The .xml files named, or found (sorted) in the folders named."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.xml")) if path.is_dir() else [path])
    return files


def read_files(paths: Iterable[Path]) -> list[tuple[Path, ArtefactXml]]:
    return [(f, a) for f in structure_files(paths) for a in read_artefacts(f.read_bytes())]


def unresolved(records: Sequence[ArtefactXml]) -> list[str]:
    """One message per reference that names no artefact (or no item) in `records`."""
    return sorted(
        {f"{where} refers to {ref}, which is not defined" for where, ref in _dangling(records)}
    )


def _dangling(records: Sequence[ArtefactXml]) -> list[tuple[str, Reference]]:
    """(referring artefact, reference) for each reference that resolves to nothing in `records`."""
    items: dict[tuple[str, str, str, str], set[str]] = {}
    any_class: set[tuple[str, str, str]] = set()
    for record in records:
        element = etree.fromstring(record.xml)
        cls = etree.QName(element).localname
        items[(cls, record.agency, record.id, record.version)] = (
            declared_items(element) if cls in SCHEME_CLASSES else set()
        )
        any_class.add((record.agency, record.id, record.version))
    dangling = []
    for record in records:
        element = etree.fromstring(record.xml)
        where = f"{etree.QName(element).localname} {record.agency}:{record.id}({record.version})"
        for ref in references(element):
            if not ref.cls:
                found = (ref.agency, ref.id, ref.version) in any_class
            else:
                target = items.get((ref.cls, ref.agency, ref.id, ref.version))
                found = target is not None and (
                    ref.item is None or ref.item in target or ref.cls not in SCHEME_CLASSES
                )
            if not found:
                dangling.append((where, ref))
    return dangling


class _RepairedBelow(logging.Filter):
    """Drops the two sdmx1 warnings about constraints on provision agreements, which
    `_restore_provision_agreement_regions` repairs."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not (
            text.startswith("Not implemented: constraints attached to")
            or "XML element ignored and SelectionValues discarded" in text
        )


logging.getLogger("sdmx.reader.xml.v21").addFilter(_RepairedBelow())


def _where(record: ArtefactXml) -> str:
    cls = etree.QName(etree.fromstring(record.xml)).localname
    return f"{cls} {record.agency}:{record.id}({record.version})"


_COMPONENTS = {
    "Dimension",
    "TimeDimension",
    "MeasureDimension",
    "Attribute",
    "PrimaryMeasure",
    "Group",
    "GroupDimension",
}


def _signature(xml: str) -> tuple[frozenset, frozenset, frozenset]:
    """What others may rely on in an artefact: its items, its components (with references and
    values, in order), everything it refers to. Names, descriptions and annotations are free."""
    element = etree.fromstring(xml)
    structure = []
    for node in element.iter():
        if not isinstance(node.tag, str):
            continue
        local = etree.QName(node).localname
        if local in _COMPONENTS or local in ("KeyValue", "Value", "Attribute", "TextFormat"):
            structure.append(
                (
                    local,
                    node.get("id"),
                    (node.text or "").strip(),
                    tuple(sorted(node.attrib.items())),
                )
            )
    return (
        frozenset(declared_items(element)),
        frozenset(enumerate(structure)),
        frozenset(references(element)),
    )


def _compatible(old: ArtefactXml, new: ArtefactXml) -> bool:
    """A replacement others cannot notice: items only added, everything else the same."""
    old_items, old_structure, old_refs = _signature(old.xml)
    new_items, new_structure, new_refs = _signature(new.xml)
    return old_items <= new_items and old_structure == new_structure and old_refs == new_refs


def _refuse_breaking(
    submitted: Sequence[ArtefactXml],
    replaced: Sequence[ArtefactXml],
    existing: dict[tuple[str, str, str, str], ArtefactXml],
    merged: Sequence[ArtefactXml],
) -> None:
    """422 when the submitted artefacts refer to what does not exist; 409 when the change would
    break artefacts already stored (a dangling reference, or an incompatible replacement of an
    artefact that others use)."""
    mine = {_where(r) for r in submitted}
    dangling = _dangling(merged)
    own = sorted({f"{w} refers to {ref}, which is not defined" for w, ref in dangling if w in mine})
    if own:
        raise Invalid("Unresolved references: " + "; ".join(own[:20]), problems=own)
    broken = sorted({f"{w} refers to {ref}" for w, ref in dangling if w not in mine})
    if broken:
        raise Conflict("The change would break stored structures: " + "; ".join(broken[:20]))
    for record in replaced:
        if _compatible(existing[record.key], record):
            continue
        target = (record.agency, record.id, record.version)
        users = sorted(
            {
                _where(other)
                for other in merged
                if other.key != record.key
                and any(
                    (r.agency, r.id, r.version) == target
                    for r in references(etree.fromstring(other.xml))
                )
            }
        )
        if users:
            raise Conflict(
                f"{_where(record)} is used by {', '.join(users[:10])}; a replacement may only "
                "add items or change names, descriptions and annotations"
            )


def build_registry(records: Sequence[ArtefactXml]) -> Registry:
    """Read all artefacts with sdmx1 as one message and index them. The same artefacts give the
    same (immutable) registry, so processes serving several databases with the same structures,
    and a write followed by a read, build it once."""
    return _build(tuple(records))


@functools.lru_cache(maxsize=4)
def _build(records: tuple[ArtefactXml, ...]) -> Registry:
    message = sdmx.read_sdmx(io.BytesIO(merge(r.xml for r in records)))
    _restore_provision_agreement_regions(message, records)
    _rebind_enumerations(message, records)
    return Registry(message)


_REPRESENTED = {"dimension", "timedimension", "measuredimension", "attribute", "primarymeasure"}
_REPRESENTED |= {"concept"}


def _rebind_enumerations(
    message: sdmx.message.StructureMessage, records: Sequence[ArtefactXml]
) -> None:
    """Point each component's and concept's codelist at the one its element names, agency
    included.

    sdmx1 2.28 resolves a `Ref` to a codelist by id and version only: with DSM:CL_AREA(1.0) and
    FR1:CL_AREA(1.0) both loaded, FR1's structure got DSM's codes. The stored element says which
    codelist it means, so every enumeration of a structure or concept scheme is set from it.
    """
    lists: dict[tuple[str, str, str], object] = {}
    owners: dict[tuple[str, str, str, str], object] = {}
    for obj in message.iter_objects():
        if obj.is_external_reference:
            continue
        key = (getattr(obj.maintainer, "id", ""), obj.id, str(obj.version or ""))
        if isinstance(obj, common.Codelist):
            lists[key] = obj
        owners[(resource_of(obj) or "", *key)] = obj
    for record in records:
        owner = owners.get(record.key)
        if record.resource not in ("datastructure", "conceptscheme") or owner is None:
            continue
        for element in etree.fromstring(record.xml).iter():
            if not isinstance(element.tag, str):
                continue
            if etree.QName(element).localname.lower() not in _REPRESENTED:
                continue
            for target in _enumeration_refs(element):
                wanted = lists.get((target.agency, target.id, target.version))
                representation = _representation(owner, element)
                if wanted is not None and representation is not None:
                    representation.enumerated = wanted


def _enumeration_refs(element: etree._Element) -> list[Reference]:
    """The codelist a component or concept element's own representation enumerates."""
    found = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if etree.QName(child).localname not in ("LocalRepresentation", "CoreRepresentation"):
            continue
        for enumeration in child:
            if isinstance(enumeration.tag, str) and etree.QName(enumeration).localname == (
                "Enumeration"
            ):
                found += [r for r in references(enumeration) if r.cls in ("Codelist", "")]
    return found


def _representation(owner: object, element: etree._Element) -> object | None:
    """The sdmx1 representation object of the component or concept `element` describes."""
    ident = element.get("id")
    if isinstance(owner, common.BaseDataStructureDefinition):
        for component in (
            *owner.dimensions.components,
            *owner.attributes.components,
            *owner.measures.components,
        ):
            if component.id == ident:
                return component.local_representation
        return None
    concept = owner.items.get(ident)  # a concept scheme
    return getattr(concept, "core_representation", None)


def _restore_provision_agreement_regions(
    message: sdmx.message.StructureMessage, records: Sequence[ArtefactXml]
) -> None:
    """Put back the cube regions of constraints attached to provision agreements.

    sdmx1 2.28 resolves the components of a constraint's cube region only when the constraint is
    attached to a dataflow or a DSD; for a provision agreement it drops every selection. DSM's
    provider scopes are exactly such constraints, so the selections are read again from the stored
    element and resolved through the agreement's dataflow.
    """
    xml = {(r.agency, r.id, r.version): r.xml for r in records if r.resource == "contentconstraint"}
    for constraint in message.constraint.values():
        agreements = [c for c in constraint.content if isinstance(c, ProvisionAgreement)]
        if (
            not agreements
            or (constraint.maintainer.id, constraint.id, constraint.version) not in xml
        ):
            continue
        dsd = getattr(agreements[0].structure_usage, "structure", None)
        if dsd is None:
            continue
        element = etree.fromstring(
            xml[(constraint.maintainer.id, constraint.id, constraint.version)]
        )
        regions = element.findall(f"{{{NS21['str']}}}CubeRegion")
        for region, region_element in zip(constraint.data_content_region, regions, strict=False):
            for key_value in region_element.findall(f"{{{NS21['com']}}}KeyValue"):
                dimension = dsd.dimensions.get(key_value.get("id"))
                values = [
                    MemberValue(value=v.text) for v in key_value.findall(f"{{{NS21['com']}}}Value")
                ]
                region.member[dimension] = MemberSelection(values_for=dimension, values=values)


@dataclass
class Outcome:
    """What a structure write did, per artefact key."""

    created: list[ArtefactXml] = field(default_factory=list)
    replaced: list[ArtefactXml] = field(default_factory=list)
    unchanged: list[ArtefactXml] = field(default_factory=list)


class Structures:
    """The structure registry of one server process, backed by the catalog tables."""

    # How long a revision check holds: structure changes made by other processes show within it
    # (changes made through this process show at once).
    CHECK_SECONDS = 1.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # The revision is checked on a connection of its own (no pool), so that a request holding
        # a pooled connection never waits on the pool for this check.
        in_memory = engine.url.get_backend_name() == "sqlite" and engine.url.database in (
            None,
            "",
            ":memory:",
        )
        self._probe = engine if in_memory else create_engine(engine.url, poolclass=NullPool)
        self._checked = 0.0
        self._lock = threading.Lock()
        self._registry: Registry | None = None
        self._revision = -1
        self._stamp = datetime.min
        self.cache: dict[tuple, object] = {}  # rendered answers, labels; keyed by revision
        self._flows: tuple[int, dict[tuple[str, str, str], CompiledFlow]] | None = None

    def remember(self, key: tuple, compute: Callable[[], object]) -> object:
        """`cache[key]`, computed on first use (the cache is emptied when it holds
        CACHE_ENTRIES: its keys carry revisions and data versions, so old entries are never
        asked for again)."""
        found = self.cache.get(key)
        if found is None:
            if len(self.cache) >= CACHE_ENTRIES:
                self.cache.clear()
            found = self.cache[key] = compute()
        return found

    @property
    def revision(self) -> int:
        """The revision last read, without looking at the database (-1 before the first)."""
        return self._revision

    def current(self) -> tuple[Registry, int, datetime]:
        """The registry, its revision and last-change time, rebuilt if the database moved on."""
        now = time.monotonic()
        if self._registry is not None and now - self._checked < self.CHECK_SECONDS:
            return self._registry, self._revision, self._stamp
        with self._probe.connect() as conn:
            revision, stamp = store.revision(conn)
        self._checked = now
        if revision != self._revision or self._registry is None:
            with self._lock:
                if revision != self._revision or self._registry is None:
                    with self.engine.connect() as conn:
                        revision, stamp = store.revision(conn)
                        records = store.all_artefacts(conn)
                    self._registry = build_registry(records)
                    self._revision, self._stamp = revision, stamp
        return self._registry, self._revision, self._stamp

    def flows(self) -> dict[tuple[str, str, str], CompiledFlow]:
        """Every dataflow compiled for validation and storage, for the current revision."""
        registry, revision, _ = self.current()
        cached = self._flows
        if cached is None or cached[0] != revision:
            cached = self._flows = (revision, compile_all(list(registry)))
        return cached[1]

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return store.count(conn) == 0

    def write(
        self,
        records: Sequence[ArtefactXml],
        *,
        allow_replace: bool = True,
        actor: Actor | None = None,
    ) -> Outcome:
        """Store `records` (one transaction, audited in it) after proving the result is whole and
        readable.

        Refuses (422) a set whose references do not resolve or that sdmx1 cannot read, and (409)
        a replacement when `allow_replace` is false, or a changed final artefact that others use.
        """
        keys = [r.key for r in records]
        if len(set(keys)) != len(keys):
            raise Invalid("The message holds the same artefact more than once")
        with self.engine.begin() as conn:
            existing = {r.key: r for r in store.all_artefacts(conn)}
            outcome = Outcome()
            for record in records:
                old = existing.get(record.key)
                if old is None:
                    outcome.created.append(record)
                elif old.xml == record.xml:
                    outcome.unchanged.append(record)
                else:
                    outcome.replaced.append(record)
            if outcome.replaced and not allow_replace:
                names = ", ".join(
                    f"{r.resource} {r.agency}:{r.id}({r.version})" for r in outcome.replaced
                )
                raise Conflict(f"Already exists with other content: {names}; use PUT to replace")
            merged = {**existing, **{r.key: r for r in records}}
            _refuse_breaking(records, outcome.replaced, existing, list(merged.values()))
            try:
                registry = build_registry(list(merged.values()))
            except Exception as exc:  # sdmx1 raises many kinds; each means "not readable"
                raise Invalid(f"The structures cannot be read as SDMX: {exc}") from exc
            store.save(conn, outcome.created + outcome.replaced)
            for action, changed in (("create", outcome.created), ("replace", outcome.replaced)):
                for r in changed:
                    target = f"{r.resource}={r.agency}:{r.id}({r.version})"
                    audit.record(conn, actor or SYSTEM, f"structure.{action}", target, "ok")
            revision, stamp = store.revision(conn)
        with self._lock:  # the registry just built is the new current one: no second build
            self._registry, self._revision, self._stamp = registry, revision, stamp
        return outcome

    def delete(
        self, resource: str, agency: str, ident: str, version: str, actor: Actor | None = None
    ) -> None:
        """Delete one artefact; 404 if absent, 409 if other artefacts refer to it."""
        key = (resource, agency, ident, version)
        with self.engine.begin() as conn:
            records = store.all_artefacts(conn)
            target = next((r for r in records if r.key == key), None)
            if target is None:
                raise NotFound(f"No {resource} {agency}:{ident}({version})")
            rest = [r for r in records if r.key != key]
            dependents = sorted(
                {
                    where
                    for where, ref in _dangling(rest)
                    if (ref.agency, ref.id, ref.version) == (agency, ident, version)
                }
            )
            if dependents:
                raise Conflict(
                    f"{resource} {agency}:{ident}({version}) is used by: "
                    + "; ".join(dependents[:10]),
                    dependents=dependents,
                )
            store.remove(conn, key)
            target = f"{resource}={agency}:{ident}({version})"
            audit.record(conn, actor or SYSTEM, "structure.delete", target, "ok")
        self._checked = 0.0  # look again at once: the registry changed

    def load_files(self, paths: Iterable[Path]) -> Outcome:
        return self.write([a for _, a in read_files(paths)])


def check_files(paths: Iterable[Path]) -> list[str]:
    """Problems with the structure files: unparseable files, duplicates, unresolved references,
    and anything sdmx1 cannot read. An empty list means all is well."""
    problems: list[str] = []
    records: list[ArtefactXml] = []
    seen: dict[tuple[str, str, str, str], Path] = {}
    for file in structure_files(paths):
        try:
            parse_xml(file.read_bytes())
            found = read_artefacts(file.read_bytes())
        except Exception as exc:
            problems.append(f"{file}: {exc}")
            continue
        for record in found:
            if record.key in seen:
                problems.append(f"{file}: {record.key} is also defined in {seen[record.key]}")
            seen[record.key] = file
            records.append(record)
    problems.extend(unresolved(records))
    if not problems:
        try:
            build_registry(records)
        except Exception as exc:
            problems.append(f"sdmx1 cannot read the merged structures: {exc}")
    return problems


# --- Queries and maintenance as the REST API asks for them ----------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A structure response body and what HTTP caching needs to know about it."""

    body: bytes
    revision: int
    stamp: datetime


def render(
    structures: Structures,
    query: StructureQuery,
    media_type: MediaType,
    lang: str,
    structure_url: str,
    description: str,
    hidden: frozenset[str] = frozenset(),
) -> Rendered:
    """The structure message answering `query`, or NotFound when nothing matches. Dataflows in
    `hidden` (AGENCY:ID(VERSION): restricted, and the principal may not see them) are not there,
    nor what exists only for them (their provision agreements, constraints, categorisations)."""
    registry, revision, stamp = structures.current()
    key = (revision, query, media_type, lang, structure_url, hidden)
    cached = structures.cache.get(key)
    if cached is not None:
        return cached
    selected = [a for a in registry.select(query) if not _about_hidden(a, hidden)]
    if not selected:
        raise NotFound(f"No structure matches {description}")
    referenced = [
        a for a in registry.references(selected, query.references) if not _about_hidden(a, hidden)
    ]
    shaped = registry.shape(selected, referenced, query.detail, query.items)
    header = Header(id=f"DSM_{uuid.uuid4().hex[:12].upper()}", prepared=datetime.now(UTC))
    body = write(media_type, StructureResponse(header, shaped, lang, structure_url))
    rendered = Rendered(body, revision, stamp)
    structures.remember(key, lambda: rendered)
    return rendered


def flow_ref(flow: object) -> str:
    return f"{flow.maintainer.id}:{flow.id}({flow.version})"  # type: ignore[attr-defined]


def _about_hidden(artefact: object, hidden: frozenset[str]) -> bool:
    """Whether `artefact` is a hidden dataflow or refers to one (a provision agreement, a
    constraint attached to it or to its provision agreement, a categorisation of it)."""
    if not hidden:
        return False
    targets: list[object] = [artefact]
    if isinstance(artefact, common.ProvisionAgreement):
        targets.append(artefact.structure_usage)
    elif isinstance(artefact, common.BaseConstraint):
        for target in getattr(artefact, "content", ()):
            targets += [target, getattr(target, "structure_usage", None)]
    elif isinstance(artefact, common.Categorisation):
        targets.append(artefact.artefact)
    return any(isinstance(t, common.BaseDataflow) and flow_ref(t) in hidden for t in targets if t)


def read_structure_message(data: bytes) -> list[ArtefactXml]:
    """The artefacts of an SDMX-ML 2.1 or 3.0 structure message, as 2.1 elements.

    SDMX-ML 3.0 is read with sdmx1 and written back as 2.1 by DSM's own writer, since the catalog
    keeps one form."""
    root = parse_xml(data)
    if etree.QName(root).namespace != NS30["mes"]:
        return read_artefacts(data)
    try:
        message = sdmx.read_sdmx(io.BytesIO(data))
    except Exception as exc:
        raise Invalid(f"The SDMX-ML 3.0 structure message cannot be read: {exc}") from exc
    shaped = [Shaped(a) for a in iter_artefacts(message)]
    header = Header(id="DSM_IMPORT", prepared=datetime.now(UTC))
    return read_artefacts(write(MediaType.STRUCTURE_ML_21, StructureResponse(header, shaped)))


def iter_artefacts(message: sdmx.message.StructureMessage) -> list:
    """Every maintainable artefact of an sdmx1 structure message."""
    found = []
    for name in (
        "organisation_scheme",
        "dataflow",
        "category_scheme",
        "categorisation",
        "codelist",
        "concept_scheme",
        "structure",
        "constraint",
        "provisionagreement",
    ):
        found.extend(a for a in getattr(message, name).values() if not a.is_external_reference)
    return found


def upgrade_observation_tables(structures: Structures) -> None:
    """Bring existing observation tables up to date (one transaction): `observations.upgrade`."""
    seen: set[str] = set()
    with structures.engine.begin() as conn:
        for flow in structures.flows().values():
            tables = observations.tables_for(flow)
            if tables.name not in seen:
                seen.add(tables.name)
                observations.upgrade(conn, tables)
