"""Current rows as SDMX-CSV lines, read past SQLAlchemy's row objects: the fast path of a
plain full export (`app.writers.data.sdmx_csv` decides when it applies).

The rows are those of the very statement the normal path streams (same filters, so the same
confidentiality and embargo rules); only how they reach the writer changes:

- PostgreSQL: `COPY (statement) TO STDOUT WITH (FORMAT csv)` through psycopg, which sends
  each row already as a CSV line (~1M rows/s). COPY quotes an empty string as `""` (to tell
  it from NULL) where `csv.writer` writes nothing, and ends lines with LF: a batch without `"`
  or CR is rewritten in C (LF -> tail, CRLF, head); any other batch is parsed back and each
  row written the careful way.
- SQLite: the DB-API cursor in batches of BATCH rows (no Row objects), each batch joined in C
  and checked at once (the right number of separators, no quote, CR or LF of a value):
  a batch that fails the check is written row by row the careful way.

All cells are text (the store keeps every value as text), None is an empty cell.
"""

import csv
import io
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Final

from sqlalchemy import Connection
from sqlalchemy.sql import Select

BATCH: Final = 2_000  # rows per fetch (SQLite) and per rewritten chunk (both)
_EMPTY: Final = {None: ""}

Careful = Callable[[Sequence[object]], str]


@dataclass
class Export:
    """How to read one block's rows again as CSV lines: its statement and parameter values."""

    conn: Connection
    statement: Select
    values: dict[str, object]
    streamed: Generator  # the same rows already opened (`stream`): closed before reading

    def chunks(self, head: str, end: str, careful: Careful) -> Iterator[bytes]:
        """`head + cells + end` for every row (`end` ends with CRLF), as byte chunks of about
        BATCH lines; `careful(cells)` writes a line whose cells need quoting."""
        self.streamed.close()
        if self.conn.dialect.name == "postgresql":
            return _copied(self, head, end, careful)
        return _fetched(self, head, end, careful)


def _bound(export: Export) -> tuple[str, Sequence[object] | dict[str, object]]:
    """The statement's SQL for the DB-API and its values, as SQLAlchemy would send them
    (expanded IN lists, bind processors applied)."""
    compiled = export.statement.compile(dialect=export.conn.dialect)
    state = compiled.construct_expanded_state(export.values)  # type: ignore[attr-defined]
    values = dict(state.parameters)
    for name, process in (state.processors or {}).items():
        if name in values and process is not None:
            values[name] = process(values[name])
    if state.positiontup is not None:
        return state.statement, [values[name] for name in state.positiontup]
    return state.statement, values


def _fetched(export: Export, head: str, end: str, careful: Careful) -> Iterator[bytes]:
    sql, values = _bound(export)
    cursor = export.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, values)
        rows = cursor.fetchmany(BATCH)
        if not rows:
            return
        width = len(rows[0])
        per_line = (head + end).count(",") + width - 1
        marks = {c: (head + end).count(c) for c in '"\r\n'}
        join, get, glue = ",".join, _EMPTY.get, end + head
        while rows:
            try:
                text = head + glue.join(map(join, map(map, repeat(get), rows, rows))) + end
            except TypeError:  # a cell that is not text
                text = ""
            n = len(rows)
            if not text or not (
                text.count(",") == n * per_line
                and text.count('"') == n * marks['"']
                and text.count("\r") == n * marks["\r"]
                and text.count("\n") == n * marks["\n"]
            ):
                text = "".join(head + careful(row) + end for row in rows)
            yield text.encode()
            rows = cursor.fetchmany(BATCH)
    finally:
        cursor.close()


def _copied(export: Export, head: str, end: str, careful: Careful) -> Iterator[bytes]:
    query, values = _bound(export)
    sql = f"COPY ({query}) TO STDOUT WITH (FORMAT csv)"
    head_b, end_b = head.encode(), end.encode()
    glue = end_b + head_b
    cursor = export.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(sql, values) as copy:
            batch: list[bytes] = []
            for row in copy:
                batch.append(row)
                if len(batch) >= BATCH:
                    yield _rewritten(b"".join(batch), head_b, glue, end_b, careful)
                    batch.clear()
            if batch:
                yield _rewritten(b"".join(batch), head_b, glue, end_b, careful)
    finally:
        cursor.close()


def _rewritten(lines: bytes, head: bytes, glue: bytes, end: bytes, careful: Careful) -> bytes:
    """COPY's CSV lines (LF-ended) as the writer's lines."""
    if b'"' not in lines and b"\r" not in lines:
        return head + lines[:-1].replace(b"\n", glue) + end
    text = lines.decode()
    h, e = head.decode(), end.decode()
    return "".join(h + careful(cells) + e for cells in csv.reader(io.StringIO(text))).encode()
