"""Embargo switch-over on a live server: reads polled at 10 Hz across a real release time.

Per database (SQLite, PostgreSQL): a fresh database, `dsm serve` on a loopback port, a dataflow
loaded with every value at 100, then a revision of every value to 200 sent with
`releaseAt` a few seconds ahead. An anonymous client then reads the whole dataflow (SDMX-CSV 2.0)
at 10 Hz from before the release until after it, and each read is classed by what it holds:
all old, all new, or a mix (a response that is half switched). Counted:

- early: a read answered before the release time that holds any new value (a leak);
- mixed: a read holding old and new values at once;
- late: a read sent after the release time that still holds an old value;
- switch: from the release time to the first read that shows the new values (bounded by the
  poll interval: visibility follows the stored release time, no background job flips it).

    .venv/bin/python bench/embargo.py                      # both databases, ~1 minute
    .venv/bin/python bench/embargo.py --databases sqlite

Results go to docs/BENCHMARKS.md between `<!-- embargo:NAME -->` markers, and to stdout.
"""

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _query_data import ROOT, cli_argv, env_for, psql, sa_url  # noqa: E402
from _report import machine, today, write  # noqa: E402
from query import Server  # noqa: E402

FLOW_PATH = "/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/1.0/*"
CSV20 = "application/vnd.sdmx.data+csv;version=2.0.0"
HEADER = (
    "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
    "TIME_PERIOD,OBS_VALUE"
)
CITIZENSHIPS = ["UZB", "RUS", "TJK", "KGZ", "UKR", "CHN", "TUR", "AZE", "ARM", "GEO"]
SEXES = ["F", "M", "_T"]
YEARS = range(2000, 2024)


def message(value: int) -> bytes:
    rows = [HEADER]
    for citizenship in CITIZENSHIPS:
        for sex in SEXES:
            for year in YEARS:
                rows.append(
                    f"dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,KAZ,{citizenship},{sex},_T,NSO,"
                    f"{year},{value}"
                )
    return ("\n".join(rows) + "\n").encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dsm(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*cli_argv(False), *args], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def post(server: Server, token: str, body: bytes, release: datetime | None = None) -> dict:
    url = server.url("/rest/v2/data/")
    if release is not None:
        url += "?releaseAt=" + urllib.parse.quote(release.isoformat())
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"authorization": f"Bearer {token}", "content-type": CSV20},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def read(server: Server) -> set[str]:
    """The distinct OBS_VALUEs of the dataflow, as an anonymous client sees them."""
    request = urllib.request.Request(server.url(FLOW_PATH), headers={"accept": CSV20})
    with urllib.request.urlopen(request, timeout=30) as response:
        lines = response.read().decode().splitlines()
    column = lines[0].split(",").index("OBS_VALUE")
    return {line.split(",")[column] for line in lines[1:]}


def run(db: str, url: str, lead: float, after: float, hz: float) -> dict:
    env = env_for(url)
    dsm(env, "db", "upgrade")
    dsm(env, "load", "dsd", "codelists")
    dsm(env, "users", "add", "bench-admin", "--role", "admin")
    token = dsm(env, "tokens", "create", "bench-admin").splitlines()[-1]
    server = Server(
        f"embargo-{db}",
        [*cli_argv(False), "serve", "--port", str(port := free_port())],
        port,
        env=env,
    )
    try:
        post(server, token, message(100))
        release = datetime.now(UTC) + timedelta(seconds=lead)
        answer = post(server, token, message(200), release)
        assert answer["status"] == "accepted", answer
        stop = release.timestamp() + after
        interval = 1 / hz
        reads = []
        while (sent := time.time()) < stop:
            seen = read(server)
            reads.append((sent, time.time(), seen))
            time.sleep(max(0.0, interval - (time.time() - sent)))
    finally:
        server.stop()
    at = release.timestamp()
    early = sum(1 for _, got, seen in reads if got < at and "200" in seen)
    mixed = sum(1 for _, _, seen in reads if len(seen) > 1)
    late = sum(1 for sent, _, seen in reads if sent > at and "100" in seen)
    first_new = min((got for _, got, seen in reads if seen == {"200"}), default=None)
    return {
        "db": db,
        "observations": len(CITIZENSHIPS) * len(SEXES) * len(YEARS),
        "reads": len(reads),
        "before": sum(1 for _, got, _ in reads if got < at),
        "early": early,
        "mixed": mixed,
        "late": late,
        "switch": None if first_new is None else first_new - at,
        "latency": sorted(got - sent for sent, got, _ in reads)[len(reads) // 2],
    }


def report(results: list[dict], hz: float, pg_version: str | None) -> str:
    lines = [
        f"Measured {today()} on {machine(pg_version)}.",
        "",
        f"`python bench/embargo.py`: one anonymous client polling the whole dataflow at {hz:g} Hz "
        "across a real release time (see the script's docstring for the classes).",
        "",
        "| database | observations | reads | before release | early | mixed | late | switch (s) | median read (ms) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        switch = "never" if r["switch"] is None else f"{r['switch']:.3f}"
        lines.append(
            f"| {r['db']} | {r['observations']:,} | {r['reads']} | {r['before']} | {r['early']} | "
            f"{r['mixed']} | {r['late']} | {switch} | {r['latency'] * 1000:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--lead", type=float, default=4.0, help="seconds until the release")
    parser.add_argument("--after", type=float, default=3.0, help="seconds polled after it")
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    results = []
    pg_version = None
    for db in [d for d in args.databases.split(",") if d]:
        if db == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="dsm-embargo-"))
            results.append(
                run(db, f"sqlite:///{folder / 'dsm.db'}", args.lead, args.after, args.hz)
            )
            continue
        name = f"dsm_bench_embargo_{int(time.time())}"
        psql(args.pg, f'CREATE DATABASE "{name}"')
        import psycopg

        with psycopg.connect(f"{args.pg}/postgres") as conn:
            pg_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        try:
            results.append(run(db, sa_url(args.pg, name), args.lead, args.after, args.hz))
        finally:
            psql(args.pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    block = report(results, args.hz, pg_version)
    print(block)
    write(args.doc, "switch", block, kind="embargo")


if __name__ == "__main__":
    main()
