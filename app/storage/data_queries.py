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
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, and_, case, func, literal, not_, or_, select, union_all
from sqlalchemy.sql import FromClause, Select
from sqlalchemy.sql.elements import ColumnElement

from app.model.data import PERIOD_END, PERIOD_START
from app.storage.observations import FlowTables
from app.storage.schema import dataset_attributes

STREAM_ROWS = 5_000
CONFIDENTIALITY = "CONF_STATUS"  # the SDMX cross-domain concept; absent or F means free
FREE = "F"


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


def _condition(obs, condition: Condition) -> ColumnElement:
    if condition.op == "period_ge":  # the period ends after the bound's start
        return obs.c[PERIOD_END] > condition.value
    if condition.op == "period_gt":
        return obs.c[PERIOD_START] >= condition.value
    if condition.op == "period_le":  # the period starts before the bound's end
        return obs.c[PERIOD_START] < condition.value
    if condition.op == "period_lt":
        return obs.c[PERIOD_END] <= condition.value
    column = obs.c["value_num"] if condition.numeric else obs.c[condition.column]
    value: object = float(condition.value) if condition.numeric else condition.value
    ops = {
        "eq": lambda: column == value,
        "ne": lambda: or_(column != value, column.is_(None)),
        "lt": lambda: column < value,
        "le": lambda: column <= value,
        "gt": lambda: column > value,
        "ge": lambda: column >= value,
        "co": lambda: obs.c[condition.column].contains(condition.value, autoescape=True),
        "nc": lambda: or_(
            not_(obs.c[condition.column].contains(condition.value, autoescape=True)),
            obs.c[condition.column].is_(None),
        ),
        "sw": lambda: obs.c[condition.column].startswith(condition.value, autoescape=True),
        "ew": lambda: obs.c[condition.column].endswith(condition.value, autoescape=True),
    }
    return ops[condition.op]()


def _where(tables: FlowTables, selection: Selection) -> list[ColumnElement]:
    obs = tables.obs
    where: list[ColumnElement] = [obs.c.dataflow == selection.dataflow]
    if selection.keys:
        where.append(
            or_(
                *[
                    and_(*[obs.c[d].in_(v) for d, v in key.items()]) if key else literal(True)
                    for key in selection.keys
                ]
            )
        )
    if selection.providers is not None:
        where.append(obs.c.provider.in_(selection.providers))
    for group in selection.conditions:
        where.append(
            or_(*[and_(*[_condition(obs, c) for c in alternative]) for alternative in group])
        )
    if selection.window_start:
        where.append(obs.c[PERIOD_END] > selection.window_start)
    if selection.window_end:
        where.append(obs.c[PERIOD_START] < selection.window_end)
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
    at = _at(selection)
    if at is not None:
        return [[obs.c.valid_from <= at, or_(obs.c.valid_to.is_(None), obs.c.valid_to > at)]]
    view = selection.view
    if view.now is None:
        return [[obs.c.valid_to.is_(None)]]
    # coalesce(valid_from, valid_from): the same value, but no index range on it, so that the
    # planner (SQLite's, without statistics) takes the current-key index for the first branch
    # and the valid_to index for the second, instead of reading every version through the
    # valid_from index
    released = func.coalesce(obs.c.valid_from, obs.c.valid_from) <= view.now
    opened = or_(released, obs.c.opened_by.in_(view.pending)) if view.pending else released
    replaced = [obs.c.valid_to > view.now, released]
    if view.pending:
        replaced.append(obs.c.closed_by.not_in(view.pending))
    return [[obs.c.valid_to.is_(None), opened], replaced]


