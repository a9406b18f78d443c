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
    "sdmx1": t_sdmx1,
    "pysdmx": t_pysdmx,
    "prepare": prepare,
    "dsm": t_dsm,
    "profile": t_profile,
}


# pyarrow is a bench-only dependency (pysdmx needs it), not DSM's; pandas (imported by sdmx1)
# loads it whenever it is installed, which costs ~65 MB RSS. DSM tasks run as on a production
# install, without it (--with-pyarrow in ingest.py keeps it).
DSM_TASKS = {"prepare", "dsm", "profile"}


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
