"""Shared inputs of the SDMX-CSV and SDMX-JSON data writer tests: DataResponses on the real
compiled DSM flows, a tiny visible dataset, and the readers' view of it."""

import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from app.model.data import Chunk, DatasetStart
from app.model.dsd import CompiledFlow, Level
from app.model.response import DataResponse, DatasetBlock
from app.readers import registry
from app.services.compile import compile_all
from app.services.structures import build_registry, read_files

FLOW = ("DSM", "DF_WORK_PERMITS", "1.0")
PREPARED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
QUOTA = "Permits issued, quota: 2023"  # free text with a comma (quoted in CSV)

# (FREQ, REF_AREA, CITIZENSHIP, SEX, PERMIT_TYPE, PERMIT_STATUS, DATA_SOURCE, TIME_PERIOD,
#  OBS_VALUE, OBS_STATUS, CONF_STATUS, COMMENT_OBS, UNIT_MEASURE, UNIT_MULT, DECIMALS,
#  NATIONAL_DEFINITION) in series order
ROWS = [
    ("A", "KAZ", "CHN", "M", "HQS", "APPLIED", "MIG", "2022", "95.5", "E", None, None)
    + ("PS", "0", "1", None),
    ("A", "KAZ", "CHN", "M", "HQS", "APPLIED", "MIG", "2023", "120", "A", None, None)
    + ("PS", "0", "1", None),
    ("A", "KAZ", "UZB", "F", "WP", "GRANTED", "MIG", "2022", "310", "A", None, None)
    + ("PS", "0", None, None),
    ("A", "KAZ", "UZB", "F", "WP", "GRANTED", "MIG", "2023", None, "M", "F", None)
    + ("PS", "0", None, None),
    ("A", "KAZ", "UZB", "M", "WP", "GRANTED", "MIG", "2022", "1200", "A", None, None)
    + ("PS", "0", None, QUOTA),
    ("A", "KAZ", "UZB", "M", "WP", "GRANTED", "MIG", "2023", "1350", "P", None)
    + ('Preliminary "first" figure', "PS", "0", None, QUOTA),
]
COMMENT_DSET = "Ministry of Labour\nadministrative records"


def load_flows() -> dict[tuple[str, str, str], CompiledFlow]:
    records = [a for _, a in read_files([Path("dsd"), Path("codelists")])]
    return compile_all(list(build_registry(records)))


class FakeLabels:
    """Names in the response language: component `X` is "Name of X", code `c` is "c name"."""

    def component(self, component_id: str) -> str | None:
        return f"Name of {component_id}"

    def code(self, component_id: str, code: str) -> str | None:
        return None if code == "KAZ" else f"{code} name"  # one code without a name


def columns(flow: CompiledFlow) -> tuple[str, ...]:
    attrs = tuple(a for a in flow.attributes if flow.components[a].level != Level.DATASET)
    return (*flow.dimensions, flow.time_dimension, flow.measure, *attrs)


def response(
    flow: CompiledFlow,
    blocks: Iterable[DatasetBlock] | None = None,
    detail: str = "full",
    at: str = "TIME_PERIOD",
    **options,
) -> DataResponse:
    cols = columns(flow)
    if blocks is None:
        blocks = [DatasetBlock(iter(ROWS), attributes={"COMMENT_DSET": COMMENT_DSET})]
    attributes = (
        () if detail in ("dataonly", "serieskeysonly") else cols[len(flow.dimensions) + 2 :]
    )
    if detail in ("dataonly", "serieskeysonly"):
        blocks = [
            DatasetBlock([r[: len(flow.dimensions) + 2] for r in b.rows], b.action, b.valid_from)
            for b in blocks
        ]
        cols = cols[: len(flow.dimensions) + 2]
    series: tuple[str, ...] = () if at == "AllDimensions" else flow.dimensions
    return DataResponse(
        id="TEST1",
        prepared=PREPARED,
        flow=flow,
        dimension_at_observation=at,
        columns=cols,
        series_dimensions=series,
        attributes=attributes,
        datasets=iter(blocks),
        detail=detail,
        **options,
    )


def observations(rows: Iterable[tuple], flow: CompiledFlow) -> dict[tuple, dict]:
    """Rows as {full key: {component: value}} without None values (what a reader reports)."""
    names = columns(flow)
    n = len(flow.dimensions) + 1
    return {
        row[:n]: {k: v for k, v in zip(names[n:], row[n:], strict=True) if v is not None}
        for row in rows
    }


def read_back(body: bytes, media_type: str) -> list[tuple[DatasetStart, dict[tuple, dict]]]:
    """DSM's own reader on `body`: per dataset, {key: {component: value}} (None dropped)."""
    reader = registry.find(media_type, body[:65536])
    datasets: list[tuple[DatasetStart, dict]] = []
    for event in reader.read(io.BytesIO(body)):
        if isinstance(event, DatasetStart):
            datasets.append((event, {}))
        elif isinstance(event, Chunk):
            n = len(event)
            for i in range(n):
                row = {k: v[i] for k, v in event.columns.items() if v[i] is not None}
                key = tuple(row.pop(d, None) for d in KEY)
                datasets[-1][1][key] = row
    return datasets


KEY = ("FREQ", "REF_AREA", "CITIZENSHIP", "SEX", "PERMIT_TYPE", "PERMIT_STATUS", "DATA_SOURCE")
KEY += ("TIME_PERIOD",)


def many_rows(flow: CompiledFlow, n: int) -> Iterator[tuple]:
    """`n` rows made on the fly (20 periods per series)."""
    tail = ("A", None, None, "PS", "0", None, None)
    for i in range(n):
        yield ("A", "KAZ", f"C{i // 20}", "F", "WP", "GRANTED", "MIG", str(2000 + i % 20)) + (
            str(i),
            *tail,
        )
