"""One measurement per process: `python bench/_tasks.py '{"task": ..., ...}'` prints one JSON line.

Each task runs in a fresh interpreter so its peak RSS (ru_maxrss) belongs to it alone; `base_mb` is
the RSS high-water mark just before the timed work (interpreter, imports, setup), `rss_mb` the one
after. Only the work itself is timed: not the imports, not loading structures, not creating tables.
"""

import csv
import json
import resource
import sqlite3
import sys
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH = 10_000
PLAIN_COLUMNS = 12  # FREQ..DATA_SOURCE, TIME_PERIOD, OBS_VALUE, OBS_STATUS, UNIT_MEASURE, UNIT_MULT


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the rows, merely extracted ---------------------------------------------------------------------
def csv_rows(path: str) -> Iterator[list[str]]:
    """The data columns of each SDMX-CSV 2.0 row (STRUCTURE, STRUCTURE_ID, ACTION dropped)."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            yield row[3:]


def xml_rows(path: str) -> Iterator[tuple[str, ...]]:
    """Series attributes + Obs attributes for each Obs of a structure-specific message, with lxml
    iterparse, clearing as it goes (the least a streaming SDMX-ML reader has to do)."""
    from lxml import etree

    series: tuple[str, ...] = ()
    events = etree.iterparse(
        path,
        events=("start", "end"),
        tag=("Series", "Obs"),
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
    )
    for event, elem in events:
        if elem.tag == "Obs":
            if event == "end":
                yield series + tuple(elem.attrib.values())
                elem.clear()
        elif event == "start":
            series = tuple(elem.attrib.values())
        else:
            elem.clear()
            while elem.getprevious() is not None:
                del elem.getparent()[0]


ROWS = {"csv": csv_rows, "xml": xml_rows}


def t_extract(path: str, fmt: str) -> dict:
    start = time.perf_counter()
    rows = sum(1 for _ in ROWS[fmt](path))
    return {"seconds": time.perf_counter() - start, "rows": rows}


# -- the rows into a plain table, without any logic ---------------------------------------------------
def t_sqlite(path: str, fmt: str, db: str) -> dict:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    cols = ", ".join(f"c{i} TEXT" for i in range(PLAIN_COLUMNS))
    conn.execute(f"CREATE TABLE t ({cols})")
    insert = f"INSERT INTO t VALUES ({', '.join('?' * PLAIN_COLUMNS)})"
    start = time.perf_counter()
    rows, source = 0, ROWS[fmt](path)
    conn.execute("BEGIN")
    while batch := list(islice(source, BATCH)):
        conn.executemany(insert, batch)
        rows += len(batch)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return {"seconds": seconds, "rows": rows}


def t_pgcopy(path: str, fmt: str, dsn: str) -> dict:
    import psycopg

    with psycopg.connect(dsn) as conn:
        cols = ", ".join(f"c{i} TEXT" for i in range(PLAIN_COLUMNS))
        conn.execute(f"CREATE TABLE t ({cols})")
        conn.commit()
        start = time.perf_counter()
        rows = 0
        with conn.cursor() as cur, cur.copy("COPY t FROM STDIN") as copy:
            for row in ROWS[fmt](path):
                copy.write_row(row)
                rows += 1
        conn.commit()
        return {"seconds": time.perf_counter() - start, "rows": rows}


# -- the rows into DSM's own tables: what the database takes, nothing else ---------------------------
def t_store(path: str, fmt: str, url: str, layout: dict) -> dict:
    """The rows into DSM's series and versions tables of a structure-seeded database, with the
    indexes DSM's queries use (primary keys, the current key, `valid_from`), timing the
    database alone: the rows are made ready untimed (series ids, period bounds, the value as a
    number, as DSM stores them), then SQLite's `executemany` of each batch of BATCH rows in one
    transaction, or PostgreSQL's `COPY` of the prepared text (sent in 1 MB blocks), plus the
    commit, are timed. No validation, versioning, submission record or kept message: the most
    an importer that stores what DSM stores, in DSM's layout, can reach."""
    import tempfile
    from datetime import UTC, datetime

    from app.model.data import PERIOD_END, PERIOD_START
    from app.services.structures import Structures
    from app.storage import observations as store
    from app.storage.engine import make_engine
    from app.validation.periods import period_range

    engine = make_engine(url)
    flow = Structures(engine).flows()[(layout["agency"], layout["id"], layout["version"])]
    tables = store.tables_for(flow)
    with engine.begin() as conn:
        store.ensure(conn, tables)
    engine.dispose()
    dims = list(layout["dimensions"])
    obs_attrs = [a for a, _ in layout["obs_attributes"]]
    series_attrs = [a for a, _ in layout["series_attributes"]]
    nd, ns, no = len(dims), len(series_attrs), len(obs_attrs)
    if fmt == "csv":  # dims, time, value, obs attributes, series attributes
        rest_at = [nd, nd + 1, *range(nd + 2, nd + 2 + no + ns)]
    else:  # series attributes (dims, series attributes), then Obs (time, value, obs attributes)
        rest_at = [nd + ns, nd + ns + 1, *range(nd + ns + 2, nd + ns + 2 + no), *range(nd, nd + ns)]
    columns = [
        "series_id",
        layout["time"],
        PERIOD_START,
        PERIOD_END,
        layout["measure"],
        *obs_attrs,
        *series_attrs,
        "value_num",
        "opened_by",
        "valid_from",
    ]
    series_columns = ["series_id", "dataflow", *dims]
    ref, now = f"{layout['agency']}:{layout['id']}({layout['version']})", datetime.now(UTC)
    stamp = now.replace(tzinfo=None).isoformat(sep=" ") if url.startswith("sqlite") else str(now)
    ids: dict[tuple, int] = {}
    bounds: dict[str, tuple[str, str]] = {}
    new_series: list[tuple] = []

    def batches() -> Iterator[tuple[list[tuple], list[tuple]]]:
        """(versions rows, new series rows) per BATCH rows of the file."""
        source = ROWS[fmt](path)
        while chunk := list(islice(source, BATCH)):
            out = []
            for row in chunk:
                key = tuple(row[:nd])
                sid = ids.get(key)
                if sid is None:
                    sid = ids[key] = len(ids) + 1
                    new_series.append((sid, ref, *key))
                time_value, value, *attrs = (row[i] for i in rest_at)
                span = bounds.get(time_value) or bounds.setdefault(
                    time_value, period_range(time_value)
                )
                out.append((sid, time_value, *span, value, *attrs, float(value), 1, stamp))
            yield out, new_series[:]
            new_series.clear()

    def quoted(names: list[str]) -> str:
        return ", ".join(f'"{c}"' for c in names)

    rows, seconds = 0, 0.0
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        marks, marks_s = ", ".join("?" * len(columns)), ", ".join("?" * len(series_columns))
        insert = f"INSERT INTO {tables.versions.name} ({quoted(columns)}) VALUES ({marks})"
        insert_s = f"INSERT INTO {tables.series.name} ({quoted(series_columns)}) VALUES ({marks_s})"
        conn.execute("BEGIN")
        for batch, series in batches():
            start = time.perf_counter()
            conn.executemany(insert_s, series)
            conn.executemany(insert, batch)
            seconds += time.perf_counter() - start
            rows += len(batch)
        start = time.perf_counter()
        conn.execute("COMMIT")
        seconds += time.perf_counter() - start
        conn.close()
        return {"seconds": seconds, "rows": rows}
    import psycopg

    def text(values: list[tuple]) -> str:  # COPY text format: no value here needs escaping
        return "".join("\t".join("\\N" if v is None else str(v) for v in r) + "\n" for r in values)

    series_rows: list[tuple] = []
    with tempfile.TemporaryFile("w+b") as spool:
        for batch, series in batches():
            spool.write(text(batch).encode())
            series_rows.extend(series)
            rows += len(batch)
        series_text = text(series_rows).encode()
        spool.seek(0)
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            start = time.perf_counter()
            with cur.copy(f"COPY {tables.versions.name} ({quoted(columns)}) FROM STDIN") as copy:
                while block := spool.read(1 << 20):
                    copy.write(block)
            with cur.copy(
                f"COPY {tables.series.name} ({quoted(series_columns)}) FROM STDIN"
            ) as copy:
                copy.write(series_text)
            conn.commit()
            seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": rows}


