"""Data queries: a parsed REST data query -> the dataflow, one SQL selection, and a streamed
`DataResponse` for a writer; plus the data version that ETags and Last-Modified follow."""

import dataclasses
import hashlib
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection
from sqlalchemy.sql import Select

from app.auth.access import Access
from app.errors import (
    BadRequest,
    DsmError,
    Forbidden,
    NotFound,
    NotImplementedResource,
    TooLarge,
    Unauthorized,
)
from app.model.data_query import DataQuery
from app.model.dsd import CompiledFlow, Level
from app.model.query import StructureQuery
from app.model.response import DataResponse, DatasetBlock
from app.services import access as policy
from app.services.structures import Structures
from app.storage import csv_export
from app.storage import data_queries as sql
from app.storage import observations as store
from app.validation.periods import PeriodError, period_range


@dataclass
class Prepared:
    """A query resolved and ready to stream: the response (its datasets not yet read), and the
    version of the data it answers from."""

    responses: list[DataResponse]  # one per dataflow with data (one, empty, if none has)
    version: str  # changes whenever the answer could change
    modified: datetime
    empty: bool
    audit: list[str]  # the kinds of audited read this is ("read.confidential", ...)
    counted: int = 0  # observations counted against the response limit


def prepare(
    structures: Structures,
    conn: Connection,
    query: DataQuery,
    access: Access,
    now: datetime,
    lang: str = "en",
    csv_options: dict[str, str] | None = None,
    max_observations: int | None = None,
) -> Prepared:
    """Resolve the query and build the streamed responses on `conn` (kept open while
    streaming), one per dataflow it matches, as `access` may see them at `now`; TooLarge when
    they would hold more than `max_observations` together.

    With several dataflows (v2 wildcards, a context of `*`), a dataflow the key or a filter does
    not fit, or that the principal may not read, is left out (the error only when that is true
    of all), and so is one without matching data."""
    candidates = resolve_flows(structures, query, access)
    parts: list[Prepared] = []
    refused: list[DsmError] = []
    budget = max_observations
    for flow, dsd in candidates:
        try:
            part = _prepare_flow(
                structures,
                conn,
                query,
                flow,
                dsd,
                access,
                now,
                lang,
                csv_options,
                budget,
                max_observations,
            )
        except (BadRequest, Unauthorized, Forbidden) as exc:  # not for this dataflow
            if len(candidates) == 1:
                raise
            refused.append(exc)
            continue
        parts.append(part)
        if budget is not None:
            budget -= part.counted
    if not parts:
        raise refused[0]
    if len(parts) == 1:
        return parts[0]
    full = [p for p in parts if not p.empty]
    version = hashlib.sha1("|".join(p.version for p in parts).encode()).hexdigest()[:16]
    return Prepared(
        [r for p in full for r in p.responses] or parts[0].responses,
        version,
        max(p.modified for p in parts),
        not full,
        sorted({kind for p in parts for kind in p.audit}),
        sum(p.counted for p in parts),
    )


class _Labels:
    """Component and code names of a DSD in one language (sdmx1 objects, looked up once)."""

    def __init__(self, dsd: object, lang: str) -> None:
        self.lang = lang
        self._components: dict[str, str] = {}
        self._codes: dict[str, dict[str, str]] = {}
        for component in [*dsd.dimensions, *dsd.attributes, *dsd.measures]:  # type: ignore[attr-defined]
            concept = getattr(component, "concept_identity", None)
            if concept is not None:
                self._components[component.id] = _localised(concept.name, lang) or component.id
            enumerated = getattr(
                getattr(component, "local_representation", None), "enumerated", None
            )
            if enumerated is not None:
                self._codes[component.id] = {
                    code.id: _localised(code.name, lang) or code.id for code in enumerated
                }

    def component(self, component_id: str) -> str | None:
        return self._components.get(component_id)

    def code(self, component_id: str, code: str) -> str | None:
        return self._codes.get(component_id, {}).get(code)


def _labels(
    structures: Structures, revision: int, flow_ref: str, dsd: object, lang: str
) -> _Labels:
    """A DSD's labels in one language, built once per structure revision (building them walks
    every code of every codelist: most of a small query's time)."""
    key = ("labels", revision, flow_ref, lang)
    return structures.remember(key, lambda: _Labels(dsd, lang))  # type: ignore[return-value]


