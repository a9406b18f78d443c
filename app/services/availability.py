"""Data availability: a data query -> an SDMX `ContentConstraint` (role Actual) describing the
data that exist, written by the structure writers like any structure message.

What goes in the constraint (attached to the dataflow):

- one included `CubeRegion` with one `KeyValue` per dimension asked for (`componentID`);
  - `mode=exact`: the values present in the data the whole query selects;
  - `mode=available`: for each dimension, the values still possible when that dimension's own
    selection (key position and `c[...]` filter) is dropped and every other one kept: the choices
    a query form can still offer next to what is already picked;
- annotations, as .Stat Suite does, of type `sdmx_metrics`: `obs_count` and `series_count` (of the
  whole query, in both modes) and `time_period_start` / `time_period_end` (the first instant
  covered and the last, inclusive, as ISO date-times; in available mode without the query's own
  period selection). The structure writers do not write `TimeRange` selections, so the time span
  travels as annotations rather than a `TIME_PERIOD` KeyValue;
- when nothing matches, one *excluded* CubeRegion without KeyValues: it excludes every key, so
  nothing is available (an SDMX-ML `KeyValue` needs at least one value, and an empty included
  region would mean "no restriction"; pysdmx wants exactly one region). `obs_count` is then 0.

`references` adds artefacts around the dataflow from the registry: `dataflow`, `datastructure`,
`conceptscheme`, `codelist`, `dataproviderscheme` (of the dataflow's provision agreements), or
`all` of them.
"""

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sdmx.model import v21

from app.auth.access import Access
from app.errors import BadRequest
from app.formats.media import MediaType
from app.model.data_query import DataQuery
from app.model.dsd import CompiledFlow
from app.model.structure import Header, Shaped, StructureResponse
from app.services import access as policy
from app.services.data import data_version, resolve_flow, selection_for
from app.services.registry import Registry, resource_of
from app.services.structures import Structures
from app.storage import availability as sql
from app.storage import data_queries
from app.storage import observations as store
from app.storage.engine import read_snapshot
from app.writers.structure import write

MODES: Final = ("exact", "available")
REFERENCES: Final = (
    "none",
    "all",
    "datastructure",
    "conceptscheme",
    "codelist",
    "dataproviderscheme",
    "dataflow",
    "valuelist",  # v2; DSM has none
)
METRICS: Final = "sdmx_metrics"


@dataclass(frozen=True)
class AvailabilityQuery:
    data: DataQuery
    components: tuple[str, ...] | None = None  # None: every dimension
    mode: str = "exact"
    references: tuple[str, ...] = ("none",)


@dataclass(frozen=True)
class Found:
    """What the data say: values per dimension (None: not asked), counts and time span."""

    values: dict[str, list[str]]
    observations: int
    series: int
    start: str | None
    end: str | None  # exclusive


@dataclass(frozen=True)
class Answer:
    body: bytes
    version: str  # changes whenever the answer could change
    modified: datetime
    audit: list[str]  # the kinds of audited read this is (services.access.audited_reads)
    flow_ref: str


def parse_options(
    mode: str | None, references: str | None, components: str | None, api: str
) -> tuple[str, tuple[str, ...], tuple[str, ...] | None]:
    """`mode`, `references` (a list on v2) and the `componentID` path segment, checked."""
    mode = mode or "exact"
    if mode not in MODES:
        raise BadRequest(f"mode={mode!r}; expected exact or available")
    refs = tuple(r for r in (references or "none").split("," if api == "v2" else "+") if r)
    for ref in refs:
        if ref not in REFERENCES or (ref == "valuelist" and api == "v1"):
            allowed = [r for r in REFERENCES if api == "v2" or r != "valuelist"]
            raise BadRequest(f"references={ref!r}; expected one of {', '.join(allowed)}")
    wanted = None
    if components not in (None, "", "all", "*"):
        wanted = tuple(components.split(","))
    return mode, refs or ("none",), wanted


def _without(query: DataQuery, flow: CompiledFlow, component: str) -> DataQuery:
    """The query with `component`'s own selection dropped (key position, c[...], periods)."""
    filters = tuple(f for f in query.filters if f.component != component)
    if component == (flow.time_dimension or "TIME_PERIOD"):
        return dataclasses.replace(query, filters=filters, start_period=None, end_period=None)
    keys = query.keys
    if keys is not None and component in flow.dimensions:
        position = flow.dimensions.index(component)
        keys = tuple(tuple(None if i == position else v for i, v in enumerate(key)) for key in keys)
    return dataclasses.replace(query, filters=filters, keys=keys)


def find(conn, flow: CompiledFlow, query: AvailabilityQuery, view: data_queries.View) -> Found:  # type: ignore[no-untyped-def]
    """Read the availability of `flow`'s current data for `query` as `view` sees it."""
    tables = store.tables_for(flow)
    base = dataclasses.replace(query.data, first_n=None, last_n=None, offset=0, limit=None)
    time = flow.time_dimension or "TIME_PERIOD"
    wanted = [d for d in flow.dimensions if query.components is None or d in query.components]
    if not store.exists(conn, tables):
        return Found({d: [] for d in wanted}, 0, 0, None, None)
    selection = selection_for(flow, base, view, ())
    total = sql.summary(conn, tables, selection)
    seen: dict[str, set[str]] = {d: set() for d in flow.dimensions}
    count = 0
    for key in sql.series(conn, tables, selection):
        count += 1
        for dimension, value in zip(flow.dimensions, key, strict=True):
            if value is not None:
                seen[dimension].add(value)
    span = total
    if query.mode == "exact":
        values = {d: sorted(seen[d]) for d in wanted}
    else:
        values = {
            d: sql.values(conn, tables, selection_for(flow, _without(base, flow, d), view, ()), d)
            for d in wanted
        }
        if query.components is None or time in query.components:
            span = sql.summary(
                conn, tables, selection_for(flow, _without(base, flow, time), view, ())
            )
    return Found(values, total.observations, count, span.start, span.end)


