"""Databases for bench/query.py: N observations of one dataflow imported with `dsm import`, kept.

A database is built once per (backend, N) and reused by later runs: SQLite as
`WORKDIR/sqlite-N.db`, PostgreSQL as the database `dsm_query_N` (drop them with `--clean`).
A JSON marker `WORKDIR/BACKEND-N.json` records that the import finished and how long it took.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _generate import Layout, layout_for, write_csv  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-query-" * 4
# `dsm` as the console script runs it; pyarrow blocked unless asked (not a DSM dependency; pandas,
# imported by sdmx1, loads it whenever installed: ~65 MB RSS a production process would not have)
CLI = "import sys; {block}from app.cli import app; app(prog_name='dsm')"


def cli_argv(with_pyarrow: bool) -> list[str]:
    block = "" if with_pyarrow else "sys.modules['pyarrow'] = None; "
    return [sys.executable, "-c", CLI.format(block=block)]


def sa_url(pg: str, name: str) -> str:
    return pg.replace("postgresql://", "postgresql+psycopg://") + "/" + name


def psql(pg: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def url_for(backend: str, n: int, work: Path, pg: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{work / f'sqlite-{n}.db'}"
    return sa_url(pg, f"dsm_query_{n}")


def env_for(url: str) -> dict[str, str]:
    """The server's environment: the database, a secret, and no rate limits (a load generator
    is one client making thousands of requests a minute)."""
    return dict(
        os.environ,
        DSM_DATABASE_URL=url,
        DSM_SECRET_KEY=SECRET,
        DSM_RATE_LIMIT="0",
        DSM_RATE_LIMIT_ANONYMOUS="0",
    )


def layout() -> Layout:
    """The generator's layout of DSM:DF_FOREIGN_ENTRY(1.0), from the bundled structure files."""
    from app.services.structures import Structures
    from app.storage.engine import make_engine, upgrade

    engine = make_engine("sqlite://")
    upgrade(engine)
    structures = Structures(engine)
    structures.load_files([ROOT / "dsd", ROOT / "codelists"])
    found = layout_for(structures.flows()[("DSM", "DF_FOREIGN_ENTRY", "1.0")])
    engine.dispose()
    return found


def ensure(backend: str, n: int, years: int, work: Path, pg: str, with_pyarrow: bool) -> dict:
    """The database for (backend, n), built if not there yet: its URL and how it was made."""
    marker = work / f"{backend}-{n}.json"
    url = url_for(backend, n, work, pg)
    if marker.exists():
        found = json.loads(marker.read_text())
        found["reused"] = True
        return found
    source = work / f"data-{n}-{years}.csv"
    if not source.exists():
        started = time.perf_counter()
        write_csv(layout(), n, years, source.with_suffix(".part"))
        source.with_suffix(".part").rename(source)
        print(f"[data] {source.name} written in {time.perf_counter() - started:.0f}s", flush=True)
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(str(work / f"sqlite-{n}.db") + suffix).unlink(missing_ok=True)
    else:
        psql(pg, f"DROP DATABASE IF EXISTS dsm_query_{n} WITH (FORCE)")
        psql(pg, f"CREATE DATABASE dsm_query_{n}")
    env, argv = env_for(url), cli_argv(with_pyarrow)
    for step in (["db", "upgrade"], ["load", "dsd", "codelists"]):
        subprocess.run([*argv, *step], env=env, cwd=ROOT, check=True, capture_output=True)
    print(f"[data] dsm import {source.name} into {backend} ...", flush=True)
    started = time.perf_counter()
    done = subprocess.run(
        [*argv, "import", str(source)], env=env, cwd=ROOT, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"dsm import failed: {done.stderr[-2000:]}{done.stdout[-2000:]}")
    found = {"backend": backend, "n": n, "years": years, "url": url, "import_seconds": seconds}
    marker.write_text(json.dumps(found))
    print(f"[data] {backend} {n:,} obs imported in {seconds:.0f}s ({n / seconds:,.0f} obs/s)")
    found["reused"] = False
    return found


def clean(backends: list[str], n: int, work: Path, pg: str) -> None:
    for backend in backends:
        (work / f"{backend}-{n}.json").unlink(missing_ok=True)
        if backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(str(work / f"sqlite-{n}.db") + suffix).unlink(missing_ok=True)
        else:
            psql(pg, f"DROP DATABASE IF EXISTS dsm_query_{n} WITH (FORCE)")


if __name__ == "__main__":  # python bench/_query_data.py BACKEND N [WORKDIR]
    work = Path(sys.argv[3] if len(sys.argv) > 3 else "/tmp/dsm-query-bench")
    work.mkdir(parents=True, exist_ok=True)
    print(
        ensure(
            sys.argv[1], int(sys.argv[2]), 20, work, "postgresql://postgres@127.0.0.1:5432", False
        )
    )