# -- the libraries, merely parsing ------------------------------------------------------------------
def t_sdmx1(path: str) -> dict:
    import sdmx

    structures = sdmx.read_sdmx(ROOT / "dsd" / "datastructures.xml")
    dsd = structures.structure["DSD_FOREIGN_ENTRY"]
    base = _rss_mb()
    start = time.perf_counter()
    # SDMX-JSON carries its own structure section; sdmx1's JSON reader fails when given the DSD
    message = sdmx.read_sdmx(path, **({} if path.endswith(".json") else {"structure": dsd}))
    rows = sum(len(ds.obs) for ds in message.data)
    return {"seconds": time.perf_counter() - start, "rows": rows, "base_mb": base}


def t_pysdmx(path: str) -> dict:
    from pysdmx.io import read_sdmx

    base = _rss_mb()
    start = time.perf_counter()
    message = read_sdmx(path, validate=False)
    rows = sum(len(ds.data) for ds in message.data)
    return {"seconds": time.perf_counter() - start, "rows": rows, "base_mb": base}


# -- DSM --------------------------------------------------------------------------------------------
def prepare(url: str) -> dict:
    """Migrate a fresh database, load the bundled structures; the flow's layout for generating."""
    from dataclasses import asdict

    from app.services.structures import Structures
    from app.storage.engine import make_engine, upgrade

    sys.path.insert(0, str(Path(__file__).parent))
    from _generate import layout_for

    engine = make_engine(url)
    upgrade(engine)
    structures = Structures(engine)
    structures.load_files([ROOT / "dsd", ROOT / "codelists"])
    flow = structures.flows()[("DSM", "DF_FOREIGN_ENTRY", "1.0")]
    engine.dispose()
    return {"layout": asdict(layout_for(flow))}


