"""SDMX-ML data readers on tiny samples: one file per case, the expected rows as constants."""

import io
from pathlib import Path

import pytest

from app.model.data import (
    Chunk,
    DatasetStart,
    GroupAttributes,
    MessageError,
    MessageStart,
    StructureKind,
    StructureRef,
)
from app.readers.sdmx_ml_formats import READERS, root_element

SAMPLES = Path(__file__).parent / "samples" / "ml"
MIGR = StructureRef(StructureKind.DATASTRUCTURE, "DSM", "DSD_MIGR", "1.0", "TIME_PERIOD")


def read(name: str, chunk_size: int = 10_000) -> list:
    body = (SAMPLES / name).read_bytes()
    (reader,) = [r for r in READERS if r.sniff(body[:65536])]
    return list(reader.read(io.BytesIO(body), chunk_size=chunk_size))


def rows(events: list) -> list[tuple[str, dict[str, str]]]:
    """(position, non-empty values) per row, across chunks."""
    out = []
    for chunk in (e for e in events if isinstance(e, Chunk)):
        for i, position in enumerate(chunk.positions):
            values = {k: v[i] for k, v in chunk.columns.items() if v[i] is not None}
            out.append((position, values))
    return out


SERIES = {"FREQ": "A", "REF_AREA": "KZ"}
ROWS = {
    "ss21_series.xml": [
        (
            "line 14",
            {
                **SERIES,
                "CITIZENSHIP": "UZ",
                "UNIT_MULT": "0",
                "TIME_PERIOD": "2022",
                "OBS_VALUE": "1200",
                "OBS_STATUS": "A",
            },
        ),  # fmt: skip
        (
            "line 15",
            {
                **SERIES,
                "CITIZENSHIP": "UZ",
                "UNIT_MULT": "0",
                "TIME_PERIOD": "2023",
                "OBS_VALUE": "1350",
                "OBS_STATUS": "P",
            },
        ),  # fmt: skip
        (
            "line 18",
            {
                **SERIES,
                "CITIZENSHIP": "KG",
                "UNIT_MULT": "3",
                "TIME_PERIOD": "2023",
                "OBS_VALUE": "4.5",
            },
        ),  # fmt: skip
    ],
    "ss21_flat.xml": [
        ("line 13", {**SERIES, "CITIZENSHIP": "UZ", "TIME_PERIOD": "2022", "OBS_VALUE": "1200"}),
        (
            "line 14",
            {
                **SERIES,
                "CITIZENSHIP": "KG",
                "TIME_PERIOD": "2022",
                "OBS_VALUE": "800",
                "OBS_STATUS": "E",
            },
        ),  # fmt: skip
    ],
    "ss21_cross_section.xml": [
        ("line 14", {**SERIES, "TIME_PERIOD": "2022", "CITIZENSHIP": "UZ", "OBS_VALUE": "1200"}),
        ("line 15", {**SERIES, "TIME_PERIOD": "2022", "CITIZENSHIP": "KG", "OBS_VALUE": "800"}),
    ],
    "ss21_groups.xml": [
        ("line 15", {**SERIES, "CITIZENSHIP": "UZ", "TIME_PERIOD": "2022", "OBS_VALUE": "1200"}),
    ],
    "ss21_delete_series_without_obs.xml": [
        ("line 13", {**SERIES, "CITIZENSHIP": "UZ"}),  # no TIME_PERIOD: the whole series
        ("line 15", {**SERIES, "TIME_PERIOD": "2021"}),  # CITIZENSHIP left out: None
    ],
    "ss21_missing_values.xml": [  # NaN and an absent OBS_VALUE are both None
        ("line 14", {**SERIES, "CITIZENSHIP": "UZ", "TIME_PERIOD": "2021", "OBS_STATUS": "M"}),
        ("line 15", {**SERIES, "CITIZENSHIP": "UZ", "TIME_PERIOD": "2022", "OBS_STATUS": "L"}),
        ("line 16", {**SERIES, "CITIZENSHIP": "UZ", "TIME_PERIOD": "2023", "OBS_VALUE": "7"}),
    ],
    "ss21_two_datasets.xml": [
        ("line 17", {**SERIES, "TIME_PERIOD": "2023", "OBS_VALUE": "1"}),
        ("line 20", {**SERIES, "TIME_PERIOD": "2023", "OBS_VALUE": "2"}),
    ],
    "generic21_series.xml": [
        (
            "line 34",
            {
                **SERIES,
                "CITIZENSHIP": "UZ",
                "UNIT_MULT": "0",
                "TIME_PERIOD": "2022",
                "OBS_VALUE": "1200",
                "OBS_STATUS": "A",
            },
        ),  # fmt: skip
        ("line 41", {**SERIES, "CITIZENSHIP": "UZ", "UNIT_MULT": "0", "TIME_PERIOD": "2023"}),
        ("line 45", {**SERIES, "CITIZENSHIP": "UZ", "UNIT_MULT": "0", "TIME_PERIOD": "2024"}),
    ],
    "generic21_measure_dimension.xml": [  # ObsDimension's id is the header's dimensionAtObservation
        (
            "line 18",
            {"REF_AREA": "KZ", "TIME_PERIOD": "2023", "MEASURE": "IMMIGRANTS", "OBS_VALUE": "1350"},
        ),  # fmt: skip
        (
            "line 22",
            {"REF_AREA": "KZ", "TIME_PERIOD": "2023", "MEASURE": "EMIGRANTS", "OBS_VALUE": "900"},
        ),  # fmt: skip
    ],
    "generic21_flat.xml": [
        ("line 13", {**SERIES, "TIME_PERIOD": "2022", "OBS_VALUE": "5", "OBS_STATUS": "E"}),
    ],
    "ss30_series.xml": [  # multi-valued Comp joined with ";", localised Comp keeps English
        (
            "line 18",
            {
                **SERIES,
                "TITLE": "Immigrants",
                "TIME_PERIOD": "2023",
                "OBS_VALUE": "1350",
                "OBS_STATUS": "A",
            },
        ),  # fmt: skip
        (
            "line 19",
            {**SERIES, "TITLE": "Immigrants", "TIME_PERIOD": "2024", "COMMENT": "late;revised"},
        ),  # fmt: skip
    ],
}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_rows(name: str) -> None:
    assert rows(read(name)) == ROWS[name]


