"""Writing versions: one dataset of a submission staged and applied to a DSD's tables, and the
operations that move or undo whole submissions (revert, embargo release moves and cancels).

A dataset's rows go one of two ways (the transaction is the caller's):

- rows that give a full series key (every dataset but a Delete: validation refuses partial keys
  elsewhere) go through `DatasetWriter`: their series keys are resolved to ids (new series
  created), the rows staged narrow (series id, period, values) with executemany or COPY, and at
  the end applied in a few set-based statements. Rows of series created by this dataset are new
  observations by definition and go straight into the versions table as they stream; the others
  are classified against their current rows (new, changed, unchanged) in a work table first.
  On PostgreSQL the straight rows go through one COPY left open across chunks, so the server
  writes a chunk while the next is read and checked (a first load of 1M rows: the COPY per
  chunk kept client and server taking turns); the new series are held back meanwhile and
  written when it ends, before any other statement (`DatasetWriter.settle`).
  Duplicates and a series-level attribute taking two values in one series are found while rows
  stream: rows of one series usually come together (a "run"), and within a run both are a set
  comparison. Only when a series comes back after others (a reopened run) does the dataset need
  the set-based check over the stage at the end.
- Delete rows (any dimension and the period may be left out; named values delete only those)
  are staged with their dimensions and matched against the current rows in SQL (`delete`).

Counts are exact and cheap: inserts, updates and unchanged rows come from the work table's
status, deletions from the closing UPDATE.
"""

from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, compress, repeat
from operator import ne, sub
from typing import TYPE_CHECKING

