"""Reading observations: one SQL query per response, streamed row by row, index-driven.

`Selection` is what the data service asks for, already resolved against the DSD (positions of
keys mapped to dimension ids, periods to ISO bounds), with the `View` of the principal asking.

Visibility follows the validity the store keeps (an embargoed submission's versions are valid
from its release time, and the versions it replaces valid until then):

- the writer's view (`View.now is None`: admins, read_embargoed, and everyone while no release
  is pending): current is `valid_to IS NULL`, served by the partial index;
- everyone else sees the versions valid at `now`: current rows already released
  (`valid_to IS NULL AND valid_from <= now`, the partial index) plus the rows an embargoed
  submission will replace (`valid_to > now AND valid_from <= now`: the valid_to index,
  almost always empty); two index paths, so the two are a UNION ALL. A provider also sees
  its own pending submissions (`View.pending`);
- without read_confidential, rows whose CONF_STATUS is not F do not exist;
- as of t: `valid_from <= t AND (valid_to IS NULL OR valid_to > t)` (t no later than now);
- changes after t (`updatedAfter`): visible rows with `valid_from > t`; deletions: visible rows
  closed after t whose key has no visible row now (a value turned confidential looks deleted);
- history: every visible version, ordered by validity (a closing still embargoed shows as open).

Statements carry their values as bound parameters named after what they hold (`dataflow`,
`k0_FREQ`, `now`...): `params(selection)` gives the values, and a statement depends only on
the selection's *shape* (which parts it has, which columns, how many keys), so each shape is
built and compiled once and reused (`statement`). Building a SQLAlchemy statement and its cache
key costs more than running a single-series query.
"""

import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock

from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Compiled
from sqlalchemy.sql import FromClause, Select
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from app.model.data import PERIOD_END, PERIOD_START
from app.storage.observations import FlowTables
from app.storage.schema import dataset_attributes, submissions

STREAM_ROWS = 5_000
# The first fetches of a streamed query (`stream`). A writer that gets EXPORTED_FROM rows of a
# block the store can export (app.storage.csv_export) stops reading there, and the statement runs
# again as the export: SDMX-CSV on SQLite after 200 rows, SDMX-CSV on PostgreSQL and SDMX-ML after
# 2,000 (the writers'). Fetching in these steps reads no row more before the writer decides.
# PostgreSQL's head query (below) reads HEAD_ROWS + 1.
HEAD_FETCHES = (200, 1_800)
HEAD_ROWS = sum(HEAD_FETCHES)
CONFIDENTIALITY = "CONF_STATUS"  # the SDMX cross-domain concept; absent or F means free
FREE = "F"
STATEMENTS = 512  # built statements kept (one per shape of selection)
LIKE_ESCAPE = "/"


@dataclass(frozen=True)
class View:
    """What one principal may see of a dataflow's versions (see the module docstring)."""

    now: datetime | None = None  # None: every version (sees embargoes, or none is pending)
    confidential: bool = True  # sees values whose CONF_STATUS is not F
    pending: tuple[int, ...] = ()  # embargoed submissions it may see before their release
    sees_embargoed: bool = True  # the principal's right (ETags follow it, not `now`)


@dataclass(frozen=True)
class Condition:
    column: str
    op: str  # eq ne lt le gt ge co nc sw ew, or "period_ge" / "period_lt" on period bounds
    value: str
    numeric: bool = False


@dataclass
class Selection:
    dataflow: str
    columns: tuple[str, ...]  # output columns, in writer order
    order: tuple[tuple[str, bool], ...]  # (column, descending)
    series: tuple[str, ...]  # columns that identify a series (for first/last N)
    keys: list[dict[str, tuple[str, ...]]] = field(default_factory=list)  # OR of per-dim IN lists
    providers: tuple[str, ...] | None = None
    conditions: list[list[list[Condition]]] = field(default_factory=list)  # AND of (OR of (AND))
    window_start: str | None = None  # overlap with [start, end) on period bounds
    window_end: str | None = None
    as_of: datetime | None = None
    updated_after: datetime | None = None
    first_n: int | None = None
    last_n: int | None = None
    offset: int = 0
    limit: int | None = None
    view: View = field(default_factory=View)


# -- parameters and shapes --------------------------------------------------------------------


def _p(name: str, expanding: bool = False) -> BindParameter:
    return bindparam(name, expanding=expanding)


