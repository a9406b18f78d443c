"""SDMX-JSON readers: one sample per case, errors with their place, and agreement with sdmx1."""

import io
import json
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
from app.readers import json_stream, sdmx_json
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


def read_bytes(body: bytes, reader=sdmx_json.READER_20) -> list:
    return list(reader.read(io.BytesIO(body), chunk_size=2))


@pytest.mark.parametrize("block_size", [1, 3, 7, 64])
@pytest.mark.parametrize("name", ["v10_series.json", "v20_flat.json"])
def test_block_boundaries_change_nothing(monkeypatch, name, block_size):
    """The body is decoded a block at a time; numbers, keys and literals cut by a block's end
    are read again with the next block."""
    body = (SAMPLES / name).read_bytes()
    expected = read_bytes(body)
    monkeypatch.setattr(json_stream, "BLOCK_SIZE", block_size)
    assert read_bytes(body) == expected


def test_members_in_any_order_give_the_same_events():
    """The structure after the dataSets (OECD), a dataSet's action after its series: the events
    are made once the whole body has been read, in the usual order."""
    tree = json.loads((SAMPLES / "v10_series.json").read_bytes())
    dataset = tree["dataSets"][0]
    reordered = {
        "dataSets": [
            {"series": dataset["series"], **{k: dataset[k] for k in ("attributes", "action")}}
        ],
        "structure": tree["structure"],
        "header": tree["header"],
    }
    body = json.dumps(reordered).encode()
    assert read_bytes(body, sdmx_json.READER_10) == read_bytes(
        (SAMPLES / "v10_series.json").read_bytes(), sdmx_json.READER_10
    )


def test_reads_a_stream_without_reading_it_whole():
    class Blocks(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            assert size is not None and size > 0, "read the whole body"
            return super().read(size)

    body = (SAMPLES / "v10_series.json").read_bytes()
    assert rows(list(sdmx_json.READER_10.read(Blocks(body)))) == rows(
        events(SAMPLES / "v10_series.json")
    )


BROKEN = [
    b"",
    b"   ",
    b"[1, 2",
    b'{"meta": {}, "data": {"dataSets": [{"series": {"0": {"observations": {"0": [1 2]}}}}]}}',
    b'{"meta": {}, "data": {"dataSets": [{"series": {"0": {}, }}]}}',
    b'{"meta": {}, "data": {"dataSets": [{"series": {"0" {}}}]}}',
    b'{"meta": {}, "data": {"dataSets": [{"observations": {"0": [1]}',
    b'{"meta": {}, "data": {"dataSets": [{"observations": {"0": [1], 3: 4}}]}}',
    b'{"meta": {}, "data": {"dataSets": [1,]}}',
    b'{"meta": {}, "data": {"dataSets": [{"x": tru}]}}',
    b'{"meta": {"id": "a\nb"}}',
    b'{"meta": {}}\n\n  {}',
    b'{"meta": {}, "data": {"dataSets": [{"series": {"a\\u12": 1}}]}}',
]


@pytest.mark.parametrize("block_size", [1, 5, 1 << 20])
@pytest.mark.parametrize("body", BROKEN)
def test_malformed_json_is_placed_as_json_places_it(monkeypatch, body, block_size):
    """Streaming or not, a syntax error has the `json` module's message, line and column."""
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(body)
    monkeypatch.setattr(json_stream, "BLOCK_SIZE", block_size)
    with pytest.raises(MessageError) as e:
        read_bytes(body)
    assert e.value.message == f"Malformed JSON: {expected.value.msg}"
    assert e.value.position == f"line {expected.value.lineno}, column {expected.value.colno}"


def test_encoding_errors_name_the_byte():
    body = b'{"meta": {"id": "\xff"}}'
    with pytest.raises(MessageError) as e:
        read_bytes(body)
    assert (e.value.message, e.value.position) == (
        "Bytes not UTF-8 (invalid start byte); expected UTF-8 JSON",
        "byte 18",
    )
    assert read_bytes((SAMPLES / "v20_flat.json").read_text().encode("utf-16")) == read_bytes(
        (SAMPLES / "v20_flat.json").read_bytes()
    )


def test_piece_ceiling(monkeypatch):
    """One value decoded whole (here the header) has a ceiling; the message says which."""
    monkeypatch.setattr(sdmx_json, "PIECE_LIMIT", 20)
    monkeypatch.setattr(json_stream, "BLOCK_SIZE", 4)
    with pytest.raises(MessageError, match="over 20 characters") as e:
        list(sdmx_json.READER_10.read(io.BytesIO((SAMPLES / "v10_series.json").read_bytes())))
    assert e.value.position == "header"


def test_positions_are_json_paths_formatted_when_asked():
    (chunk,) = [e for e in events(SAMPLES / "v10_series.json") if isinstance(e, Chunk)]
    assert chunk.positions.items == [  # type: ignore[attr-defined]
        ("dataSets[0].series[0:0]", "0"),
        ("dataSets[0].series[0:0]", "1"),
        "dataSets[0].series[0:1]",
    ]
    assert chunk.positions[1] == "dataSets[0].series[0:0].observations[1]"
