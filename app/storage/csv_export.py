"""Current rows as SDMX-CSV lines, read past SQLAlchemy's row objects: the fast path of a
plain full export (`app.writers.data.sdmx_csv` decides when it applies).

The rows are those of the very statement the normal path streams (same filters, so the same
confidentiality and embargo rules); only how they reach the writer changes:

- PostgreSQL: `COPY (statement) TO STDOUT WITH (FORMAT csv)` through psycopg, which sends
  each row already as a CSV line (~1M rows/s). COPY quotes an empty string as `""` (to tell
  it from NULL) where `csv.writer` writes nothing, and ends lines with LF: a batch without `"`
  or CR is rewritten in C (LF -> tail, CRLF, head); any other batch is parsed back and each
  row written the careful way.
- SQLite: each row comes as one string, `printf('%s,%s,...', cells)` (NULL prints as nothing):
  handing one value per row to Python instead of one per cell doubles the rows read per second.
  The DB-API cursor reads them in batches of BATCH rows (no Row objects), each batch is joined
  in C and checked at once (the right number of separators, no quote, CR or LF of a value).
  At the first batch that fails the check, the rest of the block is read again as cells (the
  rows already written skipped, in the same read transaction, so the same snapshot) and each
  batch that fails is written row by row the careful way. A statement printf cannot take
  (a cell that is not text, more than PRINTF_MAX columns) is read as cells from the start.

All cells are text (the store keeps every value as text), None is an empty cell.
"""

import csv
import io
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Final

from sqlalchemy import Connection, String, Table, func, literal_column
from sqlalchemy.sql import Select

from app.storage import xml_export
from app.storage.data_queries import bound

BATCH: Final = 2_000  # rows per fetch (SQLite) and per rewritten chunk (both)
PRINTF_MAX: Final = 100  # SQLite functions take at most 127 arguments (SQLITE_MAX_FUNCTION_ARG)
_EMPTY: Final = {None: ""}

Careful = Callable[[Sequence[object]], str]


@dataclass
class Export:
    """How to read one block's rows again as CSV lines: its statement and parameter values."""

    conn: Connection
    statement: Select
    values: dict[str, object]
    streamed: Generator  # the same rows already opened (`stream`): closed before reading
    series: Table | None = None  # the series table of the rows (SDMX-ML reads keys from it)

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    def chunks(self, head: str, end: str, careful: Careful) -> Iterator[bytes]:
        """`head + cells + end` for every row (`end` ends with CRLF), as byte chunks of about
        BATCH lines; `careful(cells)` writes a line whose cells need quoting."""
        self.streamed.close()
        if self.conn.dialect.name == "postgresql":
            return _copied(self, head, end, careful)
        return _fetched(self, head, end, careful)

    def elements(
        self,
        series: Sequence[tuple[int, str]],
        obs: Sequence[tuple[int, str]],
        head: Callable[[tuple], str],
        careful: Callable[[Iterable[tuple], str | None], Iterator[str]],
    ) -> Iterator[str]:
        """SDMX-ML structure-specific elements of the rows (`app.storage.xml_export`)."""
        return xml_export.elements(self, series, obs, head, careful)


def _fetched(export: Export, head: str, end: str, careful: Careful) -> Iterator[bytes]:
    lines = _printed(export.statement)
    if lines is None:
        yield from _fetched_cells(export, head, end, careful, 0)
        return
    sql, values = bound(export.conn, lines, export.values)
    cursor = export.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, values)
        width = len(export.statement.selected_columns)
        check = _Check(head, end, width)
        glue, first, written = end + head, itemgetter(0), 0
        while rows := cursor.fetchmany(BATCH):
            text = head + glue.join(map(first, rows)) + end
            if not check(text, len(rows)):  # a cell to quote: this batch and the rest as cells
                yield from _fetched_cells(export, head, end, careful, written)
                return
            written += len(rows)
            yield text.encode()
    finally:
        cursor.close()


def _printed(statement: Select) -> Select | None:
    """`statement` with its cells printed as one CSV line per row (None: printf cannot)."""
    columns = list(statement.selected_columns)
    if len(columns) > PRINTF_MAX or not all(isinstance(c.type, String) for c in columns):
        return None
    template = ",".join(["%s"] * len(columns))
    line = func.printf(literal_column(f"'{template}'"), *columns)
    return statement.with_only_columns(line, maintain_column_froms=True)


class _Check:
    """Whether a batch of `n` joined lines has only the separators the lines themselves put
    there: no cell held a comma, quote, CR or LF (nor was one quoted)."""

    def __init__(self, head: str, end: str, width: int) -> None:
        fixed = head + end
        self.commas = fixed.count(",") + width - 1
        self.marks = [(c, fixed.count(c)) for c in '"\r\n']

    def __call__(self, text: str, n: int) -> bool:
        return text.count(",") == n * self.commas and all(
            text.count(c) == n * k for c, k in self.marks
        )


def _fetched_cells(
    export: Export, head: str, end: str, careful: Careful, skip: int
) -> Iterator[bytes]:
    """The block's rows after the first `skip`, read as cells."""
    sql, values = bound(export.conn, export.statement, export.values)
    cursor = export.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, values)
        while skip > 0:
            skip -= len(cursor.fetchmany(min(skip, BATCH)))
        rows = cursor.fetchmany(BATCH)
        if not rows:
            return
        check = _Check(head, end, len(rows[0]))
        join, get, glue = ",".join, _EMPTY.get, end + head
        while rows:
            try:
                text = head + glue.join(map(join, map(map, repeat(get), rows, rows))) + end
            except TypeError:  # a cell that is not text
                text = ""
            if not text or not check(text, len(rows)):
                text = "".join(head + careful(row) + end for row in rows)
            yield text.encode()
            rows = cursor.fetchmany(BATCH)
    finally:
        cursor.close()


def _copied(export: Export, head: str, end: str, careful: Careful) -> Iterator[bytes]:
    query, values = bound(export.conn, export.statement, export.values)
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