def _localised(text: object, lang: str) -> str | None:
    localizations = getattr(text, "localizations", None) or {}
    return (
        localizations.get(lang)
        or localizations.get("en")
        or next(iter(localizations.values()), None)
    )


def release(conn: Connection) -> None:
    """Give back a data query's connection, closing any result still streaming on it."""
    sql.close_results(conn)
    conn.close()


def resolve_flow(
    structures: Structures, query: DataQuery, access: Access
) -> tuple[CompiledFlow, object]:
    """The one dataflow a query addresses (and its sdmx1 DSD): availability and schema queries
    answer one dataflow (501 when several match)."""
    candidates = resolve_flows(structures, query, access)
    if len(candidates) > 1:
        names = ", ".join(c[0].ref for c in candidates)
        raise NotImplementedResource(
            f"The query matches several dataflows ({names}); this resource answers one "
            "dataflow at a time: name one"
        )
    return candidates[0]


def resolve_flows(
    structures: Structures, query: DataQuery, access: Access
) -> list[tuple[CompiledFlow, object]]:
    """The dataflows a data query addresses (with their sdmx1 DSDs), by reference, or 404; a
    dataflow `access` may not see (restricted) is not there."""
    _, revision, _ = structures.current()
    key = ("flows", revision, query.context, query.agencies, query.ids, query.versions, query.api)
    every = structures.remember(key, lambda: _addressed(structures, query))
    candidates = [c for c in every if access.sees(c[0].ref)]  # type: ignore[attr-defined]
    if not candidates:
        what = ",".join(query.ids or ("*",))
        raise NotFound(f"No dataflow matches {what}")
    return candidates


def _addressed(structures: Structures, query: DataQuery) -> list[tuple[CompiledFlow, object]]:
    """Every dataflow a data query's reference names, sorted, each once."""
    registry, _, _ = structures.current()
    resource = {"datastructure": "datastructure", "provisionagreement": "provisionagreement"}.get(
        query.context, "dataflow"
    )
    structure_query = StructureQuery(
        resource=resource,
        agencies=query.agencies,
        ids=query.ids,
        versions=query.versions,
        api=query.api,
    )
    found = registry.select(structure_query)
    flows = structures.flows()
    candidates: list[tuple[CompiledFlow, object]] = []
    for artefact in found:
        if resource == "dataflow":
            flow_objects = [artefact]
        elif resource == "datastructure":
            flow_objects = [f for f in registry.dataflows() if f.structure is artefact]
        else:
            flow_objects = [artefact.structure_usage]
        for flow_object in flow_objects:
            compiled = flows.get((flow_object.maintainer.id, flow_object.id, flow_object.version))
            if compiled is not None:
                candidates.append((compiled, flow_object.structure))
    unique = {c[0].ref: c for c in candidates}
    return [unique[ref] for ref in sorted(unique)]


def _keys(flow: CompiledFlow, query: DataQuery) -> list[dict[str, tuple[str, ...]]]:
    result = []
    for key in query.keys or ():
        if len(key) != len(flow.dimensions):
            raise BadRequest(
                f"The key has {len(key)} positions but {flow.ref} has {len(flow.dimensions)} "
                f"dimensions ({'.'.join(flow.dimensions)})"
            )
        result.append({d: v for d, v in zip(flow.dimensions, key, strict=True) if v is not None})
    return result


def _bound(parameter: str, text: str, end: bool) -> str:
    try:
        start, stop = period_range(text)
    except PeriodError as exc:
        raise BadRequest(f"Invalid {parameter} {text!r}: {exc}") from exc
    return stop if end else start


def _conditions(flow: CompiledFlow, query: DataQuery) -> list[list[list[sql.Condition]]]:
    groups = []
    for component_filter in query.filters:
        name = component_filter.component
        component = flow.components.get(name)
        if component is None:
            raise BadRequest(f"c[{name}]: {name} is not a component of {flow.ref}")
        if component.role == "attribute" and component.level == Level.DATASET:
            raise BadRequest(
                f"c[{name}]: {name} is a dataset-level attribute; DSM filters "
                "observations by dimensions, the measure and attributes below "
                "dataset level"
            )
        alternatives = []
        for alternative in component_filter.alternatives:
            conditions = []
            for condition in alternative:
                if component.role == "time" and condition.op in ("ge", "gt", "le", "lt"):
                    end = condition.op in ("le", "gt")
                    bound = _bound(f"c[{name}]", condition.value, end)
                    conditions.append(sql.Condition(name, f"period_{condition.op}", bound))
                    continue
                numeric = component.role == "measure" and condition.op in (
                    "eq",
                    "ne",
                    "lt",
                    "le",
                    "gt",
                    "ge",
                )
                if numeric:
                    try:
                        float(condition.value)
                    except ValueError as exc:
                        raise BadRequest(f"c[{name}]: {condition.value!r} is not a number") from exc
                conditions.append(sql.Condition(name, condition.op, condition.value, numeric))
            alternatives.append(conditions)
        groups.append(alternatives)
    return groups