from sqlalchemy import (
    Connection,
    DateTime,
    Float,
    String,
    and_,
    case,
    cast,
    delete,
    event,
    func,
    literal,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from app.model.actions import Operation
from app.model.data import PERIOD_END, PERIOD_START
from app.storage.observations import Counts, FlowTables
from app.storage.schema import dataset_attributes, submissions

if TYPE_CHECKING:
    from psycopg import Copy

LOOKUP_BATCH = 500  # series keys looked up per statement
CACHE_SERIES = 100_000  # series ids kept in memory while a dataset is written
PENDING_SERIES = 20_000  # new series held back while their rows are COPYed (see `settle`)


@dataclass
class Trouble:
    """What a staged chunk repeats or contradicts (rows are indexes into the chunk)."""

    duplicates: list[int] = field(default_factory=list)
    inconsistent: list[tuple[int, str]] = field(default_factory=list)  # (row, attribute)


class DatasetWriter:
    """Writes the rows of one non-Delete dataset: `add` each validated chunk, then `apply`.

    Series ids are assigned here (the submission holds the writer lock, so no one else adds
    series meanwhile); `first_new` is the first id this dataset created."""

    def __init__(
        self,
        conn: Connection,
        tables: FlowTables,
        dataflow: str,
        *,
        submission: int,
        at: datetime,
        provider: str | None,
    ) -> None:
        self.conn, self.tables, self.dataflow = conn, tables, dataflow
        self.submission, self.at, self.provider = submission, at, provider
        series = tables.series
        top = conn.execute(select(func.max(series.c.series_id))).scalar()
        self.first_new = self.next_id = (top or 0) + 1
        self._lookups = (  # the dataflow has series already: a key not cached may be one
            conn.execute(
                select(series.c.series_id).where(series.c.dataflow == dataflow).limit(1)
            ).first()
            is not None
        )
        self._ids: dict[tuple, int] = {}  # series key -> id, up to CACHE_SERIES of them
        # one str object per code among the cached keys: a reader makes new strings for every
        # series, and 100,000 keys of 7 fresh strings held ~30 MB more than keys sharing them
        self._codes: dict[str, str] = {}
        self._created = _KeyFilter()  # keys this dataset created, once the cache overflowed
        self._seen = bytearray()  # per series id: 1 once a run of it was staged
        self._run: int | None = None  # the series of the run in progress
        self._periods: set[str] = set()
        self._values: tuple | None = None  # its series-level attribute values
        self.reopened = False  # some series came back after another: check the stage at the end
        self.series = 0
        self.direct = 0  # rows of new series inserted straight into the versions table
        self.existing = False  # some staged rows are of series that existed before this dataset
        columns = set(tables.stage.c.keys())
        self._value_names = [c for c in tables.stored if c in columns]
        self._insert = _DirectInsert(conn, tables, submission, at, provider)
        self._pending: list[tuple] = []  # rows of new series not written yet
        # any statement through SQLAlchemy settles first: one run while the COPY is open would
        # wait for the connection (psycopg holds its lock for the COPY) forever
        event.listen(conn, "before_cursor_execute", self._before_statement)
        self._listening = True

    def close(self, error: BaseException | None = None) -> None:
        """The dataset is written (or failed with `error`): settle, and stop listening to the
        connection (which would keep this writer and its caches for the whole message)."""
        self.settle(error)
        if self._listening:
            event.remove(self.conn, "before_cursor_execute", self._before_statement)
            self._listening = False

    def _before_statement(self, *_: object) -> None:
        if self._pending or self._insert.copying:
            self.settle()

    def settle(self, error: BaseException | None = None) -> None:
        """Finish what is in flight, before any other statement runs on the connection: the
        COPY of rows of new series left open across chunks (PostgreSQL: the server writes one
        chunk while the next is read and checked), then the new series held back meanwhile.
        After `error`, the COPY is abandoned instead (the transaction is rolled back).
        Statements through SQLAlchemy do it themselves (see `__init__`); statements on the
        DB-API connection (`_bulk_insert`) must call it first."""
        self._insert.close(error)
        if error is not None or not self._pending:
            return
        rows, self._pending = self._pending, []
        names = ["series_id", "dataflow", *self.tables.dimensions]
        _bulk_insert(self.conn, self.tables.series.name, names, list(zip(*rows, strict=True)))

    # -- series keys --------------------------------------------------------------------------
    def _resolve(self, keys: set[tuple]) -> None:
        if len(self._ids) + len(keys) > CACHE_SERIES:
            if not self._lookups and not self._created.active:
                # a first load: the keys it made so far, and from now on, go into the filter
                self._created.active = True
                self._created.update(self._ids.keys())
            self._ids.clear()
            self._codes.clear()
        code = self._codes.setdefault
        # a first load only needs to ask about keys it may have made itself
        wanted = list(keys) if self._lookups else [k for k in keys if k in self._created]
        if wanted:
            for start in range(0, len(wanted), LOOKUP_BATCH):
                for row in self._lookup(wanted[start : start + LOOKUP_BATCH]):
                    self._ids[tuple(code(v, v) for v in row[1:])] = row[0]
            keys = {k for k in keys if k not in self._ids}
        if not keys:
            return
        for key in sorted(keys):
            self._ids[tuple(code(v, v) for v in key)] = self.next_id
            self._pending.append((self.next_id, self.dataflow, *key))
            self.next_id += 1
        self._created.update(keys)
        if len(self._pending) >= PENDING_SERIES:
            self.settle()

    def _lookup(self, batch: list[tuple]) -> Sequence[Sequence]:
        """(series id, *key) of the keys in `batch` that are stored: the keys joined to the
        series table's unique index, one index search per key. (A row-value `IN` list of 500
        keys cost ~120 ms of planning per statement on PostgreSQL, and SQLite answered it by
        scanning every series of the dataflow: 73 ms at 250k series.)"""
        series, dims = self.tables.series, self.tables.dimensions
        picked = ", ".join(f's."{d}"' for d in dims)
        if self.conn.dialect.name == "postgresql":  # one array per dimension
            names = [f"k{i}" for i in range(len(dims))]
            arrays = ", ".join(f"CAST(:{n} AS text[])" for n in names)
            matches = " AND ".join(f's."{d}" = k.{n}' for d, n in zip(dims, names, strict=True))
            statement = text(
                f'SELECT s.series_id, {picked} FROM "{series.name}" AS s '
                f"JOIN unnest({arrays}) AS k({', '.join(names)}) ON {matches} "
                "WHERE s.dataflow = :dataflow"
            )
            values = dict(zip(names, map(list, zip(*batch, strict=True)), strict=True))
            return self.conn.execute(statement, {**values, "dataflow": self.dataflow}).all()
        row = "(" + ", ".join("?" for _ in dims) + ")"
        matches = " AND ".join(f's."{d}" = k.column{i}' for i, d in enumerate(dims, 1))
        return self.conn.exec_driver_sql(
            f'SELECT s.series_id, {picked} FROM "{series.name}" AS s '
            f"JOIN (VALUES {', '.join(row for _ in batch)}) AS k ON {matches} "
            "WHERE s.dataflow = ?",
            (*chain.from_iterable(batch), self.dataflow),
        ).all()

    # -- rows ---------------------------------------------------------------------------------
    def add(
        self, columns: dict[str, Sequence[str | None]], n: int, runs: list[int] | None = None
    ) -> Trouble:
        """Stage `n` rows (full keys) and report the duplicates and contradictions they bring.
        `runs`: where the reader says groups of rows of one series begin (else found here).

        Work per row stays in C (zip, compare, repeat); Python runs once per series run."""
        dims = [columns[d] for d in self.tables.dimensions]
        if runs:
            run_keys = [tuple(column[s] for column in dims) for s in runs]
            same = [0, *compress(range(1, len(runs)), map(ne, run_keys, run_keys[1:]))]
            starts = [runs[i] for i in same]  # a series element repeated at once: one run
            run_keys = [run_keys[i] for i in same]
        else:
            keys = list(zip(*dims, strict=True))
            starts = [0, *compress(range(1, n), map(ne, keys, keys[1:]))]
            run_keys = [keys[s] for s in starts]
        missing = set(run_keys).difference(self._ids)
        if missing:
            self._resolve(missing)
        run_ids = list(map(self._ids.__getitem__, run_keys))
        lengths = list(map(sub, [*starts[1:], n], starts))
        ids = list(chain.from_iterable(map(repeat, run_ids, lengths)))
        trouble = Trouble()
        runs = list(zip(run_ids, starts, [*starts[1:], n], strict=True))
        if not self._quick_checks(runs, ids, columns, n):
            for sid, start, end in runs:
                self._check_run(sid, start, end, columns, trouble)
        names = [c for c in self._value_names if c in columns]
        data = [ids, columns[self.tables.time], *[columns[c] for c in names]]
        if trouble.duplicates or trouble.inconsistent:
            return trouble  # refused: nothing of this dataset will be written
        if not self.reopened and None not in columns[self.tables.time]:
            # rows of series this dataset created are new observations: straight into the table
            fresh = [(start, end) for sid, start, end in runs if sid >= self.first_new]
            if len(fresh) == len(runs):
                self._insert.rows(names, data)
                self.direct += n
                return trouble
            for start, end in fresh:
                self._insert.rows(names, [column[start:end] for column in data])
                self.direct += end - start
            kept = [(start, end) for sid, start, end in runs if sid < self.first_new]
            data = [list(chain.from_iterable(c[a:b] for a, b in kept)) for c in data]
        self.settle()  # on the DB-API connection: no statement event settles it
        _bulk_insert(
            self.conn, self.tables.stage.name, ["series_id", self.tables.time, *names], data
        )
        self.existing = self.existing or min(run_ids) < self.first_new
        return trouble

    def _quick_checks(
        self, runs: list[tuple[int, int, int]], ids: list[int], columns: dict, n: int
    ) -> bool:
        """The common case, checked for the whole chunk at once: every period once per series,
        every series-level attribute constant within each run. False: look run by run."""
        periods = columns[self.tables.time]
        if None in periods or len(set(zip(ids, periods, strict=True))) != n:
            return False
        first_id, first_start, first_end = runs[0]
        continued = first_id == self._run
        if continued and not self._periods.isdisjoint(periods[first_start:first_end]):
            return False
        given = [(i, columns[a]) for i, a in enumerate(self.tables.series_level) if a in columns]
        for position, column in given:
            firsts = [column[start] for _, start, _ in runs]
            if None in firsts:
                return False
            spread = [
                repeat(v, end - start) for v, (_, start, end) in zip(firsts, runs, strict=True)
            ]
            if list(chain.from_iterable(spread)) != list(column):
                return False
            before = self._values[position] if continued and self._values else None
            if before is not None and before != firsts[0]:
                return False
        self._advance(runs, periods, given, continued)
        return True

    def _advance(
        self,
        runs: list[tuple[int, int, int]],
        periods: Sequence,
        given: list[tuple[int, Sequence]],
        continued: bool,
    ) -> None:
        """Bring the run state past a chunk that passed the quick checks."""
        last_id, start, end = runs[-1]
        if continued and len(runs) == 1:
            self._periods.update(periods[start:end])
            values = list(self._values or [None] * len(self.tables.series_level))
        else:
            for sid, _, _ in runs[1:] if continued else runs:
                self._open(sid)
            self._periods = set(periods[start:end])
            values = [None] * len(self.tables.series_level)
        for position, column in given:
            values[position] = column[start]
        self._values = tuple(values)

    def _check_run(self, sid: int, start: int, end: int, columns: dict, trouble: Trouble) -> None:
        """One run (rows start..end of one series), checked row by row against what the run
        gave before (the rare path: something is repeated, contradicted or missing)."""
        if sid != self._run:
            self._open(sid)
        periods = columns[self.tables.time]
        seen = self._periods
        for i in range(start, end):
            period = periods[i]
            if period is None:
                continue
            if period in seen:
                trouble.duplicates.append(i)
            seen.add(period)
        attributes = [(a, columns.get(a)) for a in self.tables.series_level]
        if self._values is None:
            self._values = tuple([None] * len(attributes))
        values = list(self._values)
        for position, (name, column) in enumerate(attributes):
            if column is None:
                continue
            for i in range(start, end):
                value = column[i]
                if value is None:
                    continue
                if values[position] is None:
                    values[position] = value
                elif value != values[position]:
                    trouble.inconsistent.append((i, name))
                    break
        self._values = tuple(values)

    def _open(self, sid: int) -> None:
        """A run of series `sid` starts (a reopened series if a run of it was seen before)."""
        self._run, self._periods, self._values = sid, set(), None
        if sid >= len(self._seen):
            self._seen.extend(bytes(max(sid + 1 - len(self._seen), 4096)))
        if self._seen[sid]:
            self.reopened = True
        else:
            self._seen[sid] = 1
            self.series += 1

    # -- the end of the dataset ---------------------------------------------------------------
    def stage_duplicates(self, limit: int) -> list[tuple[str, int]]:
        """(key, count) of observations given more than once (after a reopened run): twice in
        the stage, or in the stage and among the rows written straight into the table."""
        stage, series, v = self.tables.stage, self.tables.series, self.tables.versions
        time = stage.c[self.tables.time]
        dims = [series.c[d] for d in self.tables.dimensions]
        twice = (
            select(*dims, time, func.count())
            .select_from(stage.join(series, series.c.series_id == stage.c.series_id))
            .where(time.is_not(None))
            .group_by(stage.c.series_id, time, *dims)
            .having(func.count() > 1)
            .limit(limit)
        )
        found = [(".".join(r[:-2]) + " " + r[-2], r[-1]) for r in self.conn.execute(twice)]
        if self.direct and len(found) < limit:
            written = (
                select(*dims, time, func.count() + 1)
                .select_from(
                    stage.join(series, series.c.series_id == stage.c.series_id).join(
                        v,
                        and_(
                            v.c.series_id == stage.c.series_id,
                            v.c[PERIOD_START] == stage.c[PERIOD_START],
                            v.c[self.tables.time] == time,
                            *self._written(v),
                        ),
                    )
                )
                .group_by(stage.c.series_id, time, *dims)
                .limit(limit - len(found))
            )
            found += [(".".join(r[:-2]) + " " + r[-2], r[-1]) for r in self.conn.execute(written)]
        return found

    def stage_contradictions(self, limit: int) -> list[tuple[str, str]]:
        """(series key, attribute) where one series is given two values of a series-level
        attribute (after a reopened run): within the stage, or between the stage and the rows
        written straight into the table."""
        stage, series, v = self.tables.stage, self.tables.series, self.tables.versions
        level = [a for a in self.tables.series_level if a in stage.c]
        if not level:
            return []
        dims = [series.c[d] for d in self.tables.dimensions]
        counts = [func.count(stage.c[a].distinct()) for a in level]
        query = (
            select(*dims, *counts)
            .select_from(stage.join(series, series.c.series_id == stage.c.series_id))
            .group_by(stage.c.series_id, *dims)
            .having(or_(*[c > 1 for c in counts]))
            .limit(limit)
        )
        found = []
        for row in self.conn.execute(query):
            key = ".".join(row[: len(dims)])
            found += [(key, a) for a, n in zip(level, row[len(dims) :], strict=True) if n > 1]
        if not self.direct:
            return found
        for name in level:
            differs = (
                select(*dims)
                .select_from(
                    stage.join(series, series.c.series_id == stage.c.series_id).join(
                        v, and_(v.c.series_id == stage.c.series_id, *self._written(v))
                    )
                )
                .where(stage.c[name] != v.c[name])
                .distinct()
                .limit(limit)
            )
            found += [(".".join(row), name) for row in self.conn.execute(differs)]
        return found[:limit]

    def apply_group(self, key: dict[str, str], attributes: dict[str, str]) -> None:
        """Give the staged rows of a group's series (those matching its partial key) the group's
        attribute values, where the rows do not give their own."""
        stage, series = self.tables.stage, self.tables.series
        values = {a: func.coalesce(stage.c[a], v) for a, v in attributes.items() if a in stage.c}
        if not values:
            return
        members = select(series.c.series_id).where(
            series.c.dataflow == self.dataflow,
            *[series.c[d] == v for d, v in key.items() if d in series.c],
        )
        self.conn.execute(update(stage).where(stage.c.series_id.in_(members)).values(**values))
        if self.direct:  # rows already written: new in this submission, so changed in place
            v = self.tables.versions
            self.conn.execute(
                update(v)
                .where(*self._written(v), v.c.series_id.in_(members))
                .values(
                    **{a: func.coalesce(v.c[a], val) for a, val in attributes.items() if a in v.c}
                )
            )

    def _written(self, v) -> list[ColumnElement]:  # type: ignore[no-untyped-def]
        """The rows this dataset's writer inserted straight into the table."""
        return [
            v.c.valid_from == self.at,
            v.c.opened_by == self.submission,
            v.c.series_id >= self.first_new,
            v.c.valid_to.is_(None),
        ]

    def apply(self, op: Operation) -> Counts:
        """Apply the staged rows as `op` (APPEND, MERGE or REPLACE); the rows inserted straight
        into the table are counted in."""
        submission, at, provider = self.submission, self.at, self.provider
        counts = Counts(series=self.series, inserted=self.direct)
        tables, stage = self.tables, self.tables.stage
        new = stage.c.series_id >= self.first_new
        given = stage.c[tables.time].is_not(None)
        copied = [tables.time, *tables.stored]
        inserted = self.conn.execute(
            tables.versions.insert()
            .from_select(
                ["series_id", *copied, "value_num", "provider", "opened_by", "valid_from"],
                select(
                    stage.c.series_id,
                    *[stage.c[c] for c in copied],
                    cast(stage.c[tables.values[0]], Float),
                    literal(provider, String),
                    literal(submission),
                    literal(at, DateTime(timezone=True)),
                ).where(new, given),
            )
            .execution_options(preserve_rowcount=True)
        )
        counts.inserted += inserted.rowcount
        if not self.existing:
            return counts
        _classify_staged(self.conn, tables, op, self.first_new)
        if op != Operation.APPEND and tables.series_level:
            _series_rows(self.conn, tables)
        tallies = _commit_work(self.conn, tables, submission, at, provider)
        given_rows = self.conn.execute(select(func.count()).where(~new, given)).scalar_one()
        counts.inserted += tallies.get("I", 0)
        counts.updated += tallies.get("C", 0) + tallies.get("S", 0)
        counts.unchanged += given_rows - tallies.get("I", 0) - tallies.get("C", 0)
        return counts


class _KeyFilter:
    """The series keys a dataset created, as a Bloom filter (32 bits a key, 4 bytes: 1 MB for
    250,000 series): `key in filter` is False for a key never added, and True for added keys
    and a few in a million others. A first load of more series than the key cache holds asks
    the database only about keys it may have created, not about every new one (each such
    lookup planned 500 row comparisons: a first load of 10M observations into PostgreSQL ran at
    a quarter of the 1M rate). And each lookup ends the open COPY (`DatasetWriter.settle`):
    at 10 bits a key, 3% of the new keys of a 5M-observation load were false positives, which
    asked the database in 300 of its 500 chunks. Grows in layers of doubling size, so memory
    follows the number of series, not a guess of it."""

    HASHES = 10
    BITS_PER_KEY = 32

    def __init__(self) -> None:
        self.active = False  # nothing is recorded until the key cache first overflows
        self._layers: list[bytearray] = []
        self._room = 0  # keys the newest layer takes before the next one starts

    def update(self, keys: Iterable[tuple]) -> None:
        if not self.active:
            return
        for key in keys:
            if self._room == 0:
                size = 2 ** (19 + len(self._layers))  # bits: 524,288 for the first 16,384 keys
                self._layers.append(bytearray(size // 8))
                self._room = size // self.BITS_PER_KEY
            self._room -= 1
            layer = self._layers[-1]
            for bit in self._bits(key, len(layer) * 8):
                layer[bit >> 3] |= 1 << (bit & 7)

    def __contains__(self, key: tuple) -> bool:
        for layer in self._layers:
            if all(layer[bit >> 3] & (1 << (bit & 7)) for bit in self._bits(key, len(layer) * 8)):
                return True
        return False

    def _bits(self, key: tuple, size: int) -> list[int]:
        h = hash(key) & 0xFFFFFFFFFFFFFFFF
        low, high = h & 0xFFFFFFFF, (h >> 32) | 1
        return [(low + i * high) % size for i in range(self.HASHES)]


class _DirectInsert:
    """Rows of new series written straight into the versions table with the submission's
    constant columns: executemany on SQLite (value_num cast in SQL, as `apply` does), COPY on
    PostgreSQL (value_num computed here: COPY computes nothing)."""

    def __init__(
        self,
        conn: Connection,
        tables: FlowTables,
        submission: int,
        at: datetime,
        provider: str | None,
    ) -> None:
        self.conn, self.tables = conn, tables
        self.postgres = conn.dialect.name == "postgresql"
        stamp = tables.versions.c.valid_from.type
        processor = None if self.postgres else stamp._cached_bind_processor(conn.dialect)
        self.constants = (provider, submission, processor(at) if processor else at)
        self._statements: dict[tuple[str, ...], str] = {}
        self._copying: tuple[tuple[str, ...], ExitStack, Copy] | None = None

    def _copy(self, columns: tuple[str, ...]) -> "Copy":
        """The COPY into the versions table, left open across chunks; a new one when the
        columns change."""
        if self._copying is not None and self._copying[0] != columns:
            self.close()
        if self._copying is None:
            stack = ExitStack()
            quoted = ", ".join(f'"{c}"' for c in columns)
            statement = f'COPY "{self.tables.versions.name}" ({quoted}) FROM STDIN'
            copy = stack.enter_context(self.conn.connection.cursor().copy(statement))
            self._copying = (columns, stack, copy)
        return self._copying[2]

    @property
    def copying(self) -> bool:
        return self._copying is not None

    def close(self, error: BaseException | None = None) -> None:
        """End the open COPY, if any: its rows are then in the table; after `error`, it is
        abandoned (the server drops it, and the transaction can be rolled back)."""
        if self._copying is None:
            return
        stack = self._copying[1]
        self._copying = None
        if error is None:
            stack.close()
        else:
            stack.__exit__(type(error), error, error.__traceback__)

    def rows(self, names: list[str], data: list[Sequence]) -> None:
        """Insert rows given as columns: series ids, periods, then the value columns `names`."""
        given = ["series_id", self.tables.time, *names]
        constant = ["provider", "opened_by", "valid_from"]
        measure = self.tables.values[0]
        n = len(data[0])
        if self.postgres:
            values = data[2 + names.index(measure)] if measure in names else [None] * n
            copy = self._copy((*given, "value_num", *constant))
            copy.write(_copy_text([*data, _numbers(values)], self.constants))
            return
        statement = self._statements.get(tuple(names))
        if statement is None:
            number = f"CAST(?{3 + names.index(measure)} AS REAL)" if measure in names else "NULL"
            # the constants written into the statement: binding them cost ~5% of the insert
            places = ", ".join(
                [*(f"?{i}" for i in range(1, len(given) + 1)), *map(_literal, self.constants)]
            )
            quoted = ", ".join(f'"{c}"' for c in (*given, *constant, "value_num"))
            statement = self._statements[tuple(names)] = (
                f'INSERT INTO "{self.tables.versions.name}" ({quoted}) VALUES ({places}, {number})'
            )
        self.conn.connection.cursor().executemany(statement, zip(*data, strict=True))


def _literal(value: object) -> str:
    """An SQL literal of a constant (None, a whole number, or text)."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _numbers(values: Sequence[str | None]) -> list[float | None]:
    """value_num of each value: the number it writes, or None (no value, or not a number)."""
    try:
        if None not in values:
            return list(map(float, values))  # type: ignore[arg-type]
    except ValueError:
        pass
    numbers: list[float | None] = []
    for value in values:
        try:
            numbers.append(float(value) if value is not None else None)
        except ValueError:
            numbers.append(None)
    return numbers


def _bulk_insert(
    conn: Connection, table: str, names: Sequence[str], columns: Sequence[Sequence]
) -> None:
    """Rows given as columns into `table`: executemany on SQLite, COPY on PostgreSQL."""
    if not columns or not len(columns[0]):
        return
    quoted = ", ".join(f'"{c}"' for c in names)
    if conn.dialect.name == "postgresql":
        with conn.connection.cursor().copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            copy.write(_copy_text(columns))
        return
    placeholders = ", ".join("?" for _ in names)
    conn.connection.cursor().executemany(
        f'INSERT INTO "{table}" ({quoted}) VALUES ({placeholders})', zip(*columns, strict=True)
    )


_NULL = "\\N"  # COPY's text format: NULL
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(columns: Sequence[Sequence], constants: Sequence[object] = ()) -> str:
    """Rows given as columns (then `constants`, the same on every row) in COPY's text format,
    written a column at a time: str, map and join work in C. (psycopg's `write_row` dumped
    each value of each row through its dumper: 4 µs a row of a versions table, more than the
    reading and checking of the row together.)"""
    texts = [_copy_texts(column) for column in columns]
    if constants:
        texts.append(repeat("\t".join(_copy_texts(list(constants))), len(columns[0])))
    return "\n".join(map("\t".join, zip(*texts, strict=False))) + "\n"


def _copy_texts(column: Sequence) -> Sequence[str]:
    """A column's values as COPY text fields: None as `\\N`, strings with a backslash, tab,
    newline or carriage return escaped, anything else as `str` writes it (floats exactly, as
    `repr`; `inf` and `nan` PostgreSQL reads too; time stamps in ISO form with their zone)."""
    kinds = set(map(type, column))
    if kinds <= {int, float}:
        return list(map(str, column))
    if kinds == {str}:
        texts: Sequence[str] = column
        nulls = 0
    elif kinds <= {str, type(None)}:
        texts = [_NULL if value is None else value for value in column]
        nulls = column.count(None)
    else:
        return [
            _NULL if v is None else v.translate(_ESCAPES) if type(v) is str else str(v)
            for v in column
        ]
    joined = "".join(texts)
    if joined.count("\\") > nulls or "\t" in joined or "\n" in joined or "\r" in joined:
        return [_NULL if v is None else v.translate(_ESCAPES) for v in column]
    return texts


def _classify_staged(conn: Connection, tables: FlowTables, op: Operation, first_new: int) -> None:
    """The staged observations of existing series, with the values they would have and whether
    they are new (I), changed (C) or unchanged (U), into the work table (unchanged ones left out)."""
    v, stage = tables.versions, tables.stage
    time = tables.time
    on = and_(
        v.c.series_id == stage.c.series_id,
        v.c[PERIOD_START] == stage.c[PERIOD_START],
        v.c[time] == stage.c[time],
        v.c.valid_to.is_(None),
    )
    new: dict[str, ColumnElement] = {}
    for name in (PERIOD_START, PERIOD_END):
        new[name] = func.coalesce(stage.c[name], v.c[name])
    for name in tables.values:
        replaced = op == Operation.REPLACE and name in tables.observation_level
        new[name] = stage.c[name] if replaced else func.coalesce(stage.c[name], v.c[name])
    if op == Operation.APPEND:  # never change a stored value
        new = {k: case((v.c.pk.is_(None), stage.c[k]), else_=v.c[k]) for k in new}
    differs = or_(*[v.c[n].is_distinct_from(new[n]) for n in tables.values])
    status = case((v.c.pk.is_(None), "I"), (differs, "C"), else_="U")
    classified = (
        select(
            v.c.pk.label("old_pk"),
            status.label("status"),
            stage.c.series_id,
            stage.c[time],
            *[value.label(name) for name, value in new.items()],
        )
        .select_from(stage.outerjoin(v, on))
        .where(stage.c.series_id < first_new, stage.c[time].is_not(None))
        .subquery()
    )
    names = ["old_pk", "status", "series_id", time, *new]
    conn.execute(
        tables.work.insert().from_select(
            names, select(*[classified.c[n] for n in names]).where(classified.c.status != "U")
        )
    )


def _series_rows(conn: Connection, tables: FlowTables) -> None:
    """Series given without observations: their series-level values on all their current
    observations (into the work table as changes of status S)."""
    v, stage = tables.versions, tables.stage
    time = tables.time
    if (
        conn.execute(select(stage.c.series_id).where(stage.c[time].is_(None)).limit(1)).first()
        is None
    ):
        return
    on = and_(v.c.series_id == stage.c.series_id, v.c.valid_to.is_(None))
    new = {name: v.c[name] for name in tables.stored}
    for name in tables.series_level:
        new[name] = func.coalesce(stage.c[name], v.c[name])
    differs = or_(*[v.c[n].is_distinct_from(new[n]) for n in tables.series_level])
    conn.execute(
        tables.work.insert().from_select(
            ["old_pk", "status", "series_id", time, *new],
            select(v.c.pk, literal("S"), v.c.series_id, v.c[time], *new.values())
            .select_from(stage.join(v, on))
            .where(stage.c[time].is_(None), differs),
        )
    )


def _commit_work(
    conn: Connection, tables: FlowTables, submission: int, at: datetime, provider: str | None
) -> dict[str, int]:
    """Close the current rows the work table changes (status C or S) and insert the new versions
    (I, C, S); the rows of each status, counted."""
    v, work = tables.versions, tables.work
    tallies = dict(conn.execute(select(work.c.status, func.count()).group_by(work.c.status)).all())
    changed = ("C", "S")
    conn.execute(
        update(v)
        .where(v.c.pk.in_(select(work.c.old_pk).where(work.c.status.in_(changed))))
        .values(valid_to=at, closed_by=submission)
    )
    copied = [tables.time, *tables.stored]
    conn.execute(
        v.insert().from_select(
            ["series_id", *copied, "value_num", "provider", "opened_by", "valid_from"],
            select(
                work.c.series_id,
                *[work.c[c] for c in copied],
                cast(work.c[tables.values[0]], Float),
                literal(provider, String),
                literal(submission),
                literal(at, DateTime(timezone=True)),
            ).where(work.c.status.in_(("I", *changed))),
        )
    )
    conn.execute(work.delete())
    return tallies


# -- Delete datasets ------------------------------------------------------------------------------


def stage_deletions(
    conn: Connection, tables: FlowTables, columns: dict[str, Sequence[str | None]], first_row: int
) -> None:
    """Stage the rows of a Delete dataset: what they match (dimensions and period, None = any)
    and whether they name values (then only those values go)."""
    n = len(next(iter(columns.values()))) if columns else 1
    names = [
        c.name for c in tables.partial.columns if c.name in columns and c.name not in ("row_no",)
    ]
    data: list = [columns[name] for name in names]
    named = [0] * n
    for value_column in tables.values:
        for i, value in enumerate(columns.get(value_column, ())):
            if value is not None:
                named[i] = 1
    names += ["row_no", "named"]
    data += [range(first_row, first_row + n), named]
    _bulk_insert(conn, tables.partial.name, names, data)


def apply_deletions(
    conn: Connection,
    tables: FlowTables,
    *,
    dataflow: str,
    submission: int,
    at: datetime,
    provider: str | None,
    scope: dict[str, frozenset[str]] | None,
) -> Counts:
    """Apply the staged Delete rows: observations matched by a row naming no values are closed;
    a row naming attribute values gives a new version without them (naming the measure deletes
    the observation)."""
    obs, doomed = tables.obs, tables.partial
    counts = Counts()
    dims = [doomed.c[d] for d in tables.dimensions]
    counts.series = conn.execute(
        select(func.count()).select_from(select(*dims).distinct().subquery())
    ).scalar_one()
    match = [or_(doomed.c[k].is_(None), doomed.c[k] == obs.c[k]) for k in tables.key]
    scoped = [obs.c[d].in_(sorted(codes)) for d, codes in (scope or {}).items() if d in obs.c]
    base = and_(obs.c.dataflow == dataflow, obs.c.valid_to.is_(None), *scoped)
    named = and_(*match, doomed.c.named == 1)
    blank = {
        n: case(
            (select(literal(1)).where(named, doomed.c[n].is_not(None)).exists(), null()),
            else_=obs.c[n],
        )
        for n in tables.values[1:]
    }
    measure_named = (
        select(literal(1)).where(named, doomed.c[tables.values[0]].is_not(None)).exists()
    )
    whole = select(literal(1)).where(*match, doomed.c.named == 0).exists()
    gone = select(obs.c.pk).where(base, or_(whole, measure_named))
    v = tables.versions
    counts.deleted += conn.execute(
        update(v).where(v.c.pk.in_(gone)).values(valid_to=at, closed_by=submission)
    ).rowcount
    keep = [obs.c[n] for n in (PERIOD_START, PERIOD_END, tables.values[0])]
    conn.execute(
        tables.work.insert().from_select(
            ["old_pk", "series_id", tables.time, PERIOD_START, PERIOD_END, *tables.values],
            select(obs.c.pk, obs.c.series_id, obs.c[tables.time], *keep, *blank.values()).where(
                base, select(literal(1)).where(named).exists()
            ),
        )
    )
    differs = select(literal(1)).where(
        v.c.pk == tables.work.c.old_pk,
        or_(*[v.c[n].is_distinct_from(tables.work.c[n]) for n in tables.values]),
    )
    conn.execute(update(tables.work).values(status=case((differs.exists(), "C"), else_="U")))
    tallies = _commit_work(conn, tables, submission, at, provider)
    counts.updated += tallies.get("C", 0)
    counts.unchanged += tallies.get("U", 0)
    return counts


# -- whole submissions ----------------------------------------------------------------------------


def _visible_from(conn: Connection, submission: int) -> datetime | None:
    """When a submission's versions became (or become) visible: their valid_from, and the
    valid_to of the versions it closed."""
    return conn.execute(
        select(submissions.c.visible_from).where(submissions.c.id == submission)
    ).scalar()


def embargoed_closed(
    conn: Connection, tables: FlowTables, submission: int, at: datetime, now: datetime
) -> tuple[str, datetime] | None:
    """A version `submission` (visible from `at`) closed that is still under embargo (its key
    and release time), if any: writing over a pending release is refused until it happens or is
    cancelled."""
    v, series = tables.versions, tables.series
    row = conn.execute(
        select(*[series.c[d] for d in tables.dimensions], v.c[tables.time], v.c.valid_from)
        .select_from(v.join(series, series.c.series_id == v.c.series_id))
        .where(v.c.valid_to == at, v.c.closed_by == submission, v.c.valid_from > now)
        .limit(1)
    ).first()
    if row is None:
        return None
    return ".".join(str(value) for value in row[:-1]), row[-1]


def revert(
    conn: Connection,
    tables: FlowTables,
    submission: int,
    by: int,
    at: datetime,
    provider: str | None,
) -> Counts:
    """Undo `submission` in this table as a new submission `by`: close what it opened that is
    still current, and re-open what it closed whose key has no current row now. Keys that later
    submissions changed are left as they are (their current row is not the submission's)."""
    v = tables.versions
    counts = Counts()
    opened_at = _visible_from(conn, submission)
    if opened_at is None:
        return counts
    copied = ["series_id", tables.time, *tables.stored, "value_num"]
    closed = conn.execute(
        update(v)
        .where(v.c.valid_from == opened_at, v.c.opened_by == submission, v.c.valid_to.is_(None))
        .values(valid_to=at, closed_by=by)
    ).rowcount
    old, current = v.alias("old"), v.alias("current")
    same_key = [
        current.c.series_id == old.c.series_id,
        current.c[tables.time] == old.c[tables.time],
    ]
    restorable = select(*[old.c[c] for c in copied]).where(
        old.c.valid_to == opened_at,
        old.c.closed_by == submission,
        ~select(literal(1)).where(current.c.valid_to.is_(None), *same_key).exists(),
    )
    restored = conn.execute(
        v.insert()
        .from_select(
            [*copied, "provider", "opened_by", "valid_from"],
            restorable.add_columns(
                literal(provider, String), literal(by), literal(at, DateTime(timezone=True))
            ),
        )
        .execution_options(preserve_rowcount=True)
    ).rowcount
    both = conn.execute(
        select(func.count())
        .select_from(v)
        .where(
            v.c.valid_from == at,
            v.c.opened_by == by,
            select(literal(1))
            .where(
                old.c.valid_to == at,
                old.c.closed_by == by,
                old.c.opened_by == submission,
                old.c.series_id == v.c.series_id,
                old.c[tables.time] == v.c[tables.time],
            )
            .exists(),
        )
    ).scalar_one()
    counts.updated = both
    counts.inserted = restored - both
    counts.deleted = closed - both
    return counts


def move_release(conn: Connection, tables: FlowTables, submission: int, at: datetime) -> int:
    """Make the versions of a pending (embargoed) submission visible from `at` instead; the
    versions they replace stay visible until then. Returns the versions moved."""
    v = tables.versions
    was = _visible_from(conn, submission)
    moved = conn.execute(
        update(v).where(v.c.valid_from == was, v.c.opened_by == submission).values(valid_from=at)
    )
    conn.execute(
        update(v).where(v.c.valid_to == was, v.c.closed_by == submission).values(valid_to=at)
    )
    return moved.rowcount


def cancel_release(conn: Connection, tables: FlowTables, submission: int) -> int:
    """Undo a pending (embargoed) submission: its versions go, the ones it replaced are current
    again (nobody saw the difference: nothing of it was visible yet). Returns versions removed."""
    v = tables.versions
    was = _visible_from(conn, submission)
    removed = conn.execute(delete(v).where(v.c.valid_from == was, v.c.opened_by == submission))
    conn.execute(
        update(v)
        .where(v.c.valid_to == was, v.c.closed_by == submission)
        .values(valid_to=None, closed_by=None)
    )
    return removed.rowcount


# -- dataset-level attributes ---------------------------------------------------------------------


def set_dataset_attributes(
    conn: Connection,
    dataflow: str,
    values: dict[str, str],
    *,
    submission: int,
    at: datetime,
    provider: str | None,
) -> None:
    """Dataset-level attribute values, versioned like observations (same value: no new version)."""
    table = dataset_attributes
    for attribute, value in values.items():
        where = and_(
            table.c.dataflow == dataflow, table.c.attribute == attribute, table.c.valid_to.is_(None)
        )
        stored = conn.execute(select(table.c.value).where(where)).scalar()
        if stored == value:
            continue
        conn.execute(update(table).where(where).values(valid_to=at, closed_by=submission))
        conn.execute(
            table.insert().values(
                dataflow=dataflow,
                attribute=attribute,
                value=value,
                provider=provider,
                opened_by=submission,
                valid_from=at,
            )
        )


def move_dataset_attributes(conn: Connection, submission: int, at: datetime | None) -> None:
    """Dataset attributes of a pending submission: moved to `at`, or (None) cancelled."""
    table = dataset_attributes
    if at is None:
        conn.execute(delete(table).where(table.c.opened_by == submission))
        conn.execute(
            update(table)
            .where(table.c.closed_by == submission)
            .values(valid_to=None, closed_by=None)
        )
        return
    conn.execute(update(table).where(table.c.opened_by == submission).values(valid_from=at))
    conn.execute(update(table).where(table.c.closed_by == submission).values(valid_to=at))
