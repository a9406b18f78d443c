"""Current rows as SDMX-ML structure-specific `Series`/`Obs` elements, the observations built
by the database: the fast path of a plain time-series export in SDMX-ML
(`app.writers.data.sdmx_ml` decides when it applies).

The rows are those of the very statement the normal path streams (same filters, so the same
confidentiality and embargo rules); the statement's columns are replaced by

- the series id (a series' rows are consecutive: the statement orders by key),
- the observation element, `<Obs` + ` ID="value"` for each field present + `/>` (SQLite: one
  printf, much faster there than a chain of `||`; PostgreSQL: `||`),
- how many of its nullable fields are present (for the check below),
- the series attributes, as cells.

A series element is written by the writer's `head` from the key (read per batch from the series
table for the series new in the batch) and the attribute cells of the series' first row: the
database renders 20 times fewer series elements than rows, so it renders none.

The database does not escape the observation values (a REPLACE per value costs more than the
rest of the query): each batch of BATCH rows is checked instead. Its observation elements
together must hold exactly two `"` per field present, one `<` and one `>` per element, and no
`&`, tab, CR or LF: any value holding one of those characters breaks the count. From such a
batch on, the rows are read again as cells (the rows already written skipped, in the same read
transaction, so the same snapshot) and written by the normal writer, which escapes them. A
statement that is not a single view with its series id (first/last N, the two-branch views of
embargoed data), or with a column that is not text, is read as cells from the start.

SQLite reads through the DB-API cursor, PostgreSQL through a named (server-side) cursor; both
hand over a few values per row instead of one per cell. PostgreSQL answers each FETCH while the
writer waits, so there a thread reads the next batches and their keys meanwhile (`_read_ahead`):
the database and the writer work at once. (SQLite gives up the GIL for each row it steps, so a
reading thread would only fight the writer for it.)
"""

import weakref
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from itertools import count, groupby
from operator import itemgetter
from queue import Full, Queue
from threading import Event, Thread
from typing import TYPE_CHECKING, Final, TypeVar

from sqlalchemy import (
    Integer,
    String,
    Table,
    any_,
    bindparam,
    case,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ColumnElement, Select

from app.storage.data_queries import bound

if TYPE_CHECKING:
    from app.storage.csv_export import Export

BATCH: Final = 2_000  # rows per fetch
Fields = Sequence[tuple[int, str]]  # (column index in the statement, component id)
# the normal writer: the rows as cells, and the series element the fast path left open (or None)
Careful = Callable[[Iterable[tuple], str | None], Iterator[str]]
Head = Callable[[tuple], str]  # the writer's series element of the values of the series fields
_FORBIDDEN: Final = ("&", "\t", "\n", "\r")
_EMPTY: Final = literal_column("''", String)
_QUOTE: Final = literal_column("'\"'", String)
PRINTF_MAX: Final = 100  # SQLite functions take at most 127 arguments
_names = count()
T = TypeVar("T")


def elements(
    export: "Export", series: Fields, obs: Fields, head: Head, careful: Careful
) -> Iterator[str]:
    """The `Series` and `Obs` elements of the block's rows (series closed), as strings."""
    columns = list(export.statement.selected_columns)
    ids = _series_ids(export.statement)
    if ids is None or export.series is None or not all(isinstance(c.type, String) for c in columns):
        yield from careful(_cells(export, 0), None)
        return
    dialect = export.conn.dialect.name
    in_key = set(export.series.c.keys())
    key_names = [name for _, name in series if name in in_key]
    carried = [i for i, name in series if name not in in_key]  # series attributes
    statement = export.statement.with_only_columns(
        ids,
        _element(dialect, "<Obs", columns, obs, "/>"),
        _present(dialect, columns, obs),
        *[columns[i] for i in carried],
        maintain_column_froms=True,
    )
    keys = _Keys(export, key_names)
    # each series field: (from the row, its position there) or (from the key, its position)
    sources: list[tuple[bool, int]] = []
    for _, name in series:
        from_row = name not in in_key
        at = 3 + sum(r for r, _ in sources) if from_row else key_names.index(name)
        sources.append((from_row, at))
    fixed = sum(not _nullable(columns[i]) for i, _ in obs)  # fields never NULL
    opened: tuple[int, str] | None = None  # the series written last, still open: id, element
    written = 0
    first, second, third = itemgetter(0), itemgetter(1), itemgetter(2)
    read = (
        (rows, keys.read([i for i, _ in groupby(map(first, rows))]))
        for rows in _batches(export, statement)
    )
    # PostgreSQL answers each FETCH while the writer waits: a thread reading the next batch (and
    # its keys) meanwhile lets the database and the writer work at once
    batches = _read_ahead(read) if export.conn.dialect.name == "postgresql" else read
    for rows, found in batches:
        n = len(rows)
        if not _sound("".join(map(second, rows)), n, fixed * n + sum(map(third, rows))):
            batches.close()  # the reader stops before the rows are read again
            yield from careful(_cells(export, written), None if opened is None else opened[1])
            return
        pieces: list[str] = []
        for series_id, group in groupby(rows, first):
            if opened is None or series_id != opened[0]:
                if opened is not None:
                    pieces.append("</Series>")
                row = next(group)
                key = found[series_id]
                element = head(tuple(row[k] if r else key[k] for r, k in sources))
                opened = (series_id, element)
                pieces.append(element)
                pieces.append(row[1])
            pieces.extend(map(second, group))  # noqa: B031 (the rest of the group after its first row)
        written += n
        yield "".join(pieces)
    if opened is not None:
        yield "</Series>"


def _series_ids(statement: Select) -> ColumnElement | None:
    """The series id column of the statement's only FROM (None: it has none)."""
    froms = statement.get_final_froms()
    if len(froms) != 1 or "series_id" not in froms[0].c:
        return None
    return froms[0].c.series_id


class _Keys:
    """Series keys by series id, read from the series table (the ids of one batch at a time:
    memory stays flat whatever the number of series)."""

    def __init__(self, export: "Export", names: list[str]) -> None:
        assert export.series is not None
        self.export = export
        self.statement = _key_statement(export.series, tuple(names), export.conn.dialect.name)

    def read(self, ids: list[int]) -> dict[int, tuple]:
        if not ids:
            return {}
        sql, values = bound(self.export.conn, self.statement, {"ids": ids})
        cursor = self.export.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, values)
            return {row[0]: row[1:] for row in cursor.fetchall()}
        finally:
            cursor.close()