@pytest.mark.parametrize("name", sorted(ROWS))
def test_chunks_are_columnar_and_split_at_chunk_size(name: str) -> None:
    events = read(name, chunk_size=1)
    chunks = [e for e in events if isinstance(e, Chunk)]
    assert all(len(c) == 1 for c in chunks)
    assert all(len(col) == len(c) for c in chunks for col in c.columns.values())
    assert rows(events) == ROWS[name]


DATASETS = {
    "ss21_series.xml": [
        DatasetStart(
            0,
            StructureRef(StructureKind.DATAFLOW, "DSM", "MIGR_IMM", "1.0", "TIME_PERIOD"),
            "Replace",
            {"SOURCE": "Border register"},  # not structureRef, action, dataScope, xsi:type
            "line 12",
        )
    ],
    "ss21_flat.xml": [
        DatasetStart(
            0,
            StructureRef(StructureKind.DATASTRUCTURE, "DSM", "DSD_MIGR", "1.0", "AllDimensions"),
            None,
            {},
            "line 12",
        )  # fmt: skip
    ],
    "ss21_delete_series_without_obs.xml": [DatasetStart(0, MIGR, "Delete", {}, "line 12")],
    "ss21_two_datasets.xml": [  # the header's DataSetAction is the default
        DatasetStart(
            0,
            StructureRef(StructureKind.DATAFLOW, "DSM", "MIGR_IMM", "1.0", "TIME_PERIOD"),
            "Append",
            {},
            "line 16",
        ),  # fmt: skip
        DatasetStart(
            1,
            StructureRef(
                StructureKind.PROVISIONAGREEMENT, "DSM", "PA_KZ_EMI", "1.0", "TIME_PERIOD"
            ),
            "Merge",
            {},
            "line 19",
        ),  # fmt: skip
    ],
    "generic21_series.xml": [
        DatasetStart(0, MIGR, "Append", {"SOURCE": "Border register"}, "line 12")
    ],  # fmt: skip
    "ss30_series.xml": [
        DatasetStart(
            0,
            StructureRef(StructureKind.DATAFLOW, "DSM", "MIGR_IMM", "1.0.0", "TIME_PERIOD"),
            "Merge",
            {"UNIT_MULT": "0", "SOURCE": "Border register;Census"},
            "line 12",
        )
    ],
}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_datasets(name: str) -> None:
    events = read(name)
    assert [e for e in events if isinstance(e, DatasetStart)] == DATASETS[name]
    assert isinstance(events[0], MessageStart)
    # every chunk comes after its DatasetStart
    seen: set[int] = set()
    for event in events:
        if isinstance(event, DatasetStart):
            seen.add(event.index)
        elif isinstance(event, Chunk):
            assert event.dataset in seen