def dataset_attribute_values(
    conn: Connection, dataflow: str, view: View | None = None
) -> dict[str, str]:
    """The dataset-level attribute values of a dataflow that `view` sees now."""
    table = dataset_attributes
    visible = _visible(table, Selection(dataflow, (), (), (), view=view or View()))
    rows = conn.execute(
        select(table.c.attribute, table.c.value).where(table.c.dataflow == dataflow, visible)
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
            keep.append(ranked.c.rn_first <= selection.first_n)
        if selection.last_n:
            keep.append(ranked.c.rn_last <= selection.last_n)
        source, filters = ranked, [or_(*keep)]
    else:
        source, filters = obs, where
    query = select(*[source.c[c] for c in wanted]).where(*filters)
    query = query.order_by(
        *[source.c[c].desc() if desc else source.c[c] for c, desc in selection.order]
    )
    if selection.offset:
        query = query.offset(selection.offset)
    if selection.limit is not None:
        query = query.limit(selection.limit)
    return query


def close_results(conn: Connection) -> None:
    """Close the streamed results still open on `conn` (a response abandoned mid-way)."""
    for result in conn.info.pop("dsm_results", []):
        result.close()


def stream(conn: Connection, query: Select) -> Iterator[tuple]:
    """The rows of a built query (current_query, history_query, deletions), streamed."""
    result = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(query)
    conn.info.setdefault("dsm_results", []).append(result)
    try:
        for row in result:
            yield tuple(row)
    finally:  # also when the reader stops early (a 304, a client gone): free the server cursor
        result.close()


def current_query(tables: FlowTables, selection: Selection) -> Select:
    """Rows visible now (or as of `selection.as_of`); with `updated_after`, only those changed since."""
    obs = tables.obs
    extra = () if selection.updated_after is None else (obs.c.valid_from > selection.updated_after,)
    needed = [*selection.columns, *(c for c, _ in selection.order), *selection.series, PERIOD_START]
    source, where = _source(tables, selection, needed, extra)
    return _limited(source, selection, where)


def flow_rows(conn: Connection, tables: FlowTables, dataflow: str, history: bool) -> int:
    """The rows of a dataflow: the current ones (the current-key index), or every version."""
    obs = tables.obs
    where = [obs.c.dataflow == dataflow]
    if not history:
        where.append(obs.c.valid_to.is_(None))
    return conn.execute(select(func.count()).select_from(obs).where(*where)).scalar_one()


def count_upto(conn: Connection, query: Select, cap: int) -> int:
    """How many rows `query` (current_query, history_query) gives, counted up to cap + 1 (so
    more than `cap` costs no more than cap + 1 index entries), without the ordering."""
    capped = query.order_by(None).limit(cap + 1)
    return conn.execute(select(func.count()).select_from(capped.subquery())).scalar_one()


def _closed_visibly(obs, view: View) -> list[ColumnElement]:
    """Rows whose closing the view sees (not a closing still under embargo)."""
    if view.now is None:
        return []
    shown = obs.c.valid_to <= view.now
    return [or_(shown, obs.c.closed_by.in_(view.pending)) if view.pending else shown]


def deletions(conn: Connection, tables: FlowTables, selection: Selection) -> Iterator[tuple]:
    """Keys deleted after `selection.updated_after`: a visible version closed since, with no
    visible version now."""
    obs = tables.obs
    now = obs.alias("now")
    now_view = Selection(**{**selection.__dict__, "as_of": None})
    alive = (
        select(literal(1))
        .where(
            now.c.series_id == obs.c.series_id,
            now.c[tables.time] == obs.c[tables.time],
            _visible(now, now_view),
            *_public(now, selection.view),
        )
        .exists()
    )
    where = [
        *_where(tables, selection),
        obs.c.valid_to > selection.updated_after,
        *_closed_visibly(obs, selection.view),
        ~alive,
    ]
    query = _limited(obs, selection, where).distinct()
    return stream(conn, query)


def history_query(tables: FlowTables, selection: Selection) -> Select:
    """Every visible version, ordered by (valid_from, valid_to) first; rows end with those two
    columns."""
    obs = tables.obs
    view = selection.view
    where = _where(tables, selection)
    source: FromClause = obs
    if view.now is not None:  # no version before its release; no closing before it either
        released = obs.c.valid_from <= view.now
        where.append(or_(released, obs.c.opened_by.in_(view.pending)) if view.pending else released)
        shown = _closed_visibly(obs, view)[0]
        valid_to = case((or_(obs.c.valid_to.is_(None), shown), obs.c.valid_to), else_=None)
        others = [c for c in obs.c if c.name != "valid_to"]
        source = select(*others, valid_to.label("valid_to")).where(*where).subquery("versions")
        where = []
    if selection.updated_after is not None:
        where.append(
            or_(
                source.c.valid_from > selection.updated_after,
                source.c.valid_to > selection.updated_after,
            )
        )
    ordered = Selection(
        **{
            **selection.__dict__,
            "order": (("valid_from", False), ("valid_to", False), *selection.order),
        }
    )
    return _limited(source, ordered, where, extra=("valid_from", "valid_to"))


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
        released = v.c.valid_from <= view.now
        opened = [or_(released, v.c.opened_by.in_(view.pending)) if view.pending else released]
    # newest first down each validity index, stopping at the first visible row
    first = conn.execute(
        select(v.c.valid_from).where(*opened, *public).order_by(v.c.valid_from.desc()).limit(1)
    )
    last = conn.execute(
        select(v.c.valid_to)
        .where(v.c.valid_to.is_not(None), *closed, *public)
        .order_by(v.c.valid_to.desc())
        .limit(1)
    )
    return first.scalar(), last.scalar()
