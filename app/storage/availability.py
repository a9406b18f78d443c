"""Data availability in SQL: which dimension values, how many series and observations, and which
time span the current data matching a selection cover.

The rows are the data queries' own (`data_queries._source`: the WHERE clause and the
principal's view), so availability never disagrees with what a data query would return. Three kinds of
statement, each one pass over the matching rows of the observation table:

- `summary`: observation count and time coverage, `min(period_start)` / `max(period_end)`;
- `series`: the distinct series keys (one row per series: the series count, and every
  dimension's values in one go, for `mode=exact`);
- `values`: the distinct values of one column (for `mode=available`, where each dimension is
  asked with its own filter dropped, so one statement per dimension).

The current rows are served by the partial index on (series_id, TIME_PERIOD) WHERE
valid_to IS NULL; `DISTINCT` over dimension columns reads that index, not the values.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, func, select
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

from app.model.data import PERIOD_END, PERIOD_START
from app.storage.data_queries import STREAM_ROWS, Selection, _p, _source, params
from app.storage.observations import FlowTables


@dataclass(frozen=True)
class Summary:
    observations: int
    start: str | None  # ISO date-time, inclusive
    end: str | None  # ISO date-time, exclusive


def _matching(
    tables: FlowTables, selection: Selection, needed: tuple[str, ...]
) -> tuple[FromClause, list[ColumnElement]]:
    """The rows a data query with this selection would return (first/last N, offset and limit
    aside: availability describes the cube, not a page of it)."""
    obs = tables.obs
    extra = () if selection.updated_after is None else (obs.c.valid_from > _p("ua"),)
    return _source(tables, selection, needed, extra)


def summary(conn: Connection, tables: FlowTables, selection: Selection) -> Summary:
    obs, where = _matching(tables, selection, (PERIOD_START, PERIOD_END))
    row = conn.execute(
        select(func.count(), func.min(obs.c[PERIOD_START]), func.max(obs.c[PERIOD_END])).where(
            *where
        ),
        params(selection),
    ).one()
    return Summary(int(row[0] or 0), row[1], row[2])


def series(conn: Connection, tables: FlowTables, selection: Selection) -> Iterator[tuple]:
    """The distinct series keys (tuples in `tables.dimensions` order), streamed."""
    obs, where = _matching(tables, selection, tables.dimensions)
    query = select(*[obs.c[d] for d in tables.dimensions]).where(*where).distinct()
    result = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(
        query, params(selection)
    )
    for row in result:
        yield tuple(row)


def values(conn: Connection, tables: FlowTables, selection: Selection, column: str) -> list[str]:
    """The distinct non-null values of `column` among the matching rows, sorted."""
    obs, where = _matching(tables, selection, (column,))
    query = (
        select(obs.c[column])
        .where(*where, obs.c[column].is_not(None))
        .distinct()
        .order_by(obs.c[column])
    )
    return [row[0] for row in conn.execute(query, params(selection))]
