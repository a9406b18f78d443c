"""The versioned observation store: one table per DSD, every version of every observation.

Layout of `obs_<agency>_<dsd>_<version>` (created on first use from the compiled dataflow; the
catalog tables belong to Alembic, these follow the structures):

    pk | dataflow | provider | <dimension>... | TIME_PERIOD | period_start | period_end
       | OBS_VALUE (text as sent) | value_num (float) | <attribute>...
       | opened_by | closed_by (submission ids) | valid_from | valid_to

A version is visible at time t when `valid_from <= t < valid_to` (valid_to NULL: still current).
A change closes the current row (valid_to = the submission's visible_from) and inserts the new one;
a deletion only closes. The current rows are served by a partial unique index on the key
(dataflow, dimensions, TIME_PERIOD) WHERE valid_to IS NULL, never by scanning history.

Writes are set-based (DESIGN.md): a chunk is staged in a temporary table (executemany on SQLite,
COPY on PostgreSQL), then a few INSERT ... SELECT / UPDATE statements apply the whole dataset.
Attributes of every level below the dataset are stored on the observation rows.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    inspect,
    literal,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from app.model.actions import Operation
from app.model.data import PERIOD_END, PERIOD_START, Chunk
from app.model.dsd import CompiledFlow, Level
from app.storage.schema import dataset_attributes

_metadata = MetaData()
_tables: dict[str, "FlowTables"] = {}
PK = BigInteger().with_variant(Integer(), "sqlite")


def _name(flow: CompiledFlow) -> str:
    agency, ident, version = flow.dsd
    return re.sub(r"[^a-z0-9]+", "_", f"{agency}_{ident}_{version}".lower())


@dataclass
class Counts:
    series: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    def add(self, other: "Counts") -> None:
        self.series += other.series
        self.inserted += other.inserted
        self.updated += other.updated
        self.deleted += other.deleted
        self.unchanged += other.unchanged


@dataclass
class FlowTables:
    """The observation table of a DSD and the two scratch tables used to write it."""

    obs: Table
    stage: Table
    work: Table
    dimensions: tuple[str, ...]
    time: str
    values: tuple[str, ...]  # OBS_VALUE and the attributes stored on rows
    observation_level: tuple[str, ...]  # OBS_VALUE and observation-level attributes
    series_level: tuple[str, ...]

    @property
    def key(self) -> tuple[str, ...]:
        return (*self.dimensions, self.time)


def tables_for(flow: CompiledFlow) -> FlowTables:
    """The tables of a flow's DSD (SQLAlchemy objects, built once per DSD)."""
    name = _name(flow)
    if name in _tables:
        return _tables[name]
    time = flow.time_dimension or "TIME_PERIOD"
    attributes = [a for a in flow.attributes if flow.components[a].level != Level.DATASET]
    values = (flow.measure, *attributes)

    def key_columns() -> list[Column]:
        return [Column(d, String(100)) for d in flow.dimensions]

    def value_columns(numeric: bool = True) -> list[Column]:
        return [
            Column(PERIOD_START, String(32)),
            Column(PERIOD_END, String(32)),
            Column(flow.measure, Text),
            *([Column("value_num", Float)] if numeric else []),
            *[Column(a, Text) for a in attributes],
        ]

    obs = Table(
        f"obs_{name}",
        _metadata,
        Column("pk", PK, primary_key=True, autoincrement=True),
        Column("dataflow", String(300), nullable=False),
        Column("provider", String(100)),
        *key_columns(),
        Column(time, String(40), nullable=False),
        *value_columns(),
        Column("opened_by", Integer, nullable=False),
        Column("closed_by", Integer),
        Column("valid_from", DateTime(timezone=True), nullable=False),
        Column("valid_to", DateTime(timezone=True)),
    )
    Index(
        f"ix_{name}_current",
        obs.c.dataflow,
        *[obs.c[d] for d in flow.dimensions],
        obs.c[time],
        unique=True,
        sqlite_where=obs.c.valid_to.is_(None),
        postgresql_where=obs.c.valid_to.is_(None),
    )
    # per dataflow, so the data version (max) and updatedAfter are index lookups, not scans
    Index(f"ix_{name}_flow_from", obs.c.dataflow, obs.c.valid_from)
    Index(f"ix_{name}_flow_to", obs.c.dataflow, obs.c.valid_to)
    Index(f"ix_{name}_opened", obs.c.opened_by)
    Index(f"ix_{name}_closed", obs.c.closed_by)
    stage = Table(
        f"stage_{name}",
        _metadata,
        Column("row_no", Integer),
        Column("op", String(10)),
        *key_columns(),
        Column(time, String(40)),
        *value_columns(numeric=False),  # value_num is computed when rows are written
        Column("named", Integer),  # a DELETE row that names values: 1 (delete only those)
        prefixes=["TEMPORARY"],
    )
    work = Table(
        f"work_{name}",
        _metadata,
        Column("old_pk", PK),
        Column("status", String(1)),
        *key_columns(),
        Column(time, String(40)),
        *value_columns(),
        prefixes=["TEMPORARY"],
    )
    level = {a: flow.components[a].level for a in attributes}
    tables = FlowTables(
        obs,
        stage,
        work,
        flow.dimensions,
        time,
        values,
        observation_level=(flow.measure, *[a for a in attributes if level[a] == Level.OBSERVATION]),
        series_level=tuple(a for a in attributes if level[a] == Level.SERIES),
    )
    _tables[name] = tables
    return tables


