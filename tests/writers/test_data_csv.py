"""SDMX-CSV 1.0/2.0 data writers: read back by pysdmx and by DSM's own reader, observation by
observation, for every option; deletions; detail; memory stays flat."""

import io
import tracemalloc

import pytest
from pysdmx.io import read_sdmx

from app.formats.media import MediaType
from app.model.response import DatasetBlock
from app.writers.data import write
from app.writers.data._rows import normalized_period
from app.writers.data.sdmx_csv import write_csv

from .data_cases import (
    COMMENT_DSET,
    FLOW,
    KEY,
    QUOTA,
    ROWS,
    FakeLabels,
    load_flows,
    many_rows,
    observations,
    read_back,
    response,
)

MEDIA = {"1.0": MediaType.DATA_CSV_10, "2.0": MediaType.DATA_CSV_20}
CODED_ATTRIBUTES = ("OBS_STATUS", "CONF_STATUS", "UNIT_MEASURE", "UNIT_MULT", "DECIMALS")


@pytest.fixture(scope="module")
def flow():
    return load_flows()[FLOW]


def body_of(flow, version: str, **options) -> bytes:
    return b"".join(write(MEDIA[version], response(flow, labels=FakeLabels(), **options)))


def expected(flow, time_format: str = "original") -> dict[tuple, dict]:
    out = {}
    for key, values in observations(ROWS, flow).items():
        if time_format == "normalized":
            key = (*key[:-1], normalized_period(key[-1]))
        out[key] = {**values, "COMMENT_DSET": COMMENT_DSET}
    return out


# (version, labels, time format, keys)
OPTIONS = [
    ("1.0", "id", "original", "none"),
    ("1.0", "both", "original", "none"),
    ("1.0", "name", "normalized", "none"),
    ("2.0", "id", "original", "none"),
    ("2.0", "both", "normalized", "none"),
    ("2.0", "name", "original", "none"),
    ("2.0", "id", "original", "obs"),
    ("2.0", "id", "original", "series"),
    ("2.0", "name", "normalized", "both"),
]


@pytest.mark.parametrize(("version", "labels", "time_format", "keys"), OPTIONS)
def test_dsm_reader_reads_back_every_observation(flow, version, labels, time_format, keys):
    body = body_of(flow, version, csv_labels=labels, csv_time_format=time_format, csv_keys=keys)
    [(start, got)] = read_back(body, MEDIA[version])
    assert (start.structure.agency, start.structure.id, start.structure.version) == FLOW
    assert got == expected(flow, time_format)


@pytest.mark.parametrize(("version", "labels", "time_format", "keys"), OPTIONS)
def test_pysdmx_reads_back_every_observation(flow, version, labels, time_format, keys):
    body = body_of(flow, version, csv_labels=labels, csv_time_format=time_format, csv_keys=keys)
    [dataset] = read_sdmx(body.decode(), validate=False).data
    assert dataset.short_urn == "Dataflow=DSM:DF_WORK_PERMITS(1.0)"
    frame = dataset.data.fillna("")
    assert "SERIES_KEY" not in frame.columns and "OBS_KEY" not in frame.columns
    # pysdmx cuts every cell of a labelled column at ": ", free text too: compare those only
    # where the writer did not label (labels=id or name)
    free_text = ("COMMENT_OBS", "NATIONAL_DEFINITION", "COMMENT_DSET")
    labelled = labels == "both" or (version == "1.0" and labels == "name")  # 1.0: name = both
    compared = ("OBS_VALUE", *CODED_ATTRIBUTES) + (() if labelled else free_text)
    got = {
        tuple(record[k] for k in KEY): {c: record[c] for c in compared}
        for record in frame.to_dict("records")
    }
    want = {
        key: {c: values.get(c) or "" for c in compared}
        for key, values in expected(flow, time_format).items()
    }
    assert got == want


def test_header_and_cells_follow_the_options(flow):
    lines = body_of(flow, "2.0", csv_labels="name", csv_keys="both").decode().split("\r\n")
    assert lines[0].startswith(
        "STRUCTURE,STRUCTURE_ID,STRUCTURE_NAME,ACTION,SERIES_KEY,OBS_KEY,FREQ,Name of FREQ,"
    )
    assert lines[1].startswith(
        "dataflow,DSM:DF_WORK_PERMITS(1.0),,I,A.KAZ.CHN.M.HQS.APPLIED.MIG,"
        "A.KAZ.CHN.M.HQS.APPLIED.MIG.2022,A,A name,KAZ,,CHN,CHN name,"
    )
    both = body_of(flow, "1.0", csv_labels="both").decode().split("\r\n")
    assert both[0].startswith("DATAFLOW,FREQ: Name of FREQ,")
    assert ",OBS_VALUE,OBS_STATUS: Name of OBS_STATUS," in both[0]  # 1.0: OBS_VALUE plain
    assert both[1].startswith("DSM:DF_WORK_PERMITS(1.0),A: A name,KAZ,CHN: CHN name,")
    plain = body_of(flow, "1.0").decode()
    assert f'"{QUOTA}"' in plain and '"Preliminary ""first"" figure"' in plain
    assert "None" not in plain and ",,," in plain  # missing values are empty cells