def _attributes(flow: CompiledFlow, query: DataQuery, stored: tuple[str, ...]) -> tuple[str, ...]:
    if query.detail in ("dataonly", "serieskeysonly"):
        return ()
    spec = query.attributes
    levels = {"series": Level.SERIES, "obs": Level.OBSERVATION}
    if spec in ("dsd", "all"):
        return stored
    if spec in ("none", "msd", "dataset"):
        return ()
    if isinstance(spec, str):
        return tuple(a for a in stored if flow.components[a].level == levels[spec])
    unknown = [a for a in spec if a not in flow.components]
    if unknown:
        raise BadRequest(f"attributes: {', '.join(unknown)} not in {flow.ref}")
    return tuple(a for a in stored if a in spec)


def _prepare_flow(
    structures: Structures,
    conn: Connection,
    query: DataQuery,
    flow: CompiledFlow,
    dsd: object,
    access: Access,
    now: datetime,
    lang: str,
    csv_options: dict[str, str] | None,
    max_observations: int | None,
    limit: int | None,
) -> Prepared:
    """The response of one dataflow (`max_observations`: what is left of the response limit
    `limit`)."""
    view = policy.latest_view(access, flow.ref)
    tables = store.tables_for(flow)
    exists = _exists(structures, conn, tables)
    probe = sql.probe(conn, tables if exists else None, flow.ref, view, now)
    stamp = probe.stamp
    if probe.pending and not view.sees_embargoed:  # the rare case: a release is ahead
        view = policy.embargo_view(conn, access, view, now)
        opened_closed = sql.stamp(conn, tables, flow.ref, view) if exists else (None, None)
        stamp = (*opened_closed, *probe.attributes)
    time = flow.time_dimension or "TIME_PERIOD"
    at_obs = query.dimension_at_observation
    if at_obs not in ("AllDimensions", time) and at_obs not in flow.dimensions:
        raise BadRequest(f"dimensionAtObservation {at_obs!r} is not a dimension of {flow.ref}")
    if at_obs == "AllDimensions":
        series: tuple[str, ...] = ()
        ordered = (*flow.dimensions, time)
    elif at_obs == time:
        series = flow.dimensions
        ordered = (*series, time)
    else:
        series = (*[d for d in flow.dimensions if d != at_obs], time)
        ordered = (*series, at_obs)
    stored = tables.values[1:]
    attributes = _attributes(flow, query, stored)
    columns = (*ordered, flow.measure, *attributes)
    order_columns = [(c, False) for c in ordered]
    if at_obs == time or at_obs == "AllDimensions":
        order_columns[-1] = ("__period_start", False)
    order = tuple(_sort(query, order_columns, flow))
    selection = selection_for(flow, query, view, columns, order)
    statement = None
    if exists:  # built once: counted, then streamed
        build = sql.history_query if query.include_history else sql.current_query
        statement = build(tables, selection)
    counted = 0
    if statement is not None and max_observations is not None:
        counted = _within_limit(
            structures, conn, tables, flow, query, selection, statement, stamp, max_observations
        )
        if counted > max_observations:
            raise TooLarge(
                f"The answer would hold more than {limit:,} observations, the most DSM sends "
                "in one response: narrow the key or the period, or page through it with limit "
                "and offset (v2)"
            )
    _, revision, structure_stamp = structures.current()
    moments = [_aware(t) for t in (*stamp, structure_stamp) if t is not None]
    modified = max(moments)
    version = data_version(flow.ref, stamp, revision, view)
    blocks = _blocks(conn, tables, selection, query, columns, statement)
    if _drops_measure(flow, query):
        blocks = _without_measure(blocks, len(ordered))
    first = next(blocks, None)
    datasets = _chain(first, blocks)
    dataset_attributes = (
        _dataset_attributes(structures, conn, flow.ref, view, probe) if exists else {}
    )
    if attributes == () and query.attributes not in ("dataset", "all", "dsd"):
        dataset_attributes = {}
    if (
        first is not None
        and dataset_attributes
        and query.detail not in ("dataonly", "serieskeysonly")
    ):
        first.attributes = dataset_attributes
    options = csv_options or {}
    response = DataResponse(
        id=f"DSM_{uuid.uuid4().hex[:12].upper()}",
        prepared=now,
        flow=flow,
        dimension_at_observation=at_obs,
        columns=columns,
        series_dimensions=series,
        attributes=attributes,
        datasets=datasets,
        detail=query.detail,
        lang=lang,
        labels=_labels(structures, revision, flow.ref, dsd, lang),
        csv_labels=options.get("labels", "id"),
        csv_time_format=options.get("timeFormat", "original"),
        csv_keys=options.get("keys", "none"),
        structure_urn=f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={flow.ref}",
    )
    audit = policy.audited_reads(
        view, access.is_restricted(flow.ref), sql.CONFIDENTIALITY in tables.obs.c, probe.pending
    )
    return Prepared([response], version, modified, first is None, audit, counted)