_key_statements: "weakref.WeakKeyDictionary[Table, dict[tuple, Select]]" = (
    weakref.WeakKeyDictionary()
)


def _key_statement(table: Table, names: tuple[str, ...], dialect: str) -> Select:
    """SELECT series_id, the `names` columns of `table` for the ids :ids (built once). On
    PostgreSQL `= ANY(array)`: one statement text whatever the number of ids, so psycopg
    prepares it (an IN list of each length is a new statement to plan: ~2 ms each)."""
    built = _key_statements.setdefault(table, {})
    if (names, dialect) not in built:
        ids = table.c.series_id
        match = (
            ids == any_(bindparam("ids", type_=postgresql.ARRAY(Integer)))
            if dialect == "postgresql"
            else ids.in_(bindparam("ids", expanding=True))
        )
        built[names, dialect] = select(ids, *[table.c[n] for n in names]).where(match)
    return built[names, dialect]


def _element(dialect: str, tag: str, columns: list, fields: Fields, end: str) -> ColumnElement:
    """`tag` + ` ID="value"` for every field whose value is not NULL + `end`, in SQL. SQLite
    evaluates one printf much faster than a chain of `||` (a column that cannot be NULL goes
    straight into its format); PostgreSQL concatenates."""
    if dialect == "sqlite" and len(fields) <= PRINTF_MAX:
        template, values = tag, []
        for index, name in fields:
            column = columns[index]
            if _nullable(column):
                template += "%s"
                values.append(case((column.is_(None), _EMPTY), else_=_attribute(name, column)))
            else:
                template += f' {name}="%s"'
                values.append(column)
        return func.printf(literal_column(_sql_text(template + end), String), *values)
    out: ColumnElement = literal_column(_sql_text(tag), String)
    for index, name in fields:
        out = out + func.coalesce(_attribute(name, columns[index]), _EMPTY)
    return out + literal_column(_sql_text(end), String)


def _attribute(name: str, column: ColumnElement) -> ColumnElement:
    """` NAME="` || value || `"` (NULL when the value is)."""
    return literal_column(_sql_text(f' {name}="'), String) + column + _QUOTE


def _nullable(column: ColumnElement) -> bool:
    return getattr(column, "nullable", True) is not False


def _present(dialect: str, columns: list, fields: Fields) -> ColumnElement:
    """How many of the nullable `fields` are not NULL, in SQL."""
    total: ColumnElement = literal_column("0", Integer)
    for index, _ in fields:
        column = columns[index]
        if _nullable(column):
            total = total + (
                column.is_not(None)
                if dialect == "sqlite"  # a boolean is 0 or 1 there, without a CASE
                else case((column.is_(None), 0), else_=1)
            )
    return total


def _sql_text(value: str) -> str:
    """A SQL string literal of `value` (component ids and fixed markup only)."""
    return "'" + value.replace("'", "''") + "'"


def _sound(text: str, elements: int, fields: int) -> bool:
    """Whether `text`, `elements` elements holding `fields` values, has no character a value
    would need escaped: every `"`, `<` and `>` is markup, and no `&`, tab, CR or LF."""
    return (
        text.count('"') == 2 * fields
        and text.count("<") == elements
        and text.count(">") == elements
        and not any(c in text for c in _FORBIDDEN)
    )


def _batches(export: "Export", statement: Select) -> Iterator[list[tuple]]:
    """The rows of `statement` with the export's values, in batches of BATCH."""
    export.streamed.close()
    sql, values = bound(export.conn, statement, export.values)
    dbapi = export.conn.connection.dbapi_connection
    postgresql = export.conn.dialect.name == "postgresql"
    # PostgreSQL: a server-side cursor, named apart (the fallback reads while this one is open)
    named = {"name": f"dsm_elements_{next(_names)}"} if postgresql else {}
    cursor = dbapi.cursor(**named)  # type: ignore[union-attr]
    try:
        cursor.execute(sql, values)
        while rows := cursor.fetchmany(BATCH):
            yield rows
    finally:
        cursor.close()


_END: Final = object()


def _read_ahead(items: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """`items`, read by a thread of its own up to `depth` ahead. Closing the generator stops
    the thread (and closes `items`) before it returns; an exception in the thread is raised
    here."""
    queue: Queue = Queue(depth)
    stop = Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.05)
                return True
            except Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as error:  # noqa: BLE001 (handed to the reading thread)
            put(error)

    thread = Thread(target=run, name="dsm-read-ahead", daemon=True)
    thread.start()
    try:
        while (item := queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
        close = getattr(items, "close", None)  # a generator's: its cursor closes now
        if close is not None:
            close()


def _cells(export: "Export", skip: int) -> Iterator[tuple]:
    """The block's rows after the first `skip`, as cells."""
    for rows in _batches(export, export.statement):
        if skip >= len(rows):
            skip -= len(rows)
            continue
        yield from rows[skip:]
        skip = 0