def _like(value: str) -> str:
    return (
        value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


_PATTERNS = {"co": "%{}%", "nc": "%{}%", "sw": "{}%", "ew": "%{}"}


def params(selection: Selection, **extra: object) -> dict[str, object]:
    """The values of a selection's bound parameters (see `shape` for the names)."""
    values: dict[str, object] = {"dataflow": selection.dataflow, **extra}
    for i, key in enumerate(selection.keys):
        for dim, codes in key.items():
            values[f"k{i}_{dim}"] = list(codes)
    if selection.providers is not None:
        values["providers"] = list(selection.providers)
    values.update(_condition_values(selection.conditions))
    for name, value in (
        ("ws", selection.window_start),
        ("we", selection.window_end),
        ("at", _at(selection)),
        ("ua", selection.updated_after),
        ("now", selection.view.now),
        ("fn", selection.first_n),
        ("ln", selection.last_n),
        ("lim", selection.limit),
    ):
        if value is not None:
            values[name] = value
    if selection.offset:
        values["off"] = selection.offset
    if selection.view.pending:
        values["pending"] = list(selection.view.pending)
    return values


def _condition_values(conditions: list[list[list[Condition]]]) -> dict[str, object]:
    values: dict[str, object] = {}
    for g, group in enumerate(conditions):
        for a, alternative in enumerate(group):
            for c, condition in enumerate(alternative):
                value: object = condition.value
                if condition.op in _PATTERNS:
                    value = _PATTERNS[condition.op].format(_like(condition.value))
                elif condition.numeric:
                    value = float(condition.value)
                values[f"c{g}_{a}_{c}"] = value
    return values


def shape(selection: Selection) -> tuple:
    """What a statement for `selection` depends on besides its parameter values."""
    view = selection.view
    return (
        selection.columns,
        selection.order,
        selection.series,
        tuple(tuple(key) for key in selection.keys),
        selection.providers is not None,
        tuple(
            tuple(tuple((c.column, c.op, c.numeric) for c in alt) for alt in group)
            for group in selection.conditions
        ),
        tuple(
            v is not None
            for v in (
                selection.window_start,
                selection.window_end,
                selection.as_of,
                selection.updated_after,
                selection.first_n,
                selection.last_n,
                selection.limit,
            )
        ),
        bool(selection.offset),
        view.now is not None,
        view.confidential,
        bool(view.pending),
    )


_statements: OrderedDict[tuple, object] = OrderedDict()
_lock = Lock()


def statement(key: tuple, build: Callable[[], object]):
    """The statement for `key` (what it depends on besides parameter values), built once (an LRU
    of STATEMENTS)."""
    with _lock:
        found = _statements.get(key)
        if found is not None:
            _statements.move_to_end(key)
            return found
    built = build()
    with _lock:
        _statements[key] = built
        if len(_statements) > STATEMENTS:
            _statements.popitem(last=False)
    return built


# -- the WHERE clause -------------------------------------------------------------------------


def _condition(obs, condition: Condition, name: str) -> ColumnElement:
    value = _p(name)
    if condition.op == "period_ge":  # the period ends after the bound's start
        return obs.c[PERIOD_END] > value
    if condition.op == "period_gt":
        return obs.c[PERIOD_START] >= value
    if condition.op == "period_le":  # the period starts before the bound's end
        return obs.c[PERIOD_START] < value
    if condition.op == "period_lt":
        return obs.c[PERIOD_END] <= value
    column = obs.c["value_num"] if condition.numeric else obs.c[condition.column]
    text = obs.c[condition.column]
    ops = {
        "eq": lambda: column == value,
        "ne": lambda: or_(column != value, column.is_(None)),
        "lt": lambda: column < value,
        "le": lambda: column <= value,
        "gt": lambda: column > value,
        "ge": lambda: column >= value,
        "co": lambda: text.like(value, escape=LIKE_ESCAPE),
        "nc": lambda: or_(not_(text.like(value, escape=LIKE_ESCAPE)), text.is_(None)),
        "sw": lambda: text.like(value, escape=LIKE_ESCAPE),
        "ew": lambda: text.like(value, escape=LIKE_ESCAPE),
    }
    return ops[condition.op]()


def _where(tables: FlowTables, selection: Selection) -> list[ColumnElement]:
    obs = tables.obs
    where: list[ColumnElement] = [obs.c.dataflow == _p("dataflow")]
    if selection.keys:
        where.append(
            or_(
                *[
                    and_(*[obs.c[d].in_(_p(f"k{i}_{d}", True)) for d in key])
                    if key
                    else literal(True)
                    for i, key in enumerate(selection.keys)
                ]
            )
        )
    if selection.providers is not None:
        where.append(obs.c.provider.in_(_p("providers", True)))
    for g, group in enumerate(selection.conditions):
        where.append(
            or_(
                *[
                    and_(*[_condition(obs, c, f"c{g}_{a}_{i}") for i, c in enumerate(alt)])
                    for a, alt in enumerate(group)
                ]
            )
        )
    if selection.window_start:
        where.append(obs.c[PERIOD_END] > _p("ws"))
    if selection.window_end:
        where.append(obs.c[PERIOD_START] < _p("we"))
    return [*where, *_public(obs, selection.view)]


def _public(obs, view: View) -> list[ColumnElement]:
    if view.confidential or CONFIDENTIALITY not in obs.c:
        return []
    column = obs.c[CONFIDENTIALITY]
    return [or_(column.is_(None), column == FREE)]


def _at(selection: Selection) -> datetime | None:
    """The instant an `asOf` query reads (never later than the view's now)."""
    at, now = selection.as_of, selection.view.now
    if at is None or now is None:
        return at
    return min(at, now)


def _branches(obs, selection: Selection) -> list[list[ColumnElement]]:
    """The visible versions, as alternatives that each have an index path (OR'ed)."""
    if selection.as_of is not None:
        at = _p("at")
        return [[obs.c.valid_from <= at, or_(obs.c.valid_to.is_(None), obs.c.valid_to > at)]]
    view = selection.view
    if view.now is None:
        return [[obs.c.valid_to.is_(None)]]
    # coalesce(valid_from, valid_from): the same value, but no index range on it, so that the
    # planner (SQLite's, without statistics) takes the current-key index for the first branch
    # and the valid_to index for the second, instead of reading every version through the
    # valid_from index
    now = _p("now")
    released = func.coalesce(obs.c.valid_from, obs.c.valid_from) <= now
    pending = _p("pending", True)
    opened = or_(released, obs.c.opened_by.in_(pending)) if view.pending else released
    replaced = [obs.c.valid_to > now, released]
    if view.pending:
        replaced.append(obs.c.closed_by.not_in(pending))
    return [[obs.c.valid_to.is_(None), opened], replaced]


def dataset_attribute_values(
    conn: Connection, dataflow: str, view: View | None = None
) -> dict[str, str]:
    """The dataset-level attribute values of a dataflow that `view` sees now."""
    table = dataset_attributes
    selection = Selection(dataflow, (), (), (), view=view or View())
    visible = _visible(table, selection)
    rows = conn.execute(
        select(table.c.attribute, table.c.value).where(table.c.dataflow == _p("dataflow"), visible),
        params(selection),
    )
    return dict(rows.all())


def _visible(obs, selection: Selection) -> ColumnElement:
    """One predicate for "visible now" (for EXISTS and aggregate queries)."""
    return or_(*[and_(*branch) for branch in _branches(obs, selection)])


def _source(
    tables: FlowTables,
    selection: Selection,
    needed: Iterable[str],
    extra: tuple[ColumnElement, ...] = (),
) -> tuple[FromClause, list[ColumnElement]]:
    """The visible rows matching the selection: the table and the filters, or, when the view
    needs two index paths, a UNION ALL of both already filtered (of the `needed` columns only:
    building a wide subquery costs more than the query)."""
    obs = tables.obs
    where = [*_where(tables, selection), *extra]
    branches = _branches(obs, selection)
    if len(branches) == 1:
        return obs, [*where, *branches[0]]
    columns = [obs.c[c] for c in dict.fromkeys(needed)]
    union = union_all(*[select(*columns).where(*where, *branch) for branch in branches])
    return union.subquery("visible"), []


def _limited(
    obs: FromClause,
    selection: Selection,
    where: list[ColumnElement],
    extra: tuple[str, ...] = (),
):
    """SELECT the output columns of `obs` (a table or a subquery) with first/last N per series,
    order, offset and limit."""
    wanted = [*selection.columns, *extra]
    if selection.first_n or selection.last_n:
        partition = [obs.c[c] for c in selection.series]
        ranked = (
            select(
                *[obs.c[c] for c in dict.fromkeys([*wanted, *(c for c, _ in selection.order)])],
                func.row_number()
                .over(partition_by=partition, order_by=obs.c[PERIOD_START])
                .label("rn_first"),
                func.row_number()
                .over(partition_by=partition, order_by=obs.c[PERIOD_START].desc())
                .label("rn_last"),
            )
            .where(*where)
            .subquery()
        )
        keep = []
        if selection.first_n:
            keep.append(ranked.c.rn_first <= _p("fn"))
        if selection.last_n:
            keep.append(ranked.c.rn_last <= _p("ln"))
        source, filters = ranked, [or_(*keep)]
    else:
        source, filters = obs, where
    query = select(*[source.c[c] for c in wanted]).where(*filters)
    query = query.order_by(
        *[source.c[c].desc() if desc else source.c[c] for c, desc in selection.order]
    )
    if selection.offset:
        query = query.offset(_p("off"))
    if selection.limit is not None:
        query = query.limit(_p("lim"))
    return query


def close_results(conn: Connection) -> None:
    """Close the streamed results still open on `conn` (a response abandoned mid-way)."""
    for result in conn.info.pop("dsm_results", []):
        result.close()


def stream(conn: Connection, query: Select, values: dict[str, object]) -> Iterator[tuple]:
    """The rows of a built query (current_query, history_query, deletions), streamed.

    PostgreSQL streams through a server-side cursor, which costs a DECLARE and a FETCH per batch
    and a CLOSE: more round trips than a small answer needs. So a PostgreSQL query first runs
    with a limit of HEAD_ROWS + 1 on an ordinary cursor; only when that many come back is it
    run again on a server-side cursor (the rows read twice are at most HEAD_ROWS + 1: the cost
    is bounded, and small answers take one round trip). SQLite's first fetches are
    HEAD_FETCHES."""
    if conn.dialect.name == "sqlite" and all(
        isinstance(c.type, String) for c in query.selected_columns
    ):
        yield from _fetched(conn, query, values)
        return
    if conn.dialect.name == "postgresql":
        wanted = values.get("lim")
        head = {**values, "lim": min(HEAD_ROWS + 1, wanted or HEAD_ROWS + 1)}  # type: ignore[type-var]
        rows = conn.execute(_with_limit(query), head).all()
        if len(rows) <= HEAD_ROWS or (wanted is not None and len(rows) >= wanted):  # type: ignore[operator]
            yield from map(tuple, rows)
            return
        del rows
    result = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(
        query, values
    )
    conn.info.setdefault("dsm_results", []).append(result)
    try:
        yield from map(tuple, result)
    finally:  # also when the reader stops early (a 304, a client gone): free the server cursor
        result.close()


def _fetched(conn: Connection, query: Select, values: dict[str, object]) -> Iterator[tuple]:
    """SQLite rows of text columns straight from the DB-API cursor, in batches: the tuples it
    makes are the rows (SQLAlchemy would wrap each in a Row, for no conversion text needs)."""
    sql, parameters = bound(conn, query, values)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    conn.info.setdefault("dsm_results", []).append(cursor)
    try:
        cursor.execute(sql, parameters)
        for size in HEAD_FETCHES:
            rows = cursor.fetchmany(size)
            yield from rows
            if len(rows) < size:
                return
        while rows := cursor.fetchmany(STREAM_ROWS):
            yield from rows
    finally:
        cursor.close()


# compiled statements, dropped with their statement (the shape cache keeps the live ones)
_compiled: "weakref.WeakKeyDictionary[Select, dict[str, Compiled]]" = weakref.WeakKeyDictionary()


def bound(
    conn: Connection, statement: Select, values: dict[str, object]
) -> tuple[str, Sequence[object] | dict[str, object]]:
    """`statement`'s SQL for the DB-API and its `values`, as SQLAlchemy would send them
    (expanded IN lists, bind processors applied). Compiled once per statement and dialect:
    compiling costs more than a small query."""
    name = conn.dialect.name
    with _lock:
        compiled = _compiled.get(statement, {}).get(name)
    if compiled is None:
        compiled = statement.compile(dialect=conn.dialect)
        with _lock:
            _compiled.setdefault(statement, {})[name] = compiled
    state = compiled.construct_expanded_state(values)  # type: ignore[attr-defined]
    values = dict(state.parameters)
    for name, process in (state.processors or {}).items():
        if name in values and process is not None:
            values[name] = process(values[name])
    if state.positiontup is not None:
        return state.statement, [values[name] for name in state.positiontup]
    return state.statement, values


_limited_statements: "weakref.WeakKeyDictionary[Select, Select]" = weakref.WeakKeyDictionary()


def _with_limit(query: Select) -> Select:
    """`query` with LIMIT :lim (built once per statement)."""
    with _lock:
        found = _limited_statements.get(query)
    if found is None:
        found = query.limit(_p("lim"))
        with _lock:
            _limited_statements[query] = found
    return found


def current_query(tables: FlowTables, selection: Selection) -> Select:
    """Rows visible now (or as of `selection.as_of`); with `updated_after`, only those changed
    since. Parameters: `params(selection)`."""

    def build() -> Select:
        obs = tables.obs
        extra = () if selection.updated_after is None else (obs.c.valid_from > _p("ua"),)
        needed = [*selection.columns, *(c for c, _ in selection.order), *selection.series]
        # series_id: the SDMX-ML export path groups rows by it (app/storage/xml_export.py)
        source, where = _source(tables, selection, [*needed, PERIOD_START, "series_id"], extra)
        return _limited(source, selection, where)

    return statement(("current", tables.name, shape(selection)), build)  # type: ignore[return-value]


def flow_rows(conn: Connection, tables: FlowTables, dataflow: str, history: bool) -> int:
    """The rows of a dataflow: the current ones (the current-key index), or every version."""
    obs = tables.obs
    where = [obs.c.dataflow == dataflow]
    if not history:
        where.append(obs.c.valid_to.is_(None))
    return conn.execute(select(func.count()).select_from(obs).where(*where)).scalar_one()


def count_upto(conn: Connection, query: Select, values: dict[str, object], cap: int) -> int:
    """How many rows `query` (current_query, history_query) gives, counted up to cap + 1 (so
    more than `cap` costs no more than cap + 1 index entries), without the ordering."""
    capped = query.order_by(None).limit(_p("count_cap"))
    counted = select(func.count()).select_from(capped.subquery())
    return conn.execute(counted, {**values, "count_cap": cap + 1}).scalar_one()


def _closed_visibly(obs, view: View) -> list[ColumnElement]:
    """Rows whose closing the view sees (not a closing still under embargo)."""
    if view.now is None:
        return []
    shown = obs.c.valid_to <= _p("now")
    return [or_(shown, obs.c.closed_by.in_(_p("pending", True))) if view.pending else shown]


def deletions(conn: Connection, tables: FlowTables, selection: Selection) -> Iterator[tuple]:
    """Keys deleted after `selection.updated_after`: a visible version closed since, with no
    visible version now."""

    def build() -> Select:
        obs = tables.obs
        now = obs.alias("now")
        now_view = Selection(**{**selection.__dict__, "as_of": None})
        alive = (
            select(literal(1))
            .where(
                now.c.series_id == obs.c.series_id,
                now.c[PERIOD_START] == obs.c[PERIOD_START],
                now.c[tables.time] == obs.c[tables.time],
                _visible(now, now_view),
                *_public(now, selection.view),
            )
            .exists()
        )
        where = [
            *_where(tables, selection),
            obs.c.valid_to > _p("ua"),
            *_closed_visibly(obs, selection.view),
            ~alive,
        ]
        return _limited(obs, selection, where).distinct()

    query = statement(("deletions", tables.name, shape(selection)), build)
    return stream(conn, query, params(selection))  # type: ignore[arg-type]


def history_query(tables: FlowTables, selection: Selection) -> Select:
    """Every visible version, ordered by (valid_from, valid_to) first; rows end with those two
    columns. Parameters: `params(selection)`."""

    def build() -> Select:
        obs = tables.obs
        view = selection.view
        where = _where(tables, selection)
        source: FromClause = obs
        if view.now is not None:  # no version before its release; no closing before it either
            released = obs.c.valid_from <= _p("now")
            pending = _p("pending", True)
            where.append(or_(released, obs.c.opened_by.in_(pending)) if view.pending else released)
            shown = _closed_visibly(obs, view)[0]
            valid_to = case((or_(obs.c.valid_to.is_(None), shown), obs.c.valid_to), else_=None)
            others = [c for c in obs.c if c.name != "valid_to"]
            source = select(*others, valid_to.label("valid_to")).where(*where).subquery("versions")
            where = []
        if selection.updated_after is not None:
            where.append(
                or_(source.c.valid_from > _p("ua"), source.c.valid_to > _p("ua")),
            )
        ordered = Selection(
            **{
                **selection.__dict__,
                "order": (("valid_from", False), ("valid_to", False), *selection.order),
            }
        )
        return _limited(source, ordered, where, extra=("valid_from", "valid_to"))

    return statement(("history", tables.name, shape(selection)), build)  # type: ignore[return-value]


def stamp(
    conn: Connection, tables: FlowTables, dataflow: str, view: View
) -> tuple[datetime | None, datetime | None]:
    """The last time the data of the dataflow's DSD changed as `view` sees it: (max valid_from,
    max valid_to) over its visible versions and closings. Per DSD, not per dataflow (the
    versions table has no dataflow column): dataflows sharing a DSD share a data version, which
    only makes their ETags change more often than they must."""
    del dataflow
    v = tables.versions
    public = _public(v, view)
    opened, closed = [], _closed_visibly(v, view)
    if view.now is not None:
        released = v.c.valid_from <= _p("now")
        pending = _p("pending", True)
        opened = [or_(released, v.c.opened_by.in_(pending)) if view.pending else released]
    values = {"now": view.now, "pending": list(view.pending)} if view.now is not None else {}
    # newest first down each validity index, stopping at the first visible row
    first = conn.execute(
        select(v.c.valid_from).where(*opened, *public).order_by(v.c.valid_from.desc()).limit(1),
        values,
    )
    last = conn.execute(
        select(v.c.valid_to)
        .where(v.c.valid_to.is_not(None), *closed, *public)
        .order_by(v.c.valid_to.desc())
        .limit(1),
        values,
    )
    return first.scalar(), last.scalar()


@dataclass(frozen=True)
class Probe:
    """What a read needs to know before its rows, from one round trip (`probe`)."""

    pending: bool  # some accepted submission is still under embargo
    opened: datetime | None  # the latest valid_from the view sees (see `stamp`)
    closed: datetime | None  # the latest valid_to the view sees
    attributes: tuple[datetime | None, datetime | None]  # the same of the dataset attributes

    @property
    def stamp(self) -> tuple:
        return (self.opened, self.closed, *self.attributes)


def probe(
    conn: Connection, tables: FlowTables | None, dataflow: str, view: View, now: datetime
) -> Probe:
    """Whether a release is pending, and the data version `view` sees: `stamp`'s two instants
    (exact while no release is pending; otherwise `stamp` must be asked again with a view that
    knows what is pending) and those of the dataflow's dataset attributes. `tables` None: the
    DSD has no observation table yet."""
    hidden = not view.sees_embargoed

    def build() -> Select:
        pending = (
            select(literal(1))
            .where(submissions.c.status == "accepted", submissions.c.visible_from > _p("now"))
            .limit(1)
            .scalar_subquery()
        )
        columns = [pending]
        if tables is not None:
            v = tables.versions
            public = _public(v, view)
            columns += [
                select(v.c.valid_from)
                .where(*public)
                .order_by(v.c.valid_from.desc())
                .limit(1)
                .scalar_subquery(),
                select(v.c.valid_to)
                .where(v.c.valid_to.is_not(None), *public)
                .order_by(v.c.valid_to.desc())
                .limit(1)
                .scalar_subquery(),
            ]
        a = dataset_attributes
        shown = [a.c.dataflow == _p("dataflow")]
        columns += [
            select(func.max(a.c.valid_from))
            .where(*shown, *([a.c.valid_from <= _p("now")] if hidden else []))
            .scalar_subquery(),
            select(func.max(a.c.valid_to))
            .where(*shown, *([a.c.valid_to <= _p("now")] if hidden else []))
            .scalar_subquery(),
        ]
        return select(*columns)

    name = tables.name if tables is not None else None
    query = statement(("probe", name, view.confidential, hidden), build)
    row = conn.execute(query, {"now": now, "dataflow": dataflow}).one()  # type: ignore[call-overload]
    if tables is None:
        return Probe(row[0] is not None, None, None, (row[1], row[2]))
    return Probe(row[0] is not None, row[1], row[2], (row[3], row[4]))