def _exists(structures: Structures, conn: Connection, tables: store.FlowTables) -> bool:
    """Whether the DSD's tables exist (remembered once they do: they are never dropped)."""
    key = ("tables", tables.name)
    if structures.cache.get(key):
        return True
    found = store.exists(conn, tables)
    if found:
        structures.remember(key, lambda: True)
    return found


def _dataset_attributes(
    structures: Structures, conn: Connection, flow_ref: str, view: sql.View, probe: sql.Probe
) -> dict[str, str]:
    """The dataset-level attribute values `view` sees: remembered per version of them while no
    release is pending (they change only with a submission that moves `probe.attributes`)."""
    if view.now is not None:
        return sql.dataset_attribute_values(conn, flow_ref, view)
    key = ("dataset attributes", flow_ref, view.sees_embargoed, probe.attributes)
    return structures.remember(key, lambda: sql.dataset_attribute_values(conn, flow_ref, view))  # type: ignore[return-value]


def data_version(flow_ref: str, stamp: tuple, revision: int, view: sql.View) -> str:
    """What ETags follow: the data as the view sees it, the structures, and the kind of view
    (two principals seeing different data must not share a tag)."""
    kind = (view.sees_embargoed, view.confidential, view.pending)
    text_ = f"{flow_ref}|{stamp}|{revision}|{kind}"
    return hashlib.sha1(text_.encode()).hexdigest()[:16]


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive date-times; DSM stores UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def selection_for(
    flow: CompiledFlow,
    query: DataQuery,
    view: sql.View,
    columns: tuple[str, ...],
    order: tuple[tuple[str, bool], ...] = (),
) -> sql.Selection:
    """The SQL selection a data (or availability) query asks for: keys, providers, component
    filters, the period window, visibility, first/last N, offset and limit."""
    return sql.Selection(
        dataflow=flow.ref,
        columns=columns,
        order=order,
        series=flow.dimensions,
        keys=_keys(flow, query),
        providers=query.providers,
        conditions=_conditions(flow, query),
        window_start=_bound("startPeriod", query.start_period, False)
        if query.start_period
        else None,
        window_end=_bound("endPeriod", query.end_period, True) if query.end_period else None,
        as_of=query.as_of,
        updated_after=query.updated_after,
        first_n=query.first_n,
        last_n=query.last_n,
        offset=query.offset,
        limit=query.limit,
        view=view,
    )


def _sort(
    query: DataQuery, default: list[tuple[str, bool]], flow: CompiledFlow
) -> list[tuple[str, bool]]:
    if not query.sort:
        return default
    result: list[tuple[str, bool]] = []
    for name, descending in query.sort:
        if name in ("*", "series_key"):
            result += [(d, descending) for d in flow.dimensions]
        elif name == (flow.time_dimension or "TIME_PERIOD"):
            result.append(("__period_start", descending))
        elif name in flow.components and flow.components[name].role != "measure":
            result.append((name, descending))
        else:
            raise BadRequest(f"sort: {name} is not a dimension or attribute of {flow.ref}")
    return result + [c for c in default if c[0] not in {r[0] for r in result}]