def test_message_start() -> None:
    (start,) = [e for e in read("ss21_series.xml") if isinstance(e, MessageStart)]
    assert start == MessageStart(
        "IMM-2024-1",
        "KZ_STAT",
        {"STR1": StructureRef(StructureKind.DATAFLOW, "DSM", "MIGR_IMM", "1.0", "TIME_PERIOD")},
        "sdmx-ml-2.1-structurespecific",
    )


GROUPS = {
    # structure-specific groups cannot be split into key and attributes without the DSD
    "ss21_groups.xml": [
        GroupAttributes(
            0,
            {},
            {
                "REF_AREA": "KZ",
                "CITIZENSHIP": "UZ",
                "TITLE": "Uzbek citizens arriving in Kazakhstan",
            },
            "line 13",
        )  # fmt: skip
    ],
    "generic21_series.xml": [
        GroupAttributes(
            0,
            {"REF_AREA": "KZ", "CITIZENSHIP": "UZ"},
            {"TITLE": "Uzbek citizens arriving in Kazakhstan"},
            "line 16",
        )  # fmt: skip
    ],
}


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_groups(name: str) -> None:
    assert [e for e in read(name) if isinstance(e, GroupAttributes)] == GROUPS[name]


REFUSED = {
    "doctype_external_entity.xml": "DOCTYPE",
    "doctype_billion_laughs.xml": "DOCTYPE",
    "malformed_mismatched_tag.xml": "Malformed XML: Opening and ending tag mismatch",
    "truncated.xml": "Malformed XML",
    "unknown_element.xml": "Unexpected element <Observation> in <Series>; expected one of",
}
POSITIONS = {
    "doctype_external_entity.xml": "line 1",
    "doctype_billion_laughs.xml": "line 1",
    "malformed_mismatched_tag.xml": "line 15, column 13",
    "truncated.xml": "line 16, column 1",
    "unknown_element.xml": "line 14",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused(name: str) -> None:
    with pytest.raises(MessageError, match=REFUSED[name]) as info:
        read(name)
    assert info.value.position == POSITIONS[name]


def test_doctype_refused_after_the_first_64_kb() -> None:
    """A prolog longer than the peeked head still meets lxml's docinfo check, with nothing expanded."""
    body = (
        b'<?xml version="1.0"?>\n<!--' + b"x" * 70_000 + b"-->\n"
        b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
        b'<mes:GenericData xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message">'
        b"<mes:Header><mes:ID>&e;</mes:ID></mes:Header></mes:GenericData>"
    )
    reader = next(r for r in READERS if r.name == "sdmx-ml-2.1-generic")
    with pytest.raises(MessageError, match="DOCTYPE"):
        list(reader.read(io.BytesIO(body)))


def test_utf16_doctype_refused() -> None:
    body = (SAMPLES / "doctype_external_entity.xml").read_text().replace("UTF-8", "UTF-16")
    reader = next(r for r in READERS if r.name == "sdmx-ml-2.1-generic")
    with pytest.raises(MessageError, match="DOCTYPE"):
        list(reader.read(io.BytesIO(body.encode("utf-16"))))


@pytest.mark.parametrize("body", [b"", b"   ", b"not xml at all"])
def test_not_xml(body: bytes) -> None:
    reader = READERS[0]
    with pytest.raises(MessageError, match="Empty|Malformed"):
        list(reader.read(io.BytesIO(body)))


def test_wrong_root_is_refused() -> None:
    body = (SAMPLES / "generic21_flat.xml").read_bytes()
    ss = next(r for r in READERS if r.name == "sdmx-ml-2.1-structurespecific")
    with pytest.raises(MessageError, match="not structure-specific data"):
        list(ss.read(io.BytesIO(body)))


SNIFFED = {
    "ss21_series.xml": "sdmx-ml-2.1-structurespecific",
    "generic21_series.xml": "sdmx-ml-2.1-generic",
    "ss30_series.xml": "sdmx-ml-3.0-structurespecific",
}


@pytest.mark.parametrize("name", sorted(SNIFFED))
def test_sniff(name: str) -> None:
    head = (SAMPLES / name).read_bytes()[:65536]
    assert [r.name for r in READERS if r.sniff(head)] == [SNIFFED[name]]


def test_sniff_ignores_other_xml() -> None:
    head = b'<?xml version="1.0"?><mes:Structure xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"/>'  # noqa: E501
    assert root_element(head) == ("http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message", "Structure")  # fmt: skip
    assert not any(r.sniff(head) for r in READERS)
    assert not any(r.sniff(b"FREQ,REF_AREA\nA,KZ\n") for r in READERS)


def test_reads_a_stream_without_reading_it_whole() -> None:
    """The reader pulls the body in blocks: a stream that refuses read() without a size still works."""

    class Blocks(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            assert size is not None and size > 0, "read the whole body"
            return super().read(size)

    body = (SAMPLES / "ss21_series.xml").read_bytes()
    reader = next(r for r in READERS if r.name == "sdmx-ml-2.1-structurespecific")
    assert rows(list(reader.read(Blocks(body)))) == ROWS["ss21_series.xml"]


REGISTERED = {
    "application/vnd.sdmx.structurespecificdata+xml;version=2.1": "sdmx-ml-2.1-structurespecific",
    "application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1": "sdmx-ml-2.1-structurespecific-ts",  # noqa: E501
    "application/vnd.sdmx.genericdata+xml;version=2.1": "sdmx-ml-2.1-generic",
    "application/vnd.sdmx.generictimeseriesdata+xml;version=2.1": "sdmx-ml-2.1-generic-ts",
    "application/vnd.sdmx.data+xml;version=3.0.0": "sdmx-ml-3.0-structurespecific",
    "application/vnd.sdmx.data+xml; version=3.0": "sdmx-ml-3.0-structurespecific",
}


@pytest.mark.parametrize("media_type", sorted(REGISTERED))
def test_registered_by_media_type(media_type: str) -> None:
    registry = pytest.importorskip("app.readers.registry")
    assert registry.find(media_type, b"").name == REGISTERED[media_type]


@pytest.mark.parametrize("name", sorted(SNIFFED))
def test_registered_by_first_bytes(name: str) -> None:
    registry = pytest.importorskip("app.readers.registry")
    head = (SAMPLES / name).read_bytes()[:65536]
    assert registry.find("application/xml", head).name == SNIFFED[name]


def big_message(series: int, observations: int) -> bytes:
    """Series with some OBS_STATUS (runs break), or one flat list with NaN (the row-by-row path)."""
    head = (SAMPLES / "ss21_flat.xml").read_text().split("<mes:DataSet")[0]
    parts = [head, '<mes:DataSet ss:structureRef="DSD_MIGR">\n']
    status = ' OBS_STATUS="E"'
    for s in range(series):
        if series > 1:
            parts.append(f'<Series FREQ="A" REF_AREA="KZ" CITIZENSHIP="C{s}">\n')
        for o in range(observations):
            if series > 1:
                extra = status if o % 7 == 0 else ""
                parts.append(f'<Obs TIME_PERIOD="{1000 + o}" OBS_VALUE="{o}"{extra}/>\n')
            else:
                value = "NaN" if o % 5 == 0 else str(o)
                parts.append(f'<Obs FREQ="A" TIME_PERIOD="{1000 + o}" OBS_VALUE="{value}"/>\n')
        if series > 1:
            parts.append("</Series>\n")
    parts.append("</mes:DataSet></mes:StructureSpecificData>\n")
    return "".join(parts).encode()


@pytest.mark.parametrize(("series", "observations"), [(1, 30_000), (30, 1_000)])
def test_memory_stays_flat(series: int, observations: int) -> None:
    """The parsed tree never holds more than a few runs of observations, however long the message."""
    from app.readers.sdmx_ml_ss import StructureSpecific21

    class Watched(StructureSpecific21):
        def root(self, elem):  # type: ignore[no-untyped-def]
            super().root(elem)
            self.tree = elem

    parser = Watched(1_000)
    sizes, total = [], 0
    for event in parser.run(io.BytesIO(big_message(series, observations))):
        if isinstance(event, Chunk):
            total += len(event)
            sizes.append(sum(1 for _ in parser.tree.iter()))
    assert total == 30_000
    assert max(sizes) < 3_000


def test_positions_are_line_numbers_formatted_when_asked() -> None:
    (chunk,) = [e for e in read("ss21_missing_values.xml") if isinstance(e, Chunk)]
    assert chunk.positions.items == [14, 15, 16]  # type: ignore[attr-defined]
    assert chunk.positions[0] == "line 14" and list(chunk.positions) == [
        "line 14",
        "line 15",
        "line 16",
    ]


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 1_000])
def test_held_observations_keep_order_and_chunk_sizes(chunk_size: int) -> None:
    """Observations are read in batches; mixed plain and NaN rows keep their order and lines."""
    body = big_message(1, 50)  # flat, every fifth value NaN
    reader = next(r for r in READERS if r.name == "sdmx-ml-2.1-structurespecific")
    events = list(reader.read(io.BytesIO(body), chunk_size=chunk_size))
    chunks = [e for e in events if isinstance(e, Chunk)]
    assert [len(c) for c in chunks[:-1]] == [chunk_size] * (len(chunks) - 1)
    got = [(p, v.get("OBS_VALUE")) for p, v in rows(events)]
    assert got == [(f"line {13 + o}", None if o % 5 == 0 else str(o)) for o in range(50)]