def ensure(conn: Connection, tables: FlowTables) -> None:
    """Create the observation table if this database does not have it yet."""
    # checked every time: a cache would survive the rollback of the transaction that created it
    tables.obs.create(conn, checkfirst=True)
    tables.stage.create(conn, checkfirst=True)
    tables.work.create(conn, checkfirst=True)
    conn.execute(tables.stage.delete())


def stage(
    conn: Connection, tables: FlowTables, chunk: Chunk, op: Operation, first_row: int
) -> None:
    """Append a validated chunk to the staging table (bulk: executemany or COPY). Only the
    columns the chunk has are sent; the others stay NULL."""
    n = len(chunk)
    columns = chunk.columns
    names = [
        c.name
        for c in tables.stage.columns
        if c.name in columns and c.name not in ("row_no", "op", "named")
    ]
    data: list = [columns[name] for name in names]
    names += ["row_no", "op"]
    data += [range(first_row, first_row + n), [op.value] * n]
    if op == Operation.DELETE:
        named = [0] * n
        for value_column in tables.values:
            for i, value in enumerate(columns.get(value_column, ())):
                if value is not None:
                    named[i] = 1
        names.append("named")
        data.append(named)
    rows = list(zip(*data, strict=True))
    quoted = ", ".join(f'"{c}"' for c in names)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.cursor()
        with cursor.copy(f'COPY "{tables.stage.name}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    else:
        placeholders = ", ".join("?" for _ in names)
        conn.connection.cursor().executemany(
            f'INSERT INTO "{tables.stage.name}" ({quoted}) VALUES ({placeholders})', rows
        )


def apply_group(
    conn: Connection, tables: FlowTables, key: dict[str, str], attributes: dict[str, str]
) -> None:
    """Give the staged rows of a group's series (those matching its partial key) the group's
    attribute values, where the rows do not give their own."""
    stage_ = tables.stage
    match = [stage_.c[d] == v for d, v in key.items() if d in stage_.c]
    values = {a: func.coalesce(stage_.c[a], v) for a, v in attributes.items() if a in stage_.c}
    if values:
        conn.execute(update(stage_).where(*match).values(**values))


def duplicates(conn: Connection, tables: FlowTables, limit: int) -> list[tuple[str, int]]:
    """Keys given more than once in the staged dataset: (series key + period, count)."""
    stage_ = tables.stage
    key = [stage_.c[k] for k in tables.key]
    query = (
        select(*key, func.count())
        .where(stage_.c[tables.time].is_not(None))
        .group_by(*key)
        .having(func.count() > 1)
        .limit(limit)
    )
    return [
        (".".join(str(v or "") for v in row[:-2]) + " " + str(row[-2]), row[-1])
        for row in conn.execute(query)
    ]


def inconsistent_series(conn: Connection, tables: FlowTables, limit: int) -> list[tuple[str, str]]:
    """(series key, attribute) where one series carries different values of a series attribute
    (one GROUP BY for all series attributes)."""
    stage_ = tables.stage
    if not tables.series_level:
        return []
    dims = [stage_.c[d] for d in tables.dimensions]
    counts = [func.count(stage_.c[a].distinct()).label(a) for a in tables.series_level]
    query = (
        select(*dims, *counts)
        .group_by(*dims)
        .having(or_(*[func.count(stage_.c[a].distinct()) > 1 for a in tables.series_level]))
        .limit(limit)
    )
    found = []
    for row in conn.execute(query):
        key = ".".join(str(v or "") for v in row[: len(dims)])
        found += [
            (key, a) for a, n in zip(tables.series_level, row[len(dims) :], strict=True) if n > 1
        ]
    return found


def _same(a: ColumnElement, b: ColumnElement) -> ColumnElement:
    return a.is_not_distinct_from(b)


def _scope(obs: Table, scope: dict[str, frozenset[str]] | None) -> list[ColumnElement]:
    return [obs.c[dim].in_(sorted(codes)) for dim, codes in (scope or {}).items() if dim in obs.c]


def apply(
    conn: Connection,
    tables: FlowTables,
    *,
    dataflow: str,
    op: Operation,
    submission: int,
    at: datetime,
    provider: str | None,
    scope: dict[str, frozenset[str]] | None,
) -> Counts:
    """Apply the staged dataset to the observation table (one transaction is the caller's)."""
    counts = Counts()
    stage_ = tables.stage
    dims = [stage_.c[d] for d in tables.dimensions]
    counts.series = conn.execute(
        select(func.count()).select_from(select(*dims).distinct().subquery())
    ).scalar_one()
    if op == Operation.DELETE:
        _delete(conn, tables, dataflow, submission, at, provider, scope, counts)
    else:
        _upsert(conn, tables, dataflow, op, submission, at, provider, counts)
    return counts


def _upsert(
    conn: Connection,
    tables: FlowTables,
    dataflow: str,
    op: Operation,
    submission: int,
    at: datetime,
    provider: str | None,
    counts: Counts,
) -> None:
    obs, stage_ = tables.obs, tables.stage
    current = and_(obs.c.dataflow == dataflow, obs.c.valid_to.is_(None))
    if conn.execute(select(obs.c.pk).where(current).limit(1)).first() is None:
        _first_load(conn, tables, dataflow, submission, at, provider, counts)
        return
    # 1. observations given with their period
    on = and_(current, *[obs.c[k] == stage_.c[k] for k in tables.key])
    new = {}
    for name in (PERIOD_START, PERIOD_END):
        new[name] = func.coalesce(stage_.c[name], obs.c[name])
    for name in tables.values:
        replaced = op == Operation.REPLACE and name in tables.observation_level
        new[name] = stage_.c[name] if replaced else func.coalesce(stage_.c[name], obs.c[name])
    if op == Operation.APPEND:  # never change a stored value
        new = {k: case((obs.c.pk.is_(None), stage_.c[k]), else_=obs.c[k]) for k in new}
    new["value_num"] = cast(new[tables.values[0]], Float)
    _fill_work(
        conn,
        tables,
        select(*[stage_.c[k] for k in tables.key], obs.c.pk, *new.values())
        .select_from(stage_.outerjoin(obs, on))
        .where(stage_.c[tables.time].is_not(None)),
        list(new),
    )
    # 2. series given without observations: new series-level values for all their observations
    # a dimension left out (a group's partial key) matches every value
    series_on = and_(
        current, *[or_(stage_.c[d].is_(None), obs.c[d] == stage_.c[d]) for d in tables.dimensions]
    )
    series_new = {
        name: obs.c[name] for name in (PERIOD_START, PERIOD_END, *tables.values, "value_num")
    }
    for name in tables.series_level:
        series_new[name] = func.coalesce(stage_.c[name], obs.c[name])
    series_rows = select(literal(1)).where(stage_.c[tables.time].is_(None)).exists()
    if (
        op != Operation.APPEND
        and tables.series_level
        and conn.execute(select(series_rows)).scalar()
    ):
        _fill_work(
            conn,
            tables,
            select(*[obs.c[k] for k in tables.key], obs.c.pk, *series_new.values())
            .select_from(stage_.join(obs, series_on))
            .where(stage_.c[tables.time].is_(None)),
            list(series_new),
        )
    _classify(conn, tables)
    _commit_work(conn, tables, dataflow, submission, at, provider, counts)


def _first_load(
    conn: Connection,
    tables: FlowTables,
    dataflow: str,
    submission: int,
    at: datetime,
    provider: str | None,
    counts: Counts,
) -> None:
    """Nothing stored yet for the dataflow: every staged observation is new, no comparison needed."""
    stage_ = tables.stage
    given = stage_.c[tables.time].is_not(None)
    copied = [*tables.key, PERIOD_START, PERIOD_END, *tables.values]
    conn.execute(
        tables.obs.insert().from_select(
            ["dataflow", "provider", "opened_by", "valid_from", *copied, "value_num"],
            select(
                literal(dataflow),
                literal(provider, String),
                literal(submission),
                literal(at, DateTime(timezone=True)),
                *[stage_.c[c] for c in copied],
                cast(stage_.c[tables.values[0]], Float),
            ).where(given),
        )
    )
    counts.inserted += conn.execute(select(func.count()).where(given)).scalar_one()


def _fill_work(conn: Connection, tables: FlowTables, query, names: list[str]) -> None:
    work = tables.work
    columns = [work.c[k] for k in tables.key] + [work.c.old_pk] + [work.c[n] for n in names]
    conn.execute(work.insert().from_select(columns, query))


def _classify(conn: Connection, tables: FlowTables) -> None:
    """status: I new key, U unchanged, C changed (in the work table)."""
    obs, work = tables.obs, tables.work
    differs = or_(*[~_same(obs.c[n], work.c[n]) for n in tables.values])
    changed = select(literal(1)).where(obs.c.pk == work.c.old_pk, differs).exists()
    conn.execute(
        update(work).values(status=case((work.c.old_pk.is_(None), "I"), (changed, "C"), else_="U"))
    )


def _commit_work(
    conn: Connection,
    tables: FlowTables,
    dataflow: str,
    submission: int,
    at: datetime,
    provider: str | None,
    counts: Counts,
) -> None:
    obs, work = tables.obs, tables.work
    tallies = dict(conn.execute(select(work.c.status, func.count()).group_by(work.c.status)).all())
    counts.inserted += tallies.get("I", 0)
    counts.updated += tallies.get("C", 0)
    counts.unchanged += tallies.get("U", 0)
    conn.execute(
        update(obs)
        .where(obs.c.pk.in_(select(work.c.old_pk).where(work.c.status == "C")))
        .values(valid_to=at, closed_by=submission)
    )
    copied = [*tables.key, PERIOD_START, PERIOD_END, *tables.values, "value_num"]
    conn.execute(
        obs.insert().from_select(
            ["dataflow", "provider", "opened_by", "valid_from", *copied],
            select(
                literal(dataflow),
                literal(provider, String),
                literal(submission),
                literal(at, DateTime(timezone=True)),
                *[work.c[c] for c in copied],
            ).where(work.c.status.in_(("I", "C"))),
        )
    )
    conn.execute(work.delete())


def _delete(
    conn: Connection,
    tables: FlowTables,
    dataflow: str,
    submission: int,
    at: datetime,
    provider: str | None,
    scope: dict[str, frozenset[str]] | None,
    counts: Counts,
) -> None:
    obs, stage_ = tables.obs, tables.stage
    match = [or_(stage_.c[k].is_(None), stage_.c[k] == obs.c[k]) for k in tables.key]
    base = and_(obs.c.dataflow == dataflow, obs.c.valid_to.is_(None), *_scope(obs, scope))
    # rows naming values: those values only (a named measure deletes the observation)
    named = and_(*match, stage_.c.named == 1)
    blank = {
        n: case(
            (select(literal(1)).where(named, stage_.c[n].is_not(None)).exists(), null()),
            else_=obs.c[n],
        )
        for n in tables.values[1:]
    }
    measure_named = (
        select(literal(1)).where(named, stage_.c[tables.values[0]].is_not(None)).exists()
    )
    whole = select(literal(1)).where(*match, stage_.c.named == 0).exists()
    gone = and_(base, or_(whole, measure_named))
    counts.deleted += conn.execute(
        update(obs).where(gone).values(valid_to=at, closed_by=submission)
    ).rowcount
    keep = {n: obs.c[n] for n in (PERIOD_START, PERIOD_END, tables.values[0], "value_num")}
    _fill_work(
        conn,
        tables,
        select(*[obs.c[k] for k in tables.key], obs.c.pk, *keep.values(), *blank.values()).where(
            base, select(literal(1)).where(named).exists()
        ),
        [*keep, *blank],
    )
    _classify(conn, tables)
    _commit_work(conn, tables, dataflow, submission, at, provider, counts)


def analyze(engine: Engine, names: Iterable[str]) -> None:
    """Refresh PostgreSQL's statistics of observation tables (SQLite plans without them)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in sorted(names):
            conn.execute(text(f'ANALYZE "{name}"'))


def embargoed_closed(
    conn: Connection, tables: FlowTables, submission: int, now: datetime
) -> tuple[str, datetime] | None:
    """A version `submission` closed that is still under embargo (its key and release time), if
    any: writing over a pending release is refused until it happens or is cancelled."""
    obs = tables.obs
    row = conn.execute(
        select(*[obs.c[k] for k in tables.key], obs.c.valid_from)
        .where(obs.c.closed_by == submission, obs.c.valid_from > now)
        .limit(1)
    ).first()
    if row is None:
        return None
    return ".".join(str(v) for v in row[:-1] if v is not None), row[-1]


def current_count(conn: Connection, tables: FlowTables, dataflow: str | None = None) -> int:
    query = select(func.count()).select_from(tables.obs).where(tables.obs.c.valid_to.is_(None))
    if dataflow:
        query = query.where(tables.obs.c.dataflow == dataflow)
    return conn.execute(query).scalar_one()


def snapshot(
    conn: Connection,
    tables: FlowTables,
    dataflow: str,
    at: datetime | None = None,
) -> list[tuple]:
    """Every observation visible at `at` (None: current), as (key..., value, attributes...)."""
    obs = tables.obs
    visible = (
        obs.c.valid_to.is_(None)
        if at is None
        else and_(obs.c.valid_from <= at, or_(obs.c.valid_to.is_(None), obs.c.valid_to > at))
    )
    columns = [obs.c[c] for c in (*tables.key, *tables.values)]
    return [
        tuple(row)
        for row in conn.execute(
            select(*columns)
            .where(obs.c.dataflow == dataflow, visible)
            .order_by(*columns[: len(tables.key)])
        )
    ]


def upgrade_indexes(conn: Connection, tables: FlowTables) -> None:
    """Create the indexes a table made by an older DSM lacks (observation tables follow the
    structures, not Alembic, so `dsm db upgrade` and start-up bring their indexes up to date)."""
    if not exists(conn, tables):
        return
    present = {ix["name"] for ix in inspect(conn).get_indexes(tables.obs.name)}
    for index in tables.obs.indexes:
        if index.name not in present:
            index.create(conn)


def exists(conn: Connection, tables: FlowTables) -> bool:
    return conn.dialect.has_table(conn, tables.obs.name)


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
    obs = tables.obs
    counts = Counts()
    copied = ["dataflow", *tables.key, PERIOD_START, PERIOD_END, *tables.values, "value_num"]
    closed = conn.execute(
        update(obs)
        .where(obs.c.opened_by == submission, obs.c.valid_to.is_(None))
        .values(valid_to=at, closed_by=by)
    ).rowcount
    old = obs.alias("old")
    current = obs.alias("current")
    restorable = select(*[old.c[c] for c in copied]).where(
        old.c.closed_by == submission,
        ~select(literal(1))
        .where(
            current.c.valid_to.is_(None),
            current.c.dataflow == old.c.dataflow,
            *[_same(current.c[k], old.c[k]) for k in tables.key],
        )
        .exists(),
    )
    conn.execute(
        obs.insert().from_select(
            [*copied, "provider", "opened_by", "valid_from"],
            restorable.add_columns(
                literal(provider, String), literal(by), literal(at, DateTime(timezone=True))
            ),
        )
    )
    restored = conn.execute(
        select(func.count()).select_from(obs).where(obs.c.opened_by == by)
    ).scalar_one()  # INSERT ... SELECT reports no rowcount on PostgreSQL
    both = conn.execute(
        select(func.count())
        .select_from(obs)
        .where(
            obs.c.opened_by == by,
            select(literal(1))
            .where(
                old.c.opened_by == submission,
                old.c.closed_by == by,
                *[_same(old.c[k], obs.c[k]) for k in tables.key],
            )
            .exists(),
        )
    ).scalar_one()
    counts.updated = both
    counts.inserted = restored - both
    counts.deleted = closed - both
    return counts


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


def existing_tables(conn: Connection, flows: Iterable[CompiledFlow]) -> list[FlowTables]:
    """The observation tables of `flows` that exist, each once (dataflows may share a DSD)."""
    found: dict[str, FlowTables] = {}
    for flow in flows:
        tables = tables_for(flow)
        if tables.obs.name not in found and exists(conn, tables):
            found[tables.obs.name] = tables
    return list(found.values())


def move_release(conn: Connection, tables: FlowTables, submission: int, at: datetime) -> int:
    """Make the versions of a pending (embargoed) submission visible from `at` instead; the
    versions they replace stay visible until then. Returns the versions moved."""
    obs = tables.obs
    moved = conn.execute(update(obs).where(obs.c.opened_by == submission).values(valid_from=at))
    conn.execute(update(obs).where(obs.c.closed_by == submission).values(valid_to=at))
    return moved.rowcount


def cancel_release(conn: Connection, tables: FlowTables, submission: int) -> int:
    """Undo a pending (embargoed) submission: its versions go, the ones it replaced are current
    again (nobody saw the difference: nothing of it was visible yet). Returns versions removed."""
    obs = tables.obs
    removed = conn.execute(delete(obs).where(obs.c.opened_by == submission))
    conn.execute(
        update(obs).where(obs.c.closed_by == submission).values(valid_to=None, closed_by=None)
    )
    return removed.rowcount


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