def test_deletions_carry_action_d_in_2_0_and_fail_in_1_0(flow):
    key_only = [r[:8] + (None,) * 8 for r in ROWS[:2]] + [ROWS[4][:7] + (None,) * 9]
    blocks = [DatasetBlock(iter(ROWS[2:4])), DatasetBlock(iter(key_only), action="Delete")]
    body = b"".join(write_csv(response(flow, blocks), "2.0"))
    (start_i, kept), (start_d, deleted) = read_back(body, MEDIA["2.0"])
    assert (start_i.action, start_d.action) == ("I", "D")
    assert kept == observations(ROWS[2:4], flow)
    assert deleted == {r[:8]: {} for r in key_only[:2]} | {ROWS[4][:7] + (None,): {}}
    with pytest.raises(ValueError, match="1.0 cannot express deletions"):
        b"".join(write_csv(response(flow, blocks), "1.0"))


def test_deletions_read_by_pysdmx(flow):
    key_only = [r[:8] + (None,) * 8 for r in ROWS[:2]]
    body = b"".join(write_csv(response(flow, [DatasetBlock(key_only, action="Delete")]), "2.0"))
    [dataset] = read_sdmx(body.decode(), validate=False).data
    assert dataset.action.value == "Delete"
    assert len(dataset.data) == 2


@pytest.mark.parametrize(
    ("detail", "present", "absent"),
    [
        ("serieskeysonly", (), ("OBS_VALUE", "UNIT_MEASURE")),
        ("nodata", ("UNIT_MEASURE",), ("OBS_VALUE", "OBS_STATUS")),
        ("dataonly", ("OBS_VALUE",), ("OBS_STATUS", "UNIT_MEASURE", "COMMENT_DSET")),
    ],
)
def test_detail(flow, detail, present, absent):
    body = b"".join(write_csv(response(flow, detail=detail), "2.0"))
    [(_, got)] = read_back(body, MEDIA["2.0"])
    if detail == "dataonly":
        assert len(got) == len(ROWS)
    else:  # one row per series, without the observation dimension
        assert sorted(got) == sorted({r[:7] + (None,) for r in ROWS})
    names = {name for values in got.values() for name in values}
    assert set(present) <= names and not names & set(absent)


def test_cross_sectional_rows_are_written_in_dsd_column_order(flow):
    # dimension at observation CITIZENSHIP: rows carry it last, the CSV keeps DSD order
    order = (*[d for d in flow.dimensions if d != "CITIZENSHIP"], "TIME_PERIOD", "CITIZENSHIP")
    move = [KEY.index(c) for c in order]
    rows = sorted(tuple(r[i] for i in move) + r[8:] for r in ROWS)
    r = response(flow, [DatasetBlock(rows)], at="CITIZENSHIP")
    r.columns = (*order, *r.columns[8:])
    r.series_dimensions = order[:-1]
    body = b"".join(write_csv(r, "2.0"))
    assert body.split(b"\r\n")[0].startswith(
        b"STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,"
    )
    [(_, got)] = read_back(body, MEDIA["2.0"])
    assert got == {
        k: {n: v for n, v in vals.items() if n != "COMMENT_DSET"}
        for k, vals in expected(flow).items()
    }


@pytest.mark.parametrize(
    ("period", "normalized"),
    [
        ("2014", "2014-01-01"),
        ("2014-A1", "2014-01-01"),
        ("2014-S2", "2014-07-01"),
        ("2014-T3", "2014-09-01"),
        ("2014-Q2", "2014-04-01"),
        ("2014-02", "2014-02-01"),
        ("2014-M11", "2014-11-01"),
        ("2015-W01", "2014-12-29"),
        ("2016-D060", "2016-02-29"),
        ("2014-03-05", "2014-03-05"),
        ("2014-03-05T10:00:00", "2014-03-05T10:00:00"),
        ("2014-01-01/P3M", "2014-01-01"),
    ],
)
def test_normalized_periods(period, normalized):
    assert normalized_period(period) == normalized


def test_memory_stays_flat(flow):
    version = "2.0"  # 1.0 shares the code path; tracemalloc makes each run slow
    n = 500_000
    r = response(flow, [DatasetBlock(many_rows(flow, n))])
    tracemalloc.start()
    try:
        size = chunks = 0
        for chunk in write_csv(r, version):
            size += len(chunk)
            chunks += 1
            assert len(chunk) < 200_000
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert chunks > 100 and size > 30_000_000
    assert peak < 20_000_000, peak


def test_chunks_are_about_64_kb(flow):
    r = response(flow, [DatasetBlock(many_rows(flow, 20_000))])
    sizes = [len(c) for c in write_csv(r, "2.0")]
    assert all(64 * 1024 <= s < 66 * 1024 for s in sizes[:-1])
    assert io.BytesIO(b"".join(sizes and write_csv(response(flow), "2.0"))).read(9) == b"STRUCTURE"
