"""The all-formats table (`--formats`): DSM submit against sdmx1 and pysdmx merely parsing, per format.

For each size and format the same N observations are written (bench/_formats.py), DSM imports
the file in process into a fresh structure-seeded database of each kind, and sdmx1 and pysdmx
parse it (where they can). A DSM import that is not accepted, or inserts other than N
observations, is a failure: it is reported in the table as such, never timed, and the run exits
non-zero once the block is written. A library that fails on a format it cannot read gets
"cannot read this format" and the reason.
"""

import statistics
import subprocess
import time
from functools import partial

from _formats import FORMATS
from _report import DATABASES, TARGET_SDMX1, write

LIBS = ("sdmx1", "pysdmx")


def _rate(n: int, seconds: list[float]) -> float:
    return n / statistics.median(seconds)


def _cell(n: int, got: dict) -> str:
    if got.get("error"):
        return got["error"]
    return f"{_rate(n, got['seconds']):,.0f}" if got.get("seconds") else "-"


def measure(runner, dsm_once, n: int, names: list[str], dbs: list[str], command: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Write, time and tabulate; the names of formats DSM rejected."""
    args, layout = runner.args, runner.layout
    repeats = 1 if n >= args.big else args.repeats
    rows, rejected = [], []
    for name in names:
        fmt = FORMATS[name]
        path = runner.work / f"{n}.{name}.{fmt.suffix}"
        started = time.perf_counter()
        fmt.write(layout, n, args.years, path)
        mb = path.stat().st_size / 1e6
        print(f"[{n:,}] {fmt.label}: {mb:.1f} MB written in {time.perf_counter() - started:.1f}s")
        runs: dict[str, object] = {db: partial(dsm_once, runner, path, db, False) for db in dbs}
        cap = args.sdmx1_csv_max if fmt.suffix == "csv" else args.libs_max
        for lib in LIBS:
            runs[lib] = None if n > cap else partial(runner.task, task=lib, path=str(path))
        got: dict[str, dict] = {k: {"seconds": []} for k in runs}
        for k, run in runs.items():
            if run is None:
                got[k]["error"] = f"skipped: above {cap:,}"
        for r in range(repeats):
            for k, run in runs.items():
                if run is None or got[k].get("error"):
                    continue
                try:
                    result = run()
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    reason = str(exc).strip().splitlines()[-1][:160].replace("|", "/")
                    dsm = k in dbs
                    got[k]["error"] = (
                        f"**DSM rejected it**: {reason}"
                        if dsm
                        else f"{k} cannot read this format ({reason})"
                    )
                    print(f"[{n:,}] {fmt.label} {k}: FAILED {reason}", flush=True)
                    continue
                if result.get("rows") != n:
                    what = "DSM inserted" if k in dbs else f"{k} read"
                    got[k]["error"] = f"**{what} {result.get('rows')} of {n:,} observations**"
                    print(f"[{n:,}] {fmt.label} {k}: {got[k]['error']}", flush=True)
                    continue
                got[k]["seconds"].append(result["seconds"])
                print(
                    f"[{n:,}] run {r + 1}/{repeats} {fmt.label} {k}: {result['seconds']:.2f}s "
                    f"{n / result['seconds']:,.0f} obs/s",
                    flush=True,
                )
        if any(got[db].get("error") for db in dbs):
            rejected.append(name)
        rows.append(_row(n, fmt.label, mb, got, dbs))
        path.unlink()
    block = _block(n, rows, dbs, repeats, command, layout.ref, args.years)
    write(args.doc, f"formats-{n}", block)
    print(block, flush=True)
    return rejected


def _ratio(n: int, dsm: dict, lib: dict, target: float = 0) -> str:
    if dsm.get("error") or lib.get("error") or not dsm["seconds"] or not lib["seconds"]:
        return "-"
    ratio = _rate(n, dsm["seconds"]) / _rate(n, lib["seconds"])
    return f"{ratio:.1f}x" + ("" if ratio >= target else f" (**below {target:g}x**)")


def _row(n: int, label: str, mb: float, got: dict, dbs: list[str]) -> str:
    cells = [label, f"{mb:.1f}"]
    cells += [_cell(n, got[db]) for db in dbs]
    cells.append(_cell(n, got["sdmx1"]))
    cells += [_ratio(n, got[db], got["sdmx1"], TARGET_SDMX1) for db in dbs]
    cells.append(_cell(n, got["pysdmx"]))
    cells += [_ratio(n, got[db], got["pysdmx"]) for db in dbs]
    return "| " + " | ".join(cells) + " |"


def _block(n: int, rows: list[str], dbs: list[str], repeats: int, command: str, flow: str, years: int) -> str:  # fmt: skip
    from _report import today

    names = [DATABASES[db] for db in dbs]
    head = ["format", "file MB", *(f"DSM {d} obs/s" for d in names), "sdmx1 obs/s"]
    head += [f"DSM {d} / sdmx1" for d in names] + ["pysdmx obs/s"]
    head += [f"DSM {d} / pysdmx" for d in names]
    return "\n".join(
        [
            f"### Every format, {n:,} observations",
            "",
            f"{today()}; `{command}`; {repeats} run(s) per measurement (median time); "
            f"{-(-n // years):,} series x {years} years of {flow}, the same observations in "
            f"each format. DSM: submit in process into a fresh database; sdmx1 and pysdmx: "
            f"`read_sdmx` merely parsing. Target: DSM at least {TARGET_SDMX1}x sdmx1.",
            "",
            "| " + " | ".join(head) + " |",
            "| --- | " + " | ".join("---:" for _ in head[1:]) + " |",
            *rows,
        ]
    )
