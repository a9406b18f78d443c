"""How close DSM's computed SDMX-CSV export comes to what its database and Python driver deliver.

    python bench/export_ceiling.py                      # 1,000,000 observations, both databases
    python bench/export_ceiling.py --databases sqlite --repeats 5

On the databases bench/query.py keeps (built on first use, `dsm import`), per backend and
interleaved over `--repeats` rounds, with the response cache off:

- **DSM**: `GET /rest/data/{flow}/all` in SDMX-CSV 1.0 from a live `dsm serve`, read by curl (the
  computed export, as bench/query.py measures it).
- **driver**: the very statement DSM's export runs (captured from one in-process request), read
  by the Python driver the way DSM reads it and thrown away, no HTTP: SQLite, the `printf` lines
  through `sqlite3` in batches of 2,000; PostgreSQL, `COPY (statement) TO STDOUT` through psycopg,
  row by row. This is the most any Python server reading through these drivers can send.
- **database**: the statement with the driver's per-row work taken out: SQLite, the lines built
  and summed inside SQLite (`sum(length(line))`, one row to Python); PostgreSQL, `psql` running
  the `COPY` into /dev/null.

Results go to the `query:export-ceiling` block of docs/BENCHMARKS.md (medians, obs/s, and DSM as
a share of each ceiling).
"""

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _query_data import ROOT, cli_argv, ensure, env_for, layout  # noqa: E402
from _report import machine, today  # noqa: E402
from query import CSV, Server, curl, write  # noqa: E402

TARGET = 1_000_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=1_000_000, help="observations stored")
    p.add_argument("--years", type=int, default=20)
    p.add_argument("--databases", default="sqlite,postgresql")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="no db name")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/dsm-query-bench"))
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds")
    p.add_argument("--port", type=int, default=18471)
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    return p.parse_args(argv)


