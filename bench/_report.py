"""Markdown for docs/BENCHMARKS.md: the machine, one table per size, ratios, targets, profiles.

Generated blocks sit between `<!-- ingest:NAME -->` and `<!-- /ingest:NAME -->` markers; a rerun
replaces its own block and leaves everything else (other sizes, hand-written analysis) alone.
"""

import os
import platform
import re
import sqlite3
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

TARGET_CSV, TARGET_ML, TARGET_SHARE, TARGET_SDMX1, TARGET_RSS = 500_000, 200_000, 0.40, 10, 200
FORMATS = {"csv": "SDMX-CSV 2.0", "xml": "SDMX-ML 2.1 SS"}
DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "-": "none"}


@dataclass
class Measure:
    """The runs of one measurement at one size."""

    label: str
    fmt: str
    db: str
    seconds: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    base: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def rate(self, n: int) -> float:
        return n / self.median


def machine(pg_version: str | None) -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = next(
        (
            int(line.split()[1]) / 1024 / 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0.0,
    )
    libs = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("lxml", "SQLAlchemy", "psycopg", "sdmx1", "pysdmx", "pandas", "pyarrow")
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.1f} GiB RAM, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, PostgreSQL {pg_version or 'not used'}; {libs}"
    )


def _mb(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{max(known):.0f}" if known else "–"


def _fmt_rate(rate: float) -> str:
    return f"{rate / 1000:,.1f}k" if rate < 1e6 else f"{rate / 1e6:,.2f}M"


def table(n: int, measures: list[Measure]) -> list[str]:
    lines = [
        "| measurement | format | database | runs | median s | obs/s | peak RSS MB | RSS before work MB |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in measures:
        if not m.seconds:
            lines.append(
                f"| {m.label} | {FORMATS[m.fmt]} | {DATABASES[m.db]} | 0 | "
                f"{m.note or 'not run'} | – | – | – |"
            )
            continue
        lines.append(
            f"| {m.label} | {FORMATS[m.fmt]} | {DATABASES[m.db]} | {len(m.seconds)} | "
            f"{m.median:.2f} | {_fmt_rate(m.rate(n))} | {max(m.rss):.0f} | {_mb(m.base)} |"
        )
    return lines


def _find(measures: list[Measure], kind: str, fmt: str, db: str) -> Measure | None:
    return next(
        (
            m
            for m in measures
            if m.label.startswith(kind) and m.fmt == fmt and m.db == db and m.seconds
        ),
        None,
    )


def ratios(n: int, measures: list[Measure], dbs: list[str]) -> tuple[list[str], list[str]]:
    """Ratio sentences and the target checklist."""
    out, targets = [], []
    for db in dbs:
        ceiling_kind = "rows + executemany" if db == "sqlite" else "rows + COPY"
        for fmt in ("csv", "xml"):
            dsm = _find(measures, "DSM", fmt, db)
            if dsm is None:
                continue
            name = f"DSM {FORMATS[fmt]} into {DATABASES[db]}"
            ceiling = _find(measures, f"{ceiling_kind} (plain table)", fmt, db)
            tables = _find(measures, f"{ceiling_kind} (DSM's tables)", fmt, db)
            rows = _find(measures, "rows only", fmt, "-")
            pysdmx = _find(measures, "pysdmx", fmt, "-")
            sdmx1 = _find(measures, "sdmx1", fmt, "-")
            parts = []
            if ceiling:
                share = dsm.rate(n) / ceiling.rate(n)
                parts.append(f"{share:.0%} of {ceiling_kind} ({_fmt_rate(ceiling.rate(n))}/s)")
            if tables:
                share = dsm.rate(n) / tables.rate(n)
                parts.append(
                    f"{share:.0%} of the database alone taking the rows into DSM's tables "
                    f"({_fmt_rate(tables.rate(n))}/s)"
                )
            if rows:
                parts.append(f"{dsm.rate(n) / rows.rate(n):.0%} of merely extracting the rows")
            if sdmx1:
                parts.append(f"{dsm.rate(n) / sdmx1.rate(n):.1f}x sdmx1 merely parsing it")
            if pysdmx:
                parts.append(f"{dsm.rate(n) / pysdmx.rate(n):.1f}x pysdmx merely parsing it")
            out.append(f"- {name}: {_fmt_rate(dsm.rate(n))} obs/s; " + "; ".join(parts) + ".")
            goal = TARGET_CSV if fmt == "csv" else TARGET_ML
            targets.append(
                _check(
                    f"{name} >= {_fmt_rate(goal)} obs/s",
                    dsm.rate(n) >= goal,
                    f"{_fmt_rate(dsm.rate(n))}",
                )
            )
            if tables:  # whether the database itself could reach the goal
                targets.append(
                    _check(
                        f"(the database alone, the rows into DSM's tables, {FORMATS[fmt]}) "
                        f">= {_fmt_rate(goal)} rows/s",
                        tables.rate(n) >= goal,
                        f"{_fmt_rate(tables.rate(n))}",
                    )
                )
            if ceiling:
                share = dsm.rate(n) / ceiling.rate(n)
                targets.append(
                    _check(
                        f"{name} >= 40% of {ceiling_kind}", share >= TARGET_SHARE, f"{share:.0%}"
                    )
                )
            if sdmx1:
                times = dsm.rate(n) / sdmx1.rate(n)
                targets.append(
                    _check(f"{name} >= 10x sdmx1 parsing", times >= TARGET_SDMX1, f"{times:.1f}x")
                )
            targets.append(
                _check(
                    f"{name} peak RSS < 200 MB", max(dsm.rss) < TARGET_RSS, f"{max(dsm.rss):.0f} MB"
                )
            )
    return out, targets


def _check(what: str, ok: bool, got: str) -> str:
    return f"| {what} | {got} | {'met' if ok else '**not met**'} |"


def size_block(n: int, measures: list[Measure], dbs: list[str], context: dict) -> str:
    said, targets = ratios(n, measures, dbs)
    lines = [
        f"### {n:,} observations",
        "",
        f"{context['date']}; `{context['command']}`; {context['repeats']} run(s) per measurement "
        f"(median time; peak RSS is the highest of the runs); files: SDMX-CSV "
        f"{context['csv_mb']:.0f} MB, SDMX-ML {context['xml_mb']:.0f} MB; {context['series']:,} "
        f"series x {context['years']} years of {context['flow']}.",
        "",
        *table(n, measures),
        "",
        *said,
        "",
        "| target (issue) | measured | |",
        "| --- | ---: | --- |",
        *targets,
    ]
    return "\n".join(lines)


def profile_block(n: int, profiles: dict[str, dict], context: dict, top: int = 15) -> str:
    lines = [
        f"### Profile: one DSM import of {n:,} observations into SQLite (cProfile)",
        "",
        f"{context['date']}; `{context['command']}`. Shares are of the profiled import's total "
        "(cProfile slows Python code more than C code, so read shares, not seconds).",
    ]
    for fmt, prof in profiles.items():
        lines += [
            "",
            f"**{FORMATS[fmt]}** ({prof['total']:.1f} s under cProfile, {prof['seconds']:.1f} s wall)",
            "",
            "| function | calls | cumulative | own |",
            "| --- | ---: | ---: | ---: |",
        ]
        lines += [
            f"| `{e['function']}` | {e['calls']:,} | {e['cumulative']:.0%} | {e['own']:.0%} |"
            for e in prof["by_cumulative"][:top]
        ]
        lines += [
            "",
            "Top by own time:",
            "",
            "| function | calls | own | cumulative |",
            "| --- | ---: | ---: | ---: |",
        ]
        lines += [
            f"| `{e['function']}` | {e['calls']:,} | {e['own']:.0%} | {e['cumulative']:.0%} |"
            for e in prof["by_own"][:top]
        ]
        if prof.get("statements"):
            lines += [
                "",
                "SQL statements through SQLAlchemy (the staging executemany is not among them):",
                "",
                "| statement (head) | calls | share |",
                "| --- | ---: | ---: |",
            ]
            lines += [
                f"| `{e['sql']}` | {e['calls']} | {e['seconds'] / prof['total']:.0%} |"
                for e in prof["statements"][:8]
            ]
    return "\n".join(lines)


HEAD = """# Benchmarks

## Ingest (`bench/ingest.py`)

How fast and how lean DSM imports data (`app.services.ingest.submit`, the path behind
`POST /rest/v2/data` and `dsm import`), against the ceilings (the rows merely extracted with the
csv module or lxml iterparse, those rows put into a plain table with SQLite executemany or
PostgreSQL COPY, without any logic, and the database alone taking them into DSM's own tables)
and the alternatives (sdmx1 and pysdmx merely parsing the
same file). See bench/README.md for how to run it and what each row measures.
"""


def write(doc: Path, name: str, block: str, kind: str = "ingest") -> None:
    """Replace (or append) the block `name` of `kind` (ingest, embargo) in `doc`."""
    text = doc.read_text() if doc.exists() else HEAD
    start, end = f"<!-- {kind}:{name} -->", f"<!-- /{kind}:{name} -->"
    wrapped = f"{start}\n{block}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: wrapped, text)
    else:
        text = text.rstrip("\n") + "\n\n" + wrapped + "\n"
    doc.write_text(text)


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
