"""SDMX-CSV readers: one sample per case, errors with their place, and agreement with pysdmx."""

import csv
import io
from pathlib import Path

import pytest

from app.model.data import (
    Chunk,
    DatasetStart,
    MessageError,
    MessageStart,
    Positions,
    StructureKind,
)
from app.readers import sdmx_csv
from app.readers.registry import find

SAMPLES = Path(__file__).parent / "samples" / "csv"
CORPUS = Path("/work/shared/corpus")
READERS = {"1.0": sdmx_csv.READER_10, "2.0": sdmx_csv.READER_20, "2.1": sdmx_csv.READER_21}


def events(name: str, version: str, chunk_size: int = 10_000) -> list:
    with (SAMPLES / name).open("rb") as f:
        return list(READERS[version].read(f, chunk_size=chunk_size))


def rows(evs: list) -> list[dict]:
    """Each observation as a dict, with its dataset index and position."""
    out = []
    for chunk in (e for e in evs if isinstance(e, Chunk)):
        for i, where in enumerate(chunk.positions):
            row = {k: v[i] for k, v in chunk.columns.items()}
            out.append({"_dataset": chunk.dataset, "_at": where, **row})
    return out


def datasets(evs: list) -> list[tuple]:
    return [
        (e.structure.kind, e.structure.agency, e.structure.id, e.structure.version, e.action)
        for e in evs
        if isinstance(e, DatasetStart)
    ]


def test_v10_plain():
    evs = events("v10.csv", "1.0")
    assert evs[0] == MessageStart(format="sdmx-csv-1.0")
    assert datasets(evs) == [(StructureKind.DATAFLOW, "DSM", "MIGR_IMM", "1.0", None)]
    assert rows(evs) == [
        {"_dataset": 0, "_at": "line 2", "FREQ": "A", "REF_AREA": "ARM", "TIME_PERIOD": "2020",
         "OBS_VALUE": "12.5", "OBS_STATUS": "A"},
        {"_dataset": 0, "_at": "line 3", "FREQ": "A", "REF_AREA": "GEO", "TIME_PERIOD": "2020",
         "OBS_VALUE": None, "OBS_STATUS": "M"},
    ]  # fmt: skip


def test_v10_labels_both_reduced_to_ids():
    evs = events("v10_labels.csv", "1.0")
    assert datasets(evs) == [(StructureKind.DATAFLOW, "DSM", "MIGR_IMM", "1.0", None)]
    (row,) = rows(evs)
    assert row["FREQ"] == "A" and row["REF_AREA"] == "ARM" and row["TIME_PERIOD"] == "2020"
    assert row["COMMENT"] == "Free text: see source"  # text whose head has a space keeps its ": "


def test_v20_action_changes_start_datasets():
    evs = events("v20_actions.csv", "2.0")
    assert [a for *_, a in datasets(evs)] == ["I", "R", "D"]
    got = [(r["_dataset"], r["_at"], r["TIME_PERIOD"], r["OBS_VALUE"]) for r in rows(evs)]
    assert got == [
        (0, "line 2", "2020", "1"),
        (0, "line 3", "2021", "2"),
        (1, "line 4", "2020", "3"),
        (2, "line 5", "2021", None),
    ]


def test_v21_merge_and_wildcard_delete():
    evs = events("v21_merge.csv", "2.1")
    assert evs[0].format == "sdmx-csv-2.1"
    assert [a for *_, a in datasets(evs)] == ["M", "R", "D"]
    assert rows(evs)[-1]["REF_AREA"] is None and rows(evs)[-1]["TIME_PERIOD"] is None


def test_v20_several_structures_and_multivalue_cell():
    evs = events("v20_structures.csv", "2.0")
    assert datasets(evs) == [
        (StructureKind.DATAFLOW, "DSM", "MIGR_IMM", "1.0", "I"),
        (StructureKind.DATASTRUCTURE, "DSM", "DSD_MIGR", "2.0", "I"),
        (StructureKind.PROVISIONAGREEMENT, "DSM", "PA_ARM", "1.0", "I"),
    ]
    assert [r["NOTE"] for r in rows(evs)] == ["x;y", None, None]  # raw text, header NOTE[]


def test_v20_bom_crlf_quoted_fields_blank_line_no_action():
    evs = events("v20_bom_quoted_empty.csv", "2.0")
    assert datasets(evs) == [(StructureKind.DATAFLOW, "DSM", "MIGR_IMM", None, None)]
    got = [(r["_at"], r["REF_AREA"], r["OBS_VALUE"], r["COMMENT"]) for r in rows(evs)]
    assert got == [
        ("line 2", "ARM", None, "a, b"),
        ("line 3", None, "7", "two\r\nlines"),
        ("line 6", "GEO", "8", None),
    ]