def captured(url: str, path: str) -> tuple[str, object]:
    """(SQL, parameters) of the statement DSM's SDMX-CSV export runs for `path`: one request to
    the app in process, recording what `app.storage.csv_export` binds (SQLite: the printf one)."""
    os.environ.update(env_for(url), DSM_RESPONSE_CACHE_MB="0", DSM_RESPONSE_CACHE_DISK_MB="0")
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.storage import csv_export

    seen: list[tuple[str, object]] = []
    real = csv_export.bound

    def bound(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = real(*args, **kwargs)
        seen.append(found)
        return found

    csv_export.bound = bound  # type: ignore[assignment]
    try:
        with TestClient(create_app()) as client:
            got = client.get(path, headers={"Accept": CSV})
            if got.status_code != 200:
                raise SystemExit(f"{path}: {got.status_code} {got.text[:300]}")
    finally:
        csv_export.bound = real  # type: ignore[assignment]
    if not seen:
        raise SystemExit("the export did not go through app.storage.csv_export")
    return seen[0]


def sqlite_driver(db: str, sql: str, values: object) -> tuple[float, int]:
    import sqlite3

    conn = sqlite3.connect(db)
    start = time.perf_counter()
    cursor, rows = conn.execute(sql, values), 0  # type: ignore[arg-type]
    while batch := cursor.fetchmany(2_000):
        rows += len(batch)
    seconds = time.perf_counter() - start
    conn.close()
    return seconds, rows


def sqlite_database(db: str, sql: str, values: object) -> tuple[float, int]:
    import sqlite3

    conn = sqlite3.connect(db)
    start = time.perf_counter()
    if "AS printf_1" not in sql:
        raise SystemExit("the SQLite export statement is not the printf one")
    total = conn.execute(f"SELECT count(*), sum(length(printf_1)) FROM ({sql})", values)
    rows, _ = total.fetchone()  # type: ignore[misc]
    seconds = time.perf_counter() - start
    conn.close()
    return seconds, rows


def pg_driver(dsn: str, sql: str, values: object) -> tuple[float, int]:
    import psycopg

    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        start = time.perf_counter()
        rows = 0
        with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", values) as copy:
            for _ in copy:
                rows += 1
        return time.perf_counter() - start, rows


def pg_database(dsn: str, sql: str, values: object) -> tuple[float, int]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        literal = psycopg.ClientCursor(conn).mogrify(sql, values)  # type: ignore[arg-type]
    command = f"\\copy ({' '.join(literal.split())}) to '/dev/null' with (format csv)"
    start = time.perf_counter()
    done = subprocess.run(["psql", "-X", dsn, "-c", command], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"psql failed: {done.stderr[-1000:]}")
    rows = int(done.stdout.split()[-1]) if done.stdout.strip() else -1
    return seconds, rows


def pg_version(args: argparse.Namespace) -> str | None:
    if "postgresql" not in args.databases:
        return None
    import psycopg

    with psycopg.connect(f"{args.pg}/postgres") as conn:
        return conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    lay = layout()
    path = f"/rest/data/{lay.agency},{lay.id},{lay.version}/all"
    backends = [b.strip() for b in args.databases.split(",") if b.strip()]
    plans = []
    for backend in backends:
        url = ensure(backend, args.size, args.years, args.workdir, args.pg, False)["url"]
        sql, values = captured(url, path)
        if backend == "sqlite":
            db = url.removeprefix("sqlite:///")
            driver = partial(sqlite_driver, db, sql, values)
            database = partial(sqlite_database, db, sql, values)
        else:
            dsn = url.replace("postgresql+psycopg://", "postgresql://")
            driver = partial(pg_driver, dsn, sql, values)
            database = partial(pg_database, dsn, sql, values)
        plans.append((backend, url, driver, database))
    found: dict[tuple[str, str], list[float]] = {}
    for r in range(args.repeats):
        for i, (backend, url, driver, database) in enumerate(plans):
            off = {"DSM_RESPONSE_CACHE_MB": "0", "DSM_RESPONSE_CACHE_DISK_MB": "0"}
            argv_ = [*cli_argv(False), "serve", "--host", "127.0.0.1", "--port", str(args.port + i)]
            server = Server(f"dsm-{backend}", argv_, args.port + i, env={**env_for(url), **off})
            try:
                got = curl(server.url(path), CSV)
            finally:
                server.stop()
            runs = {"DSM": got["seconds"]}
            for name, how in (("driver", driver), ("database", database)):
                seconds, rows = how()
                if rows not in (args.size, -1):
                    raise SystemExit(f"{backend} {name}: {rows} rows, expected {args.size}")
                runs[name] = seconds
            for name, seconds in runs.items():
                found.setdefault((backend, name), []).append(seconds)
                print(
                    f"[{r + 1}/{args.repeats}] {backend} {name}: {seconds:.2f}s "
                    f"{args.size / seconds:,.0f} obs/s",
                    flush=True,
                )
    command = "python bench/export_ceiling.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    lines = [
        "### The computed SDMX-CSV export against its database and driver",
        "",
        f"{today()}; `{command.strip()}`; {args.size:,} observations stored; medians of "
        f"{args.repeats} interleaved round(s); response cache off. {machine(pg_version(args))}",
        "",
        "| database | measurement | median s | obs/s | DSM's share | target 1M obs/s |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    labels = {
        "DSM": "DSM: `GET .../all` over HTTP (curl)",
        "driver": "the statement through the Python driver, no HTTP",
        "database": "the statement in the database alone",
    }
    for backend in backends:
        dsm = statistics.median(found[(backend, "DSM")])
        for name in ("DSM", "driver", "database"):
            median = statistics.median(found[(backend, name)])
            share = "–" if name == "DSM" else f"{median / dsm:.0%}"
            rate = args.size / median
            verdict = "reached" if rate >= TARGET else "**below**"
            lines.append(
                f"| {backend} | {labels[name]} | {median:.2f} | {rate:,.0f} | {share} | {verdict} |"
            )
    block = "\n".join(lines)
    write(args.doc, "export-ceiling", block)
    print(block, flush=True)


if __name__ == "__main__":
    main()
