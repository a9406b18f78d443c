"""The versioned observation store: per DSD, a series table, an observation table holding every
version of every observation, and a view joining the two.

    series_<dsd>  series_id | dataflow | <dimension>...            (one row per series key)
    obs_<dsd>     pk | series_id | TIME_PERIOD | period_start | period_end
                  | OBS_VALUE (text as sent) | value_num | <attribute>... | provider
                  | opened_by | closed_by (submission ids) | valid_from | valid_to
    data_<dsd>    the view: obs_<dsd> with its series' dataflow and dimensions

A version is visible at time t when `valid_from <= t < valid_to` (valid_to NULL: still current).
A change closes the current row (valid_to = the submission's visible_from) and inserts the new one;
a deletion only closes. The current rows are served by a partial unique index on
(series_id, period_start, TIME_PERIOD) WHERE valid_to IS NULL, never by scanning history: the
period start (a function of the period, so the index is unique on the key all the same) puts
each series' rows in time order, so answers stream without sorting.

Why two tables: the key of an observation is mostly its series key, which repeats on every period.
Storing it once per series keeps the observation rows and the current-key index narrow, which is
most of the cost of writing (docs/storage.md measures it). The indexes on the observation table
are chosen for what writes pay: the current-key index and `valid_from` grow at their ends when
data arrives in order; `valid_to` and `closed_by` are partial (NULL on every new row, so a new
version costs them nothing). The data version (ETags), `updatedAfter`, reverts and embargo moves
find their rows through `valid_from` / `valid_to`, which a submission's rows share.

Reads go through the view (`FlowTables.obs`), so SQL written against "one row per observation
with its key" keeps working; writes go to the two tables (`app.storage.versions`). Attributes of
every level below the dataset are stored on the observation rows.

These tables follow the structures, not Alembic: `ensure` creates them on first use, `upgrade`
brings those made by an older DSM up to date (indexes, and the one-table layout of DSM 0.1).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

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
    UniqueConstraint,
    and_,
    func,
    inspect,
    or_,
    select,
    text,
)

from app.model.data import PERIOD_END, PERIOD_START
from app.model.dsd import CompiledFlow, Level

_metadata = MetaData()
_tables: dict[str, "FlowTables"] = {}
PK = BigInteger().with_variant(Integer(), "sqlite")
KEY_LENGTH = 100  # a dimension value
PERIOD_LENGTH = 40


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
    """The tables of one DSD: `series` and `versions` (physical), `obs` (the view reads use), and
    the temporary tables a submission stages its rows in."""

    name: str
    series: Table
    versions: Table
    obs: Table  # the view data_<name>: versions joined with their series
    stage: Table  # full keys with a period: series_id, period, values
    partial: Table  # everything else (deletions, series-only rows): dimensions, period, values
    work: Table  # the staged rows of existing series, classified against their current rows
    dimensions: tuple[str, ...]
    time: str
    values: tuple[str, ...]  # OBS_VALUE and the attributes stored on rows
    observation_level: tuple[str, ...]  # OBS_VALUE and observation-level attributes
    series_level: tuple[str, ...]

    @property
    def key(self) -> tuple[str, ...]:
        return (*self.dimensions, self.time)

    @property
    def stored(self) -> tuple[str, ...]:
        """The value columns of a version: period bounds, measure, attributes."""
        return (PERIOD_START, PERIOD_END, *self.values)


def tables_for(flow: CompiledFlow) -> FlowTables:
    """The tables of a flow's DSD (SQLAlchemy objects, built once per DSD)."""
    name = _name(flow)
    if name in _tables:
        return _tables[name]
    time = flow.time_dimension or "TIME_PERIOD"
    attributes = [a for a in flow.attributes if flow.components[a].level != Level.DATASET]
    values = (flow.measure, *attributes)

    def dimension_columns(nullable: bool) -> list[Column]:
        return [Column(d, String(KEY_LENGTH), nullable=nullable) for d in flow.dimensions]

    def value_columns() -> list[Column]:
        return [
            Column(PERIOD_START, String(32)),
            Column(PERIOD_END, String(32)),
            Column(flow.measure, Text),
            *[Column(a, Text) for a in attributes],
        ]

    series = Table(
        f"series_{name}",
        _metadata,
        Column("series_id", Integer, primary_key=True, autoincrement=False),
        Column("dataflow", String(300), nullable=False),
        *dimension_columns(False),
        UniqueConstraint("dataflow", *flow.dimensions, name=f"uq_{name}_series_key"),
    )
    versions = Table(
        f"obs_{name}",
        _metadata,
        Column("pk", PK, primary_key=True, autoincrement=True),
        Column("series_id", Integer, nullable=False),
        Column(time, String(PERIOD_LENGTH), nullable=False),
        *value_columns(),
        Column("value_num", Float),
        Column("provider", String(100)),
        Column("opened_by", Integer, nullable=False),
        Column("closed_by", Integer),
        Column("valid_from", DateTime(timezone=True), nullable=False),
        Column("valid_to", DateTime(timezone=True)),
    )
    closed = versions.c.valid_to.is_not(None)
    Index(  # period start before period: a series' rows come in order, ready to write
        f"ix_{name}_current",
        versions.c.series_id,
        versions.c[PERIOD_START],
        versions.c[time],
        unique=True,
        sqlite_where=versions.c.valid_to.is_(None),
        postgresql_where=versions.c.valid_to.is_(None),
    )
    Index(f"ix_{name}_from", versions.c.valid_from)
    Index(f"ix_{name}_to", versions.c.valid_to, sqlite_where=closed, postgresql_where=closed)
    obs = Table(
        f"data_{name}",
        _metadata,
        Column("pk", PK),
        Column("series_id", Integer),
        Column("dataflow", String(300)),
        *dimension_columns(False),  # never NULL in the view: SQL built from it may rely on it
        Column(time, String(PERIOD_LENGTH), nullable=False),
        *value_columns(),
        Column("value_num", Float),
        Column("provider", String(100)),
        Column("opened_by", Integer),
        Column("closed_by", Integer),
        Column("valid_from", DateTime(timezone=True)),
        Column("valid_to", DateTime(timezone=True)),
    )
    stage = Table(
        f"stage_{name}",
        _metadata,
        Column("series_id", Integer),
        Column(time, String(PERIOD_LENGTH)),
        *value_columns(),
        prefixes=["TEMPORARY"],
    )
    partial = Table(
        f"partial_{name}",
        _metadata,
        Column("row_no", Integer),
        *dimension_columns(True),
        Column(time, String(PERIOD_LENGTH)),
        *value_columns(),
        Column("named", Integer),  # a DELETE row that names values: 1 (delete only those)
        prefixes=["TEMPORARY"],
    )
    work = Table(
        f"work_{name}",
        _metadata,
        Column("old_pk", PK),
        Column("status", String(1)),
        Column("series_id", Integer),
        Column(time, String(PERIOD_LENGTH)),
        *value_columns(),
        prefixes=["TEMPORARY"],
    )
    level = {a: flow.components[a].level for a in attributes}
    tables = FlowTables(
        name,
        series,
        versions,
        obs,
        stage,
        partial,
        work,
        flow.dimensions,
        time,
        values,
        observation_level=(flow.measure, *[a for a in attributes if level[a] == Level.OBSERVATION]),
        series_level=tuple(a for a in attributes if level[a] == Level.SERIES),
    )
    _tables[name] = tables
    return tables