def test_v20_semicolon_delimiter():
    (row,) = rows(events("v20_semicolon.csv", "2.0"))
    assert row["OBS_VALUE"] == "1,5"


def test_v20_labels_name_columns_dropped():
    evs = events("v20_labels_name.csv", "2.0")
    assert list(next(e for e in evs if isinstance(e, Chunk)).columns) == ["FREQ", "OBS_VALUE"]


def test_chunks_respect_size_and_dataset():
    evs = events("v20_actions.csv", "2.0", chunk_size=1)
    chunks = [e for e in evs if isinstance(e, Chunk)]
    assert [len(c) for c in chunks] == [1, 1, 1, 1]
    assert [c.dataset for c in chunks] == [0, 0, 1, 2]


ERRORS = [
    ("err_encoding.csv", "2.0", "not UTF-8", "line 3"),
    ("err_missing_column.csv", "2.0", "expected STRUCTURE_ID", "line 1"),
    ("err_missing_column.csv", "1.0", "expected DATAFLOW", "line 1"),
    ("err_ragged.csv", "2.0", "3 fields; expected 4", "line 3"),
    ("err_quote.csv", "2.0", "Malformed CSV", "line 3"),
    (
        "err_structure_type.csv",
        "2.0",
        "expected dataflow, datastructure or dataprovision",
        "line 2",
    ),
]


@pytest.mark.parametrize(("name", "version", "message", "position"), ERRORS)
def test_errors_say_where_and_what(name, version, message, position):
    with pytest.raises(MessageError) as e:
        events(name, version)
    assert message in e.value.message
    assert e.value.position == position


def test_oversize_field():
    body = (
        b'STRUCTURE,STRUCTURE_ID,NOTE\ndataflow,DSM:X(1.0),"'
        + b"x" * (sdmx_csv.FIELD_SIZE_LIMIT + 1)
        + b'"\n'
    )
    with pytest.raises(MessageError, match="field larger than field limit") as e:
        list(sdmx_csv.READER_20.read(io.BytesIO(body)))
    assert e.value.position == "line 2"


def test_empty_body():
    with pytest.raises(MessageError, match="expected an SDMX-CSV header"):
        list(sdmx_csv.READER_10.read(io.BytesIO(b"")))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("v10.csv", "sdmx-csv-1.0"), ("v20_actions.csv", "sdmx-csv-2.0"),
     ("v21_merge.csv", "sdmx-csv-2.1"), ("v20_bom_quoted_empty.csv", "sdmx-csv-2.0"),
     ("v20_semicolon.csv", "sdmx-csv-2.0")],
)  # fmt: skip
def test_sniff(name, expected):
    assert find(None, (SAMPLES / name).read_bytes()[:65536]).name == expected


@pytest.mark.parametrize(
    ("media_type", "expected"),
    [(sdmx_csv.MEDIA_TYPE_10, "sdmx-csv-1.0"), (sdmx_csv.MEDIA_TYPE_20, "sdmx-csv-2.0"),
     (sdmx_csv.MEDIA_TYPE_21, "sdmx-csv-2.1")],
)  # fmt: skip
def test_media_types(media_type, expected):
    assert find(media_type, b"").name == expected


CORPUS_FILES = [
    ("bis-med-it__pysdmx/tests/io/samples/csv_nulls_10.csv", "1.0"),
    ("bis-med-it__pysdmx/tests/io/samples/large_csv_1.csv", "1.0"),
    ("bis-med-it__pysdmx/tests/io/csv/sdmx10/reader/samples/data_v1_datetime.csv", "1.0"),
    ("bis-med-it__pysdmx/tests/io/samples/csv_nulls_20.csv", "2.0"),
    ("bis-med-it__pysdmx/tests/io/csv/sdmx20/reader/samples/data_v2_structures.csv", "2.0"),
    ("bis-med-it__pysdmx/tests/io/csv/sdmx20/reader/samples/data_v2_merge_action.csv", "2.1"),
    ("khaeru__sdmx-test-data/v3/csv/example-01.csv", "2.0"),
]


@pytest.mark.parametrize(("path", "version"), CORPUS_FILES)
def test_corpus_matches_plain_csv(path, version):
    """Every corpus row comes out with the same cells (pysdmx's CSV readers need pyarrow, which
    DSM does not install, so the reference is the standard csv module)."""
    file = CORPUS / path
    if not file.exists():
        pytest.skip("corpus not available")
    with file.open(encoding="utf-8-sig", newline="") as f:
        expected = [r for r in csv.DictReader(f) if any(r.values())]
    with file.open("rb") as f:
        ours = rows(list(READERS[version].read(f)))
    assert len(ours) == len(expected)
    for mine, theirs in zip(ours, expected, strict=True):
        for column, value in mine.items():
            if not column.startswith("_"):
                assert (value or "") == theirs[column]