# Generic data has events for series, groups and observations only; the other elements are
# checked as they are read or dropped. Each case puts an unknown element somewhere: the error
# must be the one a parse with every event gives.
UNKNOWN_PLACES = [
    ('<gen:ObsValue value="1200"/>', '<gen:ObsValue value="1200"/><gen:Bad/>'),  # in an Obs
    ('<gen:Value id="OBS_STATUS" value="A"/>', '<gen:Value id="OBS_STATUS" value="A"/><Bad/>'),
    (
        '<gen:ObsDimension value="2023"/>',
        '<gen:ObsDimension value="2023"><x:Bad xmlns:x="u"/></gen:ObsDimension>',
    ),
    ("</gen:Obs>\n      <gen:Obs>", "</gen:Obs><gen:Bad/><gen:Obs>"),  # between observations
    ('<gen:Value id="FREQ" value="A"/>', '<gen:Value id="FREQ" value="A"/><gen:Bad/>'),  # SeriesKey
    ("</gen:Group>", "</gen:Group><gen:Bad/>"),  # in the DataSet
    ("</gen:Attributes>\n    <gen:Group", "</gen:Attributes><Bad>text</Bad><gen:Group"),
    ("<gen:GroupKey>", "<gen:GroupKey><gen:Bad/>"),  # in a group
    ("</mes:DataSet>", "</mes:DataSet><Bad/>"),  # after the data
]