def _submit(url: str, path: str, profiler=None) -> dict:  # type: ignore[no-untyped-def]
    from app.auth.tokens import Principal
    from app.services import ingest
    from app.services.received import receive_file
    from app.services.structures import Structures
    from app.settings import Settings
    from app.storage.engine import make_engine

    limit = Settings.model_fields["max_expanded_bytes"].default
    structures = Structures(make_engine(url))
    flows = structures.flows()
    principal = Principal("bench", "admin")
    statements = _time_statements(structures.engine) if profiler else None
    base = _rss_mb()
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    received = receive_file(path)
    try:
        outcome = ingest.submit(
            structures.engine,
            flows,
            principal,
            received,
            media_type=None,
            expanded_limit=limit,
            dry_run=False,
        )
    finally:
        received.close()
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - start
    structures.engine.dispose()
    if outcome.status != "accepted":
        raise SystemExit(f"import {outcome.status}: {json.dumps(outcome.report())[:2000]}")
    result = {"seconds": seconds, "rows": outcome.counts.inserted, "base_mb": base}
    if statements is not None:
        result["statements"] = sorted(
            ({"sql": k, "calls": c, "seconds": t} for k, (c, t) in statements.items()),
            key=lambda e: -e["seconds"],
        )
    return result


def _time_statements(engine) -> dict[str, list]:  # type: ignore[no-untyped-def]
    """Seconds per SQL statement executed through SQLAlchemy (statement head -> [calls, seconds]).
    The staging executemany/COPY goes to the DBAPI cursor directly and is not seen here."""
    from sqlalchemy import event

    found: dict[str, list] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info["bench_t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        head = " ".join(statement.split())[:110]
        entry = found.setdefault(head, [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())

    return found


def t_dsm(url: str, path: str) -> dict:
    return _submit(url, path)


def t_profile(url: str, path: str, top: int = 25) -> dict:
    """cProfile around one import: the top functions by cumulative and by own time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    result = _submit(url, path, profiler)
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, _, ct, _) in entries.values())

    def name(key: tuple) -> str:
        file, line, func = key
        for marker in ("site-packages/", str(ROOT) + "/", "lib/python3"):
            if marker in file:
                file = file.split(marker, 1)[1]
                break
        return f"{file}:{line}({func})" if line else func

    def rows(index: int) -> list[dict]:
        ranked = sorted(entries.items(), key=lambda kv: kv[1][index], reverse=True)[:top]
        return [
            {"function": name(k), "calls": v[1], "own": v[2] / total, "cumulative": v[3] / total}
            for k, v in ranked
        ]

    result.update(total=total, by_cumulative=rows(3), by_own=rows(2))
    return result


TASKS = {
    "extract": t_extract,
    "sqlite": t_sqlite,
    "pgcopy": t_pgcopy,
    "store": t_store,
    "sdmx1": t_sdmx1,
    "pysdmx": t_pysdmx,
    "prepare": prepare,
    "dsm": t_dsm,
    "profile": t_profile,
}


# pyarrow is a bench-only dependency (pysdmx needs it), not DSM's; pandas (imported by sdmx1)
# loads it whenever it is installed, which costs ~65 MB RSS. DSM tasks run as on a production
# install, without it (--with-pyarrow in ingest.py keeps it).
DSM_TASKS = {"prepare", "dsm", "profile", "store"}


def main() -> None:
    args = json.loads(sys.argv[1])
    name = args.pop("task")
    if not args.pop("with_pyarrow", False) and name in DSM_TASKS:
        sys.modules["pyarrow"] = None  # type: ignore[assignment]
    task = TASKS[name]
    base = _rss_mb()
    result = task(**args)
    result.setdefault("base_mb", base)
    result["rss_mb"] = _rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
