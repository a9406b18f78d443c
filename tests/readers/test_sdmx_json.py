"""SDMX-JSON readers: one sample per case, errors with their place, and agreement with sdmx1."""

import io
from pathlib import Path

import pytest
import sdmx

from app.model.data import (
    Chunk,
    DatasetStart,
    GroupAttributes,
    MessageError,
    StructureKind,
    StructureRef,
)
from app.readers import sdmx_json
from app.readers.registry import find

SAMPLES = Path(__file__).parent / "samples" / "json"
CORPUS = Path("/work/shared/corpus")


def events(path: Path) -> list:
    with path.open("rb") as f:
        return list(sdmx_json.READER_10.read(f))


def rows(evs: list) -> list[dict]:
    out = []
    for chunk in (e for e in evs if isinstance(e, Chunk)):
        for i, where in enumerate(chunk.positions):
            out.append({"_at": where, **{k: v[i] for k, v in chunk.columns.items()}})
    return out


def test_v10_series_attributes_and_nulls():
    evs = events(SAMPLES / "v10_series.json")
    start = evs[0]
    assert (start.id, start.sender) == ("M1", "ARMSTAT")
    flow = StructureRef(StructureKind.DATAFLOW, "DSM", "MIGR_IMM", "1.0")
    assert start.structures == {"0": flow}
    assert evs[1] == DatasetStart(0, flow, "Replace", {"UNIT_MULT": "3"}, "dataSets[0]")
    assert rows(evs) == [
        {"_at": "dataSets[0].series[0:0].observations[0]", "FREQ": "A", "REF_AREA": "ARM",
         "SEX": "F", "TITLE": "Women, Armenia", "TIME_PERIOD": "2020", "OBS_VALUE": "12.5",
         "OBS_STATUS": "E"},
        {"_at": "dataSets[0].series[0:0].observations[1]", "FREQ": "A", "REF_AREA": "ARM",
         "SEX": "F", "TITLE": "Women, Armenia", "TIME_PERIOD": "2021", "OBS_VALUE": None,
         "OBS_STATUS": None},
        {"_at": "dataSets[0].series[0:1]", "FREQ": "A", "REF_AREA": "ARM", "SEX": "M",
         "TITLE": None, "TIME_PERIOD": None, "OBS_VALUE": None, "OBS_STATUS": None},
    ]  # fmt: skip


def test_v20_flat_measures_inline_values_and_groups():
    evs = events(SAMPLES / "v20_flat.json")
    flow = StructureRef(StructureKind.DATAFLOW, "DSM", "MIGR_EMI", "1.1")
    assert evs[1] == DatasetStart(0, flow, "Merge", {}, "dataSets[0]")
    assert evs[2] == GroupAttributes(
        0,
        {"REF_AREA": "ARM"},
        {"SOURCE": "Census 2022"},
        "dataSets[0].dimensionGroupAttributes[1:]",
    )
    got = [{k: v for k, v in r.items() if k != "_at"} for r in rows(evs)]
    assert got == [
        {"REF_AREA": "GEO", "TIME_PERIOD": "2022", "OBS_VALUE": "5", "OBS_COUNT": "7",
         "OBS_STATUS": "P", "NOTE": "free text"},
        {"REF_AREA": "ARM", "TIME_PERIOD": "2022", "OBS_VALUE": None, "OBS_COUNT": None,
         "OBS_STATUS": None, "NOTE": None},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "message", "position"),
    [
        ("err_truncated.json", "Malformed JSON", "line 1, column 89"),
        ("err_no_structure.json", "without structure", ""),
        (
            "err_bad_index.json",
            "TIME_PERIOD index 3; expected 0 to 0",
            "dataSets[0].observations[3]",
        ),
    ],
)
def test_errors_say_where_and_what(name, message, position):
    with pytest.raises(MessageError) as e:
        events(SAMPLES / name)
    assert message in e.value.message
    assert e.value.position == position


def test_size_ceiling(monkeypatch):
    monkeypatch.setattr(sdmx_json, "MAX_JSON_BYTES", 10)
    with pytest.raises(MessageError, match="over 10 bytes"):
        list(sdmx_json.READER_20.read(io.BytesIO(b'{"meta": {}, "data": {"dataSets": []}}')))


@pytest.mark.parametrize(
    ("name", "expected"), [("v10_series.json", "sdmx-json-1.0"), ("v20_flat.json", "sdmx-json-2.0")]
)
def test_sniff(name, expected):
    assert find(None, (SAMPLES / name).read_bytes()).name == expected


SDMX1_FILES = [
    "khaeru__sdmx-test-data/ECB_EXR/ts.json",
    "khaeru__sdmx-test-data/ECB_EXR/xs.json",
    "khaeru__sdmx-test-data/ECB_EXR/flat.json",
    "khaeru__sdmx-test-data/OECD/data-PART2-all-all.json",
]


@pytest.mark.parametrize("path", SDMX1_FILES)
def test_corpus_matches_sdmx1(path):
    file = CORPUS / path
    if not file.exists():
        pytest.skip("corpus not available")
    with file.open("rb") as f:
        message = sdmx.read_sdmx(f, format="JSON")
    dims = [d.id for d in message.structure.dimensions]
    expected = {}
    for dataset in message.data:
        for obs in dataset.obs:
            key = {kv.id: str(kv.value) for kv in obs.key.values.values()}
            expected[tuple(key[d] for d in dims)] = obs.value
    ours = {tuple(r[d] for d in dims): r["OBS_VALUE"] for r in rows(events(file))}
    assert len(ours) == len(expected)
    assert {k: float(v) for k, v in ours.items()} == pytest.approx(
        {k: float(v) for k, v in expected.items()}
    )


@pytest.mark.parametrize(
    "path",
    ["sdmx-twg__sdmx-json/data-message/samples/exr/exr-flat.json",
     "sdmx-twg__sdmx-json/data-message/samples/exr/exr-cross-section.json",
     "sdmx-twg__sdmx-json/data-message/samples/agri.json",
     "sdmx-twg__sdmx-json/data-message/samples/constructed-sample-full.json"],
)  # fmt: skip
def test_official_2x_samples_read(path):
    """The TWG's 2.x samples read (their exr-time-series/-action-delete index attribute values
    that are not listed, and are refused)."""
    file = CORPUS / path
    if not file.exists():
        pytest.skip("corpus not available")
    assert rows(events(file))