def test_positions_are_formatted_when_asked():
    """Positions hold line numbers and make "line N" only for the rows someone asks about."""
    (chunk,) = [e for e in events("v20_actions.csv", "2.0", chunk_size=2) if isinstance(e, Chunk)][
        :1
    ]
    assert isinstance(chunk.positions, Positions)
    assert chunk.positions.items == [2, 3]
    assert chunk.positions[1] == "line 3" and chunk.positions[-1] == "line 3"
    assert chunk.positions == ["line 2", "line 3"] and list(chunk.positions[1:]) == ["line 3"]


SAMPLE_NAMES = [
    ("v10.csv", "1.0"),
    ("v10_labels.csv", "1.0"),
    ("v20_actions.csv", "2.0"),
    ("v20_bom_quoted_empty.csv", "2.0"),
    ("v20_labels_name.csv", "2.0"),
    ("v20_semicolon.csv", "2.0"),
    ("v20_structures.csv", "2.0"),
    ("v21_merge.csv", "2.1"),
]


@pytest.mark.parametrize("block_size", [1, 7, 64])
@pytest.mark.parametrize(("name", "version"), SAMPLE_NAMES)
def test_block_boundaries_change_nothing(monkeypatch, name, version, block_size):
    """Text is decoded and split a block at a time: rows, positions and datasets are the same
    wherever the blocks end (mid-character, mid-record, inside a quoted field)."""
    expected = events(name, version, chunk_size=2)
    monkeypatch.setattr(sdmx_csv, "BLOCK_SIZE", block_size)
    assert events(name, version, chunk_size=2) == expected


def body(*lines: str, end: str = "\n") -> bytes:
    return end.join(["STRUCTURE,STRUCTURE_ID,ACTION,FREQ,NOTE", *lines, ""]).encode()


def read_body(data: bytes, chunk_size: int = 10_000) -> list:
    return list(sdmx_csv.READER_20.read(io.BytesIO(data), chunk_size=chunk_size))


def test_plain_text_then_quotes(monkeypatch):
    """Unquoted blocks are split without the CSV parser; from the first quote on it takes over,
    with the line count carried over (the quoted note spans lines 5 and 6)."""
    monkeypatch.setattr(sdmx_csv, "BLOCK_SIZE", 40)
    data = body(
        "dataflow,DSM:X(1.0),I,A,",
        "dataflow,DSM:X(1.0),I,A,plain",
        "",
        'dataflow,DSM:X(1.0),I,M,"two\nlines"',
        "dataflow,DSM:X(1.0),R,Q,x",
    )
    got = [(r["_dataset"], r["_at"], r["FREQ"], r["NOTE"]) for r in rows(read_body(data, 3))]
    assert got == [
        (0, "line 2", "A", None),
        (0, "line 3", "A", "plain"),
        (0, "line 5", "M", "two\nlines"),
        (1, "line 7", "Q", "x"),
    ]


def test_crlf_and_blank_lines_without_quotes():
    data = body("dataflow,DSM:X(1.0),I,A,a", "", "dataflow,DSM:X(1.0),I,Q,", end="\r\n")
    got = [(r["_at"], r["FREQ"], r["NOTE"]) for r in rows(read_body(data))]
    assert got == [("line 2", "A", "a"), ("line 4", "Q", None)]


@pytest.mark.parametrize("quote", ["", '"'])
def test_ragged_row_after_many_lines(monkeypatch, quote):
    """The same error and line whether the text before it is split plainly or parsed as CSV."""
    monkeypatch.setattr(sdmx_csv, "BLOCK_SIZE", 100)
    good = [f"dataflow,DSM:X(1.0),I,A,{quote}n{i}{quote}" for i in range(50)]
    with pytest.raises(MessageError) as e:
        read_body(body(*good, "dataflow,DSM:X(1.0),I,A"))
    assert e.value.message == "Row has 4 fields; expected 5 as in the header"
    assert e.value.position == "line 52"


def test_repeated_values_share_one_string():
    """Each column keeps one object per distinct value, so validation hashes few strings."""
    data = body(*(f"dataflow,DSM:X(1.0),I,A,n{i % 3}" for i in range(30)))
    (chunk,) = [e for e in read_body(data) if isinstance(e, Chunk)]
    assert len({id(v) for v in chunk.columns["FREQ"]}) == 1
    assert len({id(v) for v in chunk.columns["NOTE"]}) == 3