def _blocks(
    conn: Connection,
    tables: store.FlowTables,
    selection: sql.Selection,
    query: DataQuery,
    columns: tuple[str, ...],
    statement: Select | None,
) -> Iterator[DatasetBlock]:
    """The datasets of the answer (`statement`: the history or current rows; None when the
    table does not exist yet), each yielded only if it has rows."""
    if statement is None:
        return
    values = sql.params(selection)
    if query.include_history:
        yield from _history_blocks(sql.stream(conn, statement, values))
        return
    streamed = sql.stream(conn, statement, values)
    current = _peeked(streamed)
    if current is not None and query.updated_after is None:
        export = csv_export.Export(conn, statement, values, streamed, tables.series)
        yield DatasetBlock(current, export=export)
    elif current is not None:
        yield DatasetBlock(current, action="Replace")
    if query.updated_after is not None:
        width = len(columns)
        key_columns = columns[: len(tables.key)]
        keys_only = dataclasses.replace(
            selection, columns=key_columns, order=tuple((c, False) for c in key_columns)
        )
        deleted = _peeked(
            tuple(row[: len(tables.key)]) + (None,) * (width - len(tables.key))
            for row in sql.deletions(conn, tables, keys_only)
        )
        if deleted is not None:
            yield DatasetBlock(deleted, action="Delete")


def _within_limit(
    structures: Structures,
    conn: Connection,
    tables: store.FlowTables,
    flow: CompiledFlow,
    query: DataQuery,
    selection: sql.Selection,
    statement: Select,
    stamp: tuple,
    cap: int,
) -> int:
    """The rows `statement` gives, or a bound of them not above `cap`; above `cap` when it
    gives more. Counts only when no cheap bound (limit, full keys, the dataflow's size) fits."""
    bound = _bounded(flow, query, selection)
    if bound is None or bound > cap:
        bound = _flow_rows(structures, conn, tables, flow.ref, query.include_history, stamp)
    if bound <= cap:
        return bound
    return sql.count_upto(conn, statement, sql.params(selection), cap)


def _flow_rows(
    structures: Structures,
    conn: Connection,
    tables: store.FlowTables,
    flow_ref: str,
    history: bool,
    stamp: tuple,
) -> int:
    """How many rows (current ones, or every version) the dataflow holds: a bound on any query
    of it, counted once per data version (the count reads the whole dataflow's index)."""
    key = ("rows", flow_ref, history, stamp)
    return structures.remember(key, lambda: sql.flow_rows(conn, tables, flow_ref, history))  # type: ignore[return-value]


# the most observations one series holds, for the response limit: daily data over 50 years
SERIES_MAX = 20_000


def _bounded(flow: CompiledFlow, query: DataQuery, selection: sql.Selection) -> int | None:
    """An upper bound of the rows a query gives without counting them: its `limit`, or, for
    keys that name every dimension (at most 1,000 series) without history, SERIES_MAX per
    series. None: count."""
    if selection.limit is not None:
        return selection.limit
    if query.include_history or not selection.keys:
        return None
    series = 0
    for key in selection.keys:
        if len(key) < len(flow.dimensions):
            return None
        combinations = 1
        for values in key.values():
            combinations *= len(values)
        series += combinations
    return series * SERIES_MAX if series <= 1000 else None


def _drops_measure(flow: CompiledFlow, query: DataQuery) -> bool:
    """v2 `measures=none` (or a list without the measure): observations without their value."""
    spec = query.measures
    return spec == "none" or (isinstance(spec, tuple) and flow.measure not in spec)


def _without_measure(blocks: Iterator[DatasetBlock], position: int) -> Iterator[DatasetBlock]:
    for block in blocks:
        rows = block.rows
        block.rows = ((*row[:position], None, *row[position + 1 :]) for row in rows)
        block.export = None  # the stored rows have the measure
        yield block


def _history_blocks(rows: Iterator[tuple]) -> Iterator[DatasetBlock]:
    """Group history rows (ending with valid_from, valid_to) into one block per validity,
    streaming: each block's rows are read while the writer writes them."""
    for (valid_from, valid_to), group in itertools.groupby(rows, key=lambda row: row[-2:]):
        yield DatasetBlock((row[:-2] for row in group), valid_from=valid_from, valid_to=valid_to)


def _peeked(rows: Iterator[tuple]) -> Iterator[tuple] | None:
    """`rows` if it has at least one row (the first put back), else None."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return None
    return _chain(first, iterator)


def _chain(first, rest):  # type: ignore[no-untyped-def]
    if first is None:
        return
    yield first
    yield from rest