@pytest.mark.parametrize(("old", "new"), UNKNOWN_PLACES)
def test_generic_unknown_elements_are_refused_as_with_every_event(old: str, new: str) -> None:
    from app.readers.sdmx_ml_generic import Generic21

    class EveryEvent(Generic21):
        event_tags = None

    text = (SAMPLES / "generic21_series.xml").read_text()
    assert old in text
    body = text.replace(old, new, 1).encode()
    with pytest.raises(MessageError) as expected:
        list(EveryEvent(10).run(io.BytesIO(body)))
    with pytest.raises(MessageError) as got:
        list(Generic21(10).run(io.BytesIO(body)))
    assert (got.value.message, got.value.position) == (
        expected.value.message,
        expected.value.position,
    )
    assert "Bad" in got.value.message


def test_generic_big_unknown_element_is_refused_before_it_is_read() -> None:
    """An unknown element without events is found among the open elements after each block:
    the parse stops long before the end of the body (memory stays bounded)."""
    from app.readers import sdmx_ml_core

    text = (SAMPLES / "generic21_series.xml").read_text()
    junk = "<gen:Bad>" + "<x/>" * 500_000 + "</gen:Bad>"
    body = text.replace("</gen:Group>", "</gen:Group>" + junk, 1).encode()

    class Counted(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            self.total = getattr(self, "total", 0) + len(data)
            return data

    stream = Counted(body)
    reader = next(r for r in READERS if r.name == "sdmx-ml-2.1-generic")
    with pytest.raises(MessageError, match="Unexpected element <Bad"):
        list(reader.read(stream))
    assert stream.total < 4 * sdmx_ml_core.FEED_SIZE < len(body)


@pytest.mark.parametrize("name", ["sdmx-ml-2.1-structurespecific", "sdmx-ml-2.1-generic"])
def test_a_prolog_longer_than_the_head_reads_the_same(name: str) -> None:
    """Past 64 kB of prolog the root is not found in the head: every element then has events
    (no filter), with the same rows and, after the comment's line, the same positions."""
    sample = "ss21_missing_values.xml" if "structure" in name else "generic21_series.xml"
    text = (SAMPLES / sample).read_text()
    declaration, rest = text.split("\n", 1)
    long = f"{declaration}\n<!--{'x' * 70_000}-->\n{rest}".encode()
    reader = next(r for r in READERS if r.name == name)
    plain, shifted = (rows(list(reader.read(io.BytesIO(b)))) for b in (text.encode(), long))
    assert [v for _, v in shifted] == [v for _, v in plain]
    assert [int(p.split()[1]) - 1 for p, _ in shifted] == [int(p.split()[1]) for p, _ in plain]


def test_memory_stays_flat_without_the_filter() -> None:
    """Observations found by their end events (long prolog) are also read and dropped as they go."""
    from app.readers.sdmx_ml_ss import StructureSpecific21

    class Watched(StructureSpecific21):
        def root(self, elem):  # type: ignore[no-untyped-def]
            super().root(elem)
            self.tree = elem

    declaration, rest = big_message(1, 30_000).split(b"\n", 1)
    body = declaration + b"\n<!--" + b"x" * 70_000 + b"-->\n" + rest
    parser = Watched(1_000)
    sizes, total = [], 0
    for event in parser.run(io.BytesIO(body)):
        if isinstance(event, Chunk):
            total += len(event)
            sizes.append(sum(1 for _ in parser.tree.iter()))
    assert total == 30_000
    assert max(sizes) < 3_000


SS_UNKNOWN_PLACES = [
    ("ss21_series.xml", '<Obs TIME_PERIOD="2022"', '<Bad/><Obs TIME_PERIOD="2022"'),  # in a Series
    ("ss21_series.xml", 'OBS_STATUS="A"/>', 'OBS_STATUS="A"><Bad/></Obs>'),  # in an Obs
    (
        "ss21_series.xml",
        "</Series>",
        "</Series><x:Bad xmlns:x='u'><Obs/></x:Bad>",
    ),  # in the DataSet
    ("ss21_flat.xml", 'OBS_VALUE="1200"/>', 'OBS_VALUE="1200"/><Bad>text</Bad>'),  # flat
    ("ss21_groups.xml", 'Kazakhstan"/>', 'Kazakhstan"><Bad/></Group>'),  # in a group
    ("ss30_series.xml", "<Value>late</Value>", "<Value>late<Bad/></Value>"),  # in a Comp's Value
    ("ss30_series.xml", "</mes:DataSet>", "</mes:DataSet><Bad/>"),  # after the data
]


@pytest.mark.parametrize(("name", "old", "new"), SS_UNKNOWN_PLACES)
def test_ss_unknown_elements_are_refused_as_with_every_event(name: str, old: str, new: str) -> None:
    """Observations, Values and unknown elements have no events: the error must still be the
    one a parse with every event gives."""
    text = (SAMPLES / name).read_text()
    assert old in text
    body = text.replace(old, new, 1).encode()
    from app.readers.sdmx_ml_ss import StructureSpecific21, StructureSpecific30

    parser_class = StructureSpecific30 if name.startswith("ss30") else StructureSpecific21

    class EveryEvent(parser_class):  # type: ignore[misc, valid-type]
        def __init__(self, chunk_size: int) -> None:
            super().__init__(chunk_size)
            self.event_tags = None

    with pytest.raises(MessageError) as expected:
        list(EveryEvent(10).run(io.BytesIO(body)))
    with pytest.raises(MessageError) as got:
        list(parser_class(10).run(io.BytesIO(body)))
    assert (got.value.message, got.value.position) == (
        expected.value.message,
        expected.value.position,
    )
    assert "Bad" in got.value.message