def _last_instant(end: str) -> str:
    """The inclusive end of a span given its exclusive end (one second before)."""
    try:
        moment = datetime.fromisoformat(end)
    except ValueError:
        return end
    return (moment - timedelta(seconds=1)).isoformat()


def constraint(flow: CompiledFlow, dataflow: object, dsd: object, found: Found, time_asked: bool):  # type: ignore[no-untyped-def]
    """The sdmx1 ContentConstraint (role Actual) describing `found`."""
    metrics = {"obs_count": str(found.observations), "series_count": str(found.series)}
    if time_asked and found.start is not None and found.end is not None:
        metrics["time_period_start"] = found.start
        metrics["time_period_end"] = _last_instant(found.end)
    annotations = [v21.Annotation(id=k, title=v, type=METRICS) for k, v in metrics.items()]
    nothing = found.observations == 0 or any(not v for v in found.values.values())
    region = v21.CubeRegion(included=not nothing)
    for dimension_id, codes in () if nothing else found.values.items():
        dimension = dsd.dimensions.get(dimension_id)  # type: ignore[attr-defined]
        region.member[dimension] = v21.MemberSelection(
            values_for=dimension, values=[v21.MemberValue(value=c) for c in codes]
        )
    return v21.ContentConstraint(
        id=f"{flow.id}_AVAILABILITY",
        name={"en": f"Data available in {flow.ref}"},
        version="1.0",
        maintainer=dataflow.maintainer,  # type: ignore[attr-defined]
        is_final=False,
        annotations=annotations,
        role=v21.ConstraintRole(role=v21.ConstraintRoleType.actual),
        content={dataflow},
        data_content_region=[region],
    )


def referenced(registry: Registry, dataflow: object, modes: tuple[str, ...]) -> list:
    """The artefacts `references` adds: the dataflow, its DSD, concept schemes and codelists,
    and the data provider schemes of its provision agreements."""
    if set(modes) <= {"none", "valuelist"}:
        return []
    around = [
        dataflow,
        *registry.references([dataflow], "descendants"),
        *[
            a
            for a in registry.references(registry.references([dataflow], "parents"), "children")
            if resource_of(a) == "dataproviderscheme"
        ],
    ]
    wanted = set(REFERENCES[2:]) if "all" in modes else set(modes)
    result, seen = [], set()
    for artefact in around:
        if resource_of(artefact) in wanted and id(artefact) not in seen:
            seen.add(id(artefact))
            result.append(artefact)
    return result


def answer(
    structures: Structures,
    query: AvailabilityQuery,
    media_type: MediaType,
    lang: str,
    structure_url: str,
    access: Access,
    now: datetime,
) -> Answer:
    """The availability structure message for `query` as `access` may see it at `now`, and the
    data version it answers from."""
    flow, dsd = resolve_flow(structures, query.data, access)
    registry, revision, structure_stamp = structures.current()
    time = flow.time_dimension or "TIME_PERIOD"
    for component in query.components or ():
        if component not in flow.dimensions and component != time:
            raise BadRequest(
                f"componentID {component!r} is not a dimension of {flow.ref}; expected one of "
                f"{', '.join((*flow.dimensions, time))} or all"
            )
    dataflow = registry.get("dataflow", flow.agency, flow.id, flow.version)
    tables = store.tables_for(flow)
    with read_snapshot(structures.engine) as conn:
        view = policy.latest_view(access, flow.ref)
        exists = store.exists(conn, tables)
        probe = data_queries.probe(conn, tables if exists else None, flow.ref, view, now)
        stamp = probe.stamp
        if probe.pending and not view.sees_embargoed:
            view = policy.embargo_view(conn, access, view, now)
            opened_closed = data_queries.stamp(conn, tables, flow.ref, view) if exists else ()
            stamp = (*opened_closed, *probe.attributes)
        found = find(conn, flow, query, view)
        carries = data_queries.CONFIDENTIALITY in tables.obs.c
        audit = policy.audited_reads(view, access.is_restricted(flow.ref), carries, probe.pending)
    moments = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in (*stamp, structure_stamp) if t]
    version = data_version(flow.ref, stamp, revision, view)
    time_asked = query.components is None or time in query.components
    artefact = constraint(flow, dataflow, dsd, found, time_asked)
    shaped = [
        Shaped(artefact),
        *[Shaped(a) for a in referenced(registry, dataflow, query.references)],
    ]
    header = Header(id=f"DSM_{uuid.uuid4().hex[:12].upper()}", prepared=now)
    body = write(media_type, StructureResponse(header, shaped, lang, structure_url))
    return Answer(body, version, max(moments), audit, flow.ref)
