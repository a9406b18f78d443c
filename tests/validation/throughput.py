"""Validator throughput, run by hand (not a test): /work/venv/bin/python -m tests.validation.throughput

Validates 10,000-row chunks of DSM:DF_WORK_PERMITS(1.0) (7 dimensions, all valid: the common case)
and prints rows per second.
"""

import itertools
import time
from pathlib import Path

from app.model.actions import Operation
from app.model.data import Chunk
from app.services.compile import compile_all
from app.services.structures import build_registry, read_files
from app.validation import Findings, Validator

ROWS = 10_000
ROUNDS = 50


def sample_chunk(flow, rows: int = ROWS) -> Chunk:
    """Valid rows: every code combination cycled, monthly periods, distinct decimal values."""
    citizenship = sorted(flow.components["CITIZENSHIP"].codes)[:50]
    months = [f"20{y:02d}-{m:02d}" for y in range(10, 24) for m in range(1, 13)]
    keys = itertools.islice(
        itertools.cycle(itertools.product(citizenship, ["F", "M", "_T"], months)), rows
    )
    cit, sex, period = (list(c) for c in zip(*keys, strict=True))
    columns = {
        "FREQ": ["M"] * rows,
        "REF_AREA": ["KAZ"] * rows,
        "CITIZENSHIP": cit,
        "SEX": sex,
        "PERMIT_TYPE": ["WP"] * rows,
        "PERMIT_STATUS": ["GRANTED"] * rows,
        "DATA_SOURCE": ["MIG"] * rows,
        "TIME_PERIOD": period,
        "OBS_VALUE": [f"{i * 1.5:.1f}" for i in range(rows)],
        "OBS_STATUS": ["A"] * rows,
        "UNIT_MEASURE": ["NUMBER"] * rows,
    }
    return Chunk(0, columns, [f"line {i + 2}" for i in range(rows)])


def main() -> None:
    records = [a for _, a in read_files([Path("dsd"), Path("codelists")])]
    flow = compile_all(list(build_registry(records)))[("DSM", "DF_WORK_PERMITS", "1.0")]
    chunks = [sample_chunk(flow) for _ in range(ROUNDS)]
    findings = Findings()
    validator = Validator(flow, {"REF_AREA": frozenset({"KAZ"})}, findings)
    started = time.perf_counter()
    for chunk in chunks:
        validator.chunk(chunk, Operation.MERGE)
    elapsed = time.perf_counter() - started
    assert not findings.total, findings.as_list()[:3]
    print(f"{ROWS * ROUNDS:,} rows in {elapsed:.3f} s: {ROWS * ROUNDS / elapsed:,.0f} rows/s")


if __name__ == "__main__":
    main()
