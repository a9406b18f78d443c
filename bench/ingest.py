"""How fast and how lean DSM imports data, against the ceilings and the alternatives.

    python bench/ingest.py                                   # 100k observations, SQLite + PostgreSQL
    python bench/ingest.py --sizes 100000,1000000,5000000    # the full run
    python bench/ingest.py --databases sqlite --no-profile   # quick, no server needed
    python bench/ingest.py --formats all                     # every format DSM reads vs sdmx1

For each size it writes deterministic SDMX-CSV 2.0 and SDMX-ML 2.1 structure-specific messages for
DSM:DF_FOREIGN_ENTRY(1.0) (streaming, to a temporary folder), then times, each in a fresh process
(bench/_tasks.py) so peak RSS is per measurement and repeats interleaved so noise spreads evenly:
DSM importing each file into a fresh database (in process, and `dsm import` end to end), the rows
merely extracted, those rows into a plain table, sdmx1 and pysdmx merely parsing. Results go to
docs/BENCHMARKS.md (one block per size, replaced on rerun) and to stdout.

`--formats all` (or a comma list of bench/_formats.py names) measures instead, per size, every
listed format: DSM submit in process against sdmx1 and pysdmx merely parsing (bench/_all_formats.py,
blocks `formats-N`). The default, `csv,xml`, is the run above.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _all_formats import measure as measure_formats  # noqa: E402
from _formats import DEFAULT, FORMATS  # noqa: E402
from _generate import Layout, write_csv, write_ml  # noqa: E402
from _report import Measure, machine, profile_block, size_block, today, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TASKS = Path(__file__).parent / "_tasks.py"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="100000", help="observation counts, comma-separated")
    p.add_argument("--databases", default="sqlite,postgresql", help="sqlite and/or postgresql")
    p.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432", help="server (no database name)"
    )
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement below --big")
    p.add_argument("--big", type=int, default=1_000_000, help="sizes >= this run once")
    p.add_argument("--years", type=int, default=20, help="observations per series")
    p.add_argument(
        "--libs-max", type=int, default=1_000_000, help="largest size sdmx1/pysdmx parse"
    )
    p.add_argument(
        "--sdmx1-csv-max", type=int, default=200_000, help="largest size sdmx1 parses as CSV"
    )
    p.add_argument(
        "--with-pyarrow",
        action="store_true",
        help="let DSM's processes import pyarrow (bench-only; pandas loads it, ~65 MB)",
    )
    p.add_argument(
        "--formats",
        default=",".join(DEFAULT),
        help="csv,xml (the default run) or `all` or a comma list of: " + ", ".join(FORMATS),
    )
    p.add_argument("--no-cli", action="store_true", help="skip `dsm import` end to end")
    p.add_argument("--profile", type=int, default=200_000, help="observations to profile; 0: off")
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    p.add_argument("--workdir", type=Path, help="where files go (default: a temporary folder)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per measurement")
    return p.parse_args(argv)


class Runner:
    """Fresh processes and fresh databases."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work, self.count = args, work, 0
        self.template_db = work / "template.db"
        self.template_pg = f"dsm_bench_tmpl_{os.getpid()}"
        self.layout: Layout | None = None

    @property
    def cli_main(self) -> str:
        """The `dsm` console script (app.cli:app), without pyarrow unless --with-pyarrow."""
        block = "" if self.args.with_pyarrow else "sys.modules['pyarrow'] = None; "
        return f"import sys; {block}from app.cli import app; app(prog_name='dsm')"

    def task(self, **args: object) -> dict:
        """Run one task in a fresh interpreter; its JSON result."""
        if self.args.with_pyarrow:
            args["with_pyarrow"] = True
        done = subprocess.run(
            [sys.executable, str(TASKS), json.dumps(args)],
            capture_output=True,
            text=True,
            timeout=self.args.timeout,
            cwd=ROOT,
        )
        if done.returncode:
            raise RuntimeError(f"{args['task']} failed: {done.stderr[-3000:]}{done.stdout[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def psql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self.args.pg}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def pg_version(self) -> str:
        import psycopg

        with psycopg.connect(f"{self.args.pg}/postgres") as conn:
            return conn.execute("SHOW server_version").fetchone()[0]

    def prepare(self, dbs: list[str]) -> None:
        found = self.task(task="prepare", url=f"sqlite:///{self.template_db}")
        self.layout = Layout(**{k: _tuples(v) for k, v in found["layout"].items()})
        if "postgresql" in dbs:
            self.psql(f"DROP DATABASE IF EXISTS {self.template_pg}")
            self.psql(f"CREATE DATABASE {self.template_pg}")
            self.task(task="prepare", url=self._sa(self.template_pg))

    def _sa(self, name: str) -> str:
        return self.args.pg.replace("postgresql://", "postgresql+psycopg://") + "/" + name

    def fresh(self, db: str, seeded: bool) -> tuple[str, str]:
        """A new empty (or structure-seeded) database: (SQLAlchemy URL, plain DSN or file)."""
        self.count += 1
        if db == "sqlite":
            path = self.work / f"run{self.count}.db"
            if seeded:
                shutil.copyfile(self.template_db, path)
            return f"sqlite:///{path}", str(path)
        name = f"dsm_bench_{os.getpid()}_{self.count}"
        self.psql(f"CREATE DATABASE {name}" + (f" TEMPLATE {self.template_pg}" if seeded else ""))
        return self._sa(name), f"{self.args.pg}/{name}"

    def drop(self, db: str, where: str) -> None:
        if db == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(where + suffix).unlink(missing_ok=True)
        else:
            self.psql(f"DROP DATABASE IF EXISTS {where.rsplit('/', 1)[1]} WITH (FORCE)")

    def cli(self, url: str, path: Path) -> dict:
        """`dsm import FILE` end to end: wall time and the child's peak RSS (wait4)."""
        env = dict(os.environ, DSM_DATABASE_URL=url, DSM_SECRET_KEY="bench-" * 8)
        start = time.perf_counter()
        with open(os.devnull, "wb") as null:
            child = subprocess.Popen(
                [sys.executable, "-c", self.cli_main, "import", str(path)],
                stdout=null,
                stderr=null,
                cwd=self.work,
                env=env,
            )
            _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        if status:
            raise RuntimeError(f"dsm import {path} failed ({status})")
        return {"seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "base_mb": None}

    def close(self) -> None:
        if self.layout is not None and "postgresql" in self.args.databases:
            self.psql(f"DROP DATABASE IF EXISTS {self.template_pg} WITH (FORCE)")


def _tuples(value: object) -> object:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def dsm_once(runner: Runner, path: Path, db: str, cli: bool) -> dict:
    """DSM importing `path` into a fresh structure-seeded database (in process or `dsm import`)."""
    url, where = runner.fresh(db, seeded=True)
    try:
        if cli:
            return runner.cli(url, path)
        return runner.task(task="dsm", url=url, path=str(path))
    finally:
        runner.drop(db, where)


def ceiling_once(runner: Runner, path: Path, fmt: str, db: str) -> dict:
    """The rows of `path` into a plain table of a fresh empty database, without any logic."""
    _, where = runner.fresh(db, seeded=False)
    try:
        task = "sqlite" if db == "sqlite" else "pgcopy"
        key = "db" if db == "sqlite" else "dsn"
        return runner.task(task=task, path=str(path), fmt=fmt, **{key: where})
    finally:
        runner.drop(db, where)


def store_once(runner: Runner, path: Path, fmt: str, db: str) -> dict:
    """The rows of `path` into DSM's own tables of a fresh structure-seeded database, with the
    least logic their layout needs (`_tasks.t_store`)."""
    from dataclasses import asdict

    assert runner.layout is not None
    url, where = runner.fresh(db, seeded=True)
    try:
        return runner.task(
            task="store", path=str(path), fmt=fmt, url=url, layout=asdict(runner.layout)
        )
    finally:
        runner.drop(db, where)


def plan(runner: Runner, n: int, dbs: list[str]) -> list[tuple[Measure, object]]:
    """(measure, how to run it once) for everything measured at size n."""
    args, work = runner.args, runner.work
    files = {"csv": work / f"{n}.csv", "xml": work / f"{n}.xml"}
    out: list[tuple[Measure, object]] = []
    for db in dbs:
        for cli in (False,) if args.no_cli else (False, True):
            label = "DSM `dsm import` (process)" if cli else "DSM submit (in process)"
            for fmt in ("csv", "xml"):
                out.append(
                    (Measure(label, fmt, db), partial(dsm_once, runner, files[fmt], db, cli))
                )
    for fmt, how in (("csv", "csv module"), ("xml", "lxml iterparse")):
        extract = partial(runner.task, task="extract", path=str(files[fmt]), fmt=fmt)
        out.append((Measure(f"{how}, rows only", fmt, "-"), extract))
        for db in dbs:
            kind = "rows + executemany" if db == "sqlite" else "rows + COPY"
            run = partial(ceiling_once, runner, files[fmt], fmt, db)
            out.append((Measure(f"{kind} (plain table)", fmt, db), run))
            run = partial(store_once, runner, files[fmt], fmt, db)
            out.append((Measure(f"{kind} (DSM's tables)", fmt, db), run))
    libs = [
        (Measure("sdmx1 read_sdmx (structure=DSD)", "xml", "-"), "sdmx1", "xml"),
        (Measure("sdmx1 read_sdmx (structure=DSD)", "csv", "-"), "sdmx1", "csv"),
        (Measure("pysdmx read_sdmx", "csv", "-"), "pysdmx", "csv"),
        (Measure("pysdmx read_sdmx", "xml", "-"), "pysdmx", "xml"),
    ]
    for measure, task, fmt in libs:
        cap = args.sdmx1_csv_max if (task, fmt) == ("sdmx1", "csv") else args.libs_max
        if n > cap:
            measure.note = f"skipped: above {cap:,} observations"
            out.append((measure, None))
        else:
            out.append((measure, partial(runner.task, task=task, path=str(files[fmt]))))
    return out


def measure_size(runner: Runner, n: int, dbs: list[str], command: str) -> None:
    args, layout = runner.args, runner.layout
    assert layout is not None
    files = {"csv": runner.work / f"{n}.csv", "xml": runner.work / f"{n}.xml"}
    started = time.perf_counter()
    write_csv(layout, n, args.years, files["csv"])
    write_ml(layout, n, args.years, files["xml"])
    print(f"[{n:,}] files written in {time.perf_counter() - started:.1f}s", flush=True)
    repeats = 1 if n >= args.big else args.repeats
    steps = plan(runner, n, dbs)
    for r in range(repeats):
        for measure, run in steps:
            if run is None:
                continue
            try:
                got = run()
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                measure.note = f"failed: {str(exc).splitlines()[-1][:200]}"
                print(
                    f"[{n:,}] {measure.label} {measure.fmt} {measure.db}: {measure.note}",
                    flush=True,
                )
                continue
            if "rows" in got and got["rows"] != n:
                measure.note = f"read {got['rows']} rows"
            measure.seconds.append(got["seconds"])
            measure.rss.append(got["rss_mb"])
            measure.base.append(got["base_mb"])
            print(
                f"[{n:,}] run {r + 1}/{repeats} {measure.label} {measure.fmt} {measure.db}: "
                f"{got['seconds']:.2f}s {n / got['seconds']:,.0f} obs/s {got['rss_mb']:.0f} MB",
                flush=True,
            )
    context = {
        "date": today(),
        "command": command,
        "repeats": repeats,
        "csv_mb": files["csv"].stat().st_size / 1e6,
        "xml_mb": files["xml"].stat().st_size / 1e6,
        "series": -(-n // args.years),
        "years": args.years,
        "flow": layout.ref,
    }
    block = size_block(n, [m for m, _ in steps], dbs, context)
    write(args.doc, f"size-{n}", block)
    print(block, flush=True)
    for f in files.values():
        f.unlink()


def profile(runner: Runner, n: int, command: str) -> None:
    assert runner.layout is not None
    files = {"csv": runner.work / f"p{n}.csv", "xml": runner.work / f"p{n}.xml"}
    write_csv(runner.layout, n, runner.args.years, files["csv"])
    write_ml(runner.layout, n, runner.args.years, files["xml"])
    found = {}
    for fmt, path in files.items():
        url, where = runner.fresh("sqlite", seeded=True)
        try:
            found[fmt] = runner.task(task="profile", url=url, path=str(path))
        finally:
            runner.drop("sqlite", where)
        path.unlink()
    block = profile_block(n, found, {"date": today(), "command": command})
    write(runner.args.doc, "profile", block)
    print(block, flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    dbs = [d for d in args.databases.split(",") if d]
    command = "python bench/ingest.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    formats = list(FORMATS) if args.formats == "all" else [f for f in args.formats.split(",") if f]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SystemExit(f"unknown format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}")
    rejected: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dsm-bench-", dir=args.workdir) as tmp:
        runner = Runner(args, Path(tmp))
        try:
            runner.prepare(dbs)
            pg = runner.pg_version() if "postgresql" in dbs else None
            write(args.doc, "machine", f"Machine of the latest run ({today()}): {machine(pg)}.")
            for n in sizes:
                if tuple(formats) == DEFAULT:
                    measure_size(runner, n, dbs, command)
                else:
                    rejected += [
                        f"{n}:{f}"
                        for f in measure_formats(runner, dsm_once, n, formats, dbs, command)
                    ]
            if args.profile:
                profile(runner, args.profile, command)
        finally:
            runner.close()
    if rejected:
        raise SystemExit(f"DSM rejected (or miscounted) generated files: {', '.join(rejected)}")


if __name__ == "__main__":
    main()
