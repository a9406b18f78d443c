"""Reading observations: one SQL query per response, streamed row by row, index-driven.

`Selection` is what the data service asks for, already resolved against the DSD (positions of
keys mapped to dimension ids, periods to ISO bounds). Visibility:

- current: `valid_to IS NULL` (the partial index);
- as of t: `valid_from <= t AND (valid_to IS NULL OR valid_to > t)`;
- changes after t (`updatedAfter`): current rows with `valid_from > t`; deletions: rows closed
  after t whose key has no current row;
- history: every version (optionally only those opened or closed after t), ordered by validity.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, and_, func, literal, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app.model.data import PERIOD_END, PERIOD_START
from app.storage.observations import FlowTables

STREAM_ROWS = 5_000


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
    return where


def _visible(obs, at: datetime | None) -> ColumnElement:
    if at is None:
        return obs.c.valid_to.is_(None)
    return and_(obs.c.valid_from <= at, or_(obs.c.valid_to.is_(None), obs.c.valid_to > at))


def _limited(
    tables: FlowTables,
    selection: Selection,
    where: list[ColumnElement],
    extra: tuple[str, ...] = (),
):
    """SELECT the output columns with first/last N per series, order, offset and limit."""
    obs = tables.obs
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


def _stream(conn: Connection, query) -> Iterator[tuple]:
    result = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(query)
    conn.info.setdefault("dsm_results", []).append(result)
    try:
        for row in result:
            yield tuple(row)
    finally:  # also when the reader stops early (a 304, a client gone): free the server cursor
        result.close()


def current(conn: Connection, tables: FlowTables, selection: Selection) -> Iterator[tuple]:
    """Rows visible now (or as of `selection.as_of`); with `updated_after`, only those changed since."""
    obs = tables.obs
    where = [*_where(tables, selection), _visible(obs, selection.as_of)]
    if selection.updated_after is not None:
        where.append(obs.c.valid_from > selection.updated_after)
    return _stream(conn, _limited(tables, selection, where))


def deletions(conn: Connection, tables: FlowTables, selection: Selection) -> Iterator[tuple]:
    """Keys deleted after `selection.updated_after` (closed, and with no current version)."""
    obs = tables.obs
    now = obs.alias("now")
    alive = (
        select(literal(1))
        .where(
            now.c.valid_to.is_(None),
            now.c.dataflow == obs.c.dataflow,
            *[now.c[k].is_not_distinct_from(obs.c[k]) for k in tables.key],
        )
        .exists()
    )
    where = [*_where(tables, selection), obs.c.valid_to > selection.updated_after, ~alive]
    query = _limited(tables, selection, where).distinct()
    return _stream(conn, query)


def history(conn: Connection, tables: FlowTables, selection: Selection) -> Iterator[tuple]:
    """Every version, ordered by (valid_from, valid_to) first; rows end with those two columns."""
    obs = tables.obs
    where = _where(tables, selection)
    if selection.updated_after is not None:
        where.append(
            or_(
                obs.c.valid_from > selection.updated_after, obs.c.valid_to > selection.updated_after
            )
        )
    ordered = Selection(
        **{
            **selection.__dict__,
            "order": (("valid_from", False), ("valid_to", False), *selection.order),
        }
    )
    return _stream(conn, _limited(tables, ordered, where, extra=("valid_from", "valid_to")))


def stamp(
    conn: Connection, tables: FlowTables, dataflow: str
) -> tuple[datetime | None, datetime | None]:
    """The last time the dataflow's data changed: (max valid_from, max valid_to)."""
    obs = tables.obs
    # two queries: each single max() is one step down its (dataflow, validity) index, where
    # SQLite would scan the table for both maxima in one SELECT
    first = conn.execute(select(func.max(obs.c.valid_from)).where(obs.c.dataflow == dataflow))
    last = conn.execute(select(func.max(obs.c.valid_to)).where(obs.c.dataflow == dataflow))
    return first.scalar(), last.scalar()