def _view_sql(tables: FlowTables) -> str:
    names = [c.name for c in tables.obs.columns]
    from_series = {"dataflow", *tables.dimensions}
    columns = ", ".join(f'{"s" if n in from_series else "o"}."{n}"' for n in names)
    return (
        f'SELECT {columns} FROM "{tables.versions.name}" o '
        f'JOIN "{tables.series.name}" s ON s.series_id = o.series_id'
    )


def exists(conn: Connection, tables: FlowTables) -> bool:
    return conn.dialect.has_table(conn, tables.versions.name)


def ensure(conn: Connection, tables: FlowTables) -> None:
    """Create the tables of a DSD if this database does not have them yet, and empty the
    scratch tables (checked every time: a cache would survive the rollback of the transaction
    that created them)."""
    if not exists(conn, tables):
        tables.series.create(conn)
        tables.versions.create(conn)
        conn.execute(text(f'CREATE VIEW "{tables.obs.name}" AS {_view_sql(tables)}'))
    for scratch in (tables.stage, tables.partial, tables.work):
        scratch.create(conn, checkfirst=True)
        conn.execute(scratch.delete())


def upgrade(conn: Connection, tables: FlowTables) -> None:
    """Bring a DSD's tables made by an older DSM up to date: the one-table layout of DSM 0.1
    (`obs_<dsd>` with the dataflow and dimensions on every row) is split into series and
    versions, keeping every version; missing indexes are created."""
    if not exists(conn, tables):
        return
    columns = {c["name"] for c in inspect(conn).get_columns(tables.versions.name)}
    if "dataflow" in columns:
        _split_legacy(conn, tables)
        return
    present = {ix["name"] for ix in inspect(conn).get_indexes(tables.versions.name)}
    wanted = {index.name for index in tables.versions.indexes}
    for name in present - wanted:  # replaced by a better one
        if name and name.startswith(f"ix_{tables.name}_"):
            conn.execute(text(f'DROP INDEX "{name}"'))
    for index in tables.versions.indexes:
        if index.name not in present:
            index.create(conn)


def _split_legacy(conn: Connection, tables: FlowTables) -> None:
    legacy = f"{tables.versions.name}_legacy"
    for index in inspect(conn).get_indexes(tables.versions.name):
        conn.execute(text(f'DROP INDEX "{index["name"]}"'))
    conn.execute(text(f'ALTER TABLE "{tables.versions.name}" RENAME TO "{legacy}"'))
    tables.series.create(conn)
    tables.versions.create(conn)
    conn.execute(text(f'CREATE VIEW "{tables.obs.name}" AS {_view_sql(tables)}'))
    dims = ", ".join(f'"{d}"' for d in tables.dimensions)
    conn.execute(
        text(
            f'INSERT INTO "{tables.series.name}" (series_id, dataflow, {dims}) '
            f"SELECT row_number() OVER (ORDER BY dataflow, {dims}), dataflow, {dims} "
            f'FROM (SELECT DISTINCT dataflow, {dims} FROM "{legacy}") keys'
        )
    )
    copied = [
        c.name for c in tables.versions.columns if c.name not in ("pk", "series_id", "provider")
    ]
    names = ", ".join(f'"{c}"' for c in copied)
    legacy_names = ", ".join(f'l."{c}"' for c in copied)
    match = " AND ".join(f's."{d}" = l."{d}"' for d in ("dataflow", *tables.dimensions))
    conn.execute(
        text(
            f'INSERT INTO "{tables.versions.name}" (series_id, provider, {names}) '
            f"SELECT s.series_id, l.provider, {legacy_names} "
            f'FROM "{legacy}" l JOIN "{tables.series.name}" s ON {match} ORDER BY l.pk'
        )
    )
    conn.execute(text(f'DROP TABLE "{legacy}"'))


ANALYZE_AFTER: Final = 10_000  # observations a submission changes before any ANALYZE
ANALYZE_SHARE: Final = 0.1  # autovacuum's default share (autovacuum_analyze_scale_factor)


def analyze(engine: Engine, touched: Iterable[FlowTables], changed: int) -> None:
    """Refresh PostgreSQL's statistics (SQLite plans without them) of the tables of each DSD
    that a submission changing `changed` observations (at least ANALYZE_AFTER) changed a lot: a
    versions table the statistics do not know yet (until then it is planned as an empty one),
    or by at least ANALYZE_SHARE of the rows they know (its series table with it). A smaller
    change is left to autovacuum, which analyzes a table once the changes since the last time
    pass the same share: ANALYZE samples 30,000 rows however small the change (a
    10,000-observation update of a 1M-row table spent 40% of its time there), and the
    statistics of a big table barely move."""
    if engine.dialect.name != "postgresql" or changed < ANALYZE_AFTER:
        return
    known = text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(quote_ident(:name))")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for tables in sorted(touched, key=lambda t: t.name):
            rows = conn.execute(known, {"name": tables.versions.name}).scalar()
            if rows is None or rows <= 0 or changed >= ANALYZE_SHARE * rows:
                for table in (tables.versions, tables.series):
                    conn.execute(text(f'ANALYZE "{table.name}"'))


def existing_tables(conn: Connection, flows: Iterable[CompiledFlow]) -> list[FlowTables]:
    """The observation tables of `flows` that exist, each once (dataflows may share a DSD)."""
    found: dict[str, FlowTables] = {}
    for flow in flows:
        tables = tables_for(flow)
        if tables.name not in found and exists(conn, tables):
            found[tables.name] = tables
    return list(found.values())


def current_count(conn: Connection, tables: FlowTables, dataflow: str | None = None) -> int:
    obs = tables.obs
    query = select(func.count()).select_from(obs).where(obs.c.valid_to.is_(None))
    if dataflow:
        query = query.where(obs.c.dataflow == dataflow)
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
