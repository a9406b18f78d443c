"""One dataset, every wire format DSM reads: the same stored observations whatever the format.

The samples in `samples/data/work_permits_<format>[_update|_delete].<ext>` hold the same small
dataset for DSM:DF_WORK_PERMITS (Kazakhstan, three series x two years, series and observation
attributes, a dataset-level COMMENT_DSET), written by hand in each format; `_update` changes one
observation and adds one, `_delete` deletes one observation and one whole series (by its key where
the format can send a series without observations; observation by observation in the flat
GenericData, which has no series). SDMX-CSV 1.0 has no action, so it cannot delete.
"""

from pathlib import Path

import pytest

from app.storage import data_queries
from app.storage import observations as store

SAMPLES = Path(__file__).parent / "samples" / "data"
FLOW = ("DSM", "DF_WORK_PERMITS", "1.0")

# name -> (file suffix, media type sent)
FORMATS = {
    "ss21": ("xml", "application/vnd.sdmx.structurespecificdata+xml;version=2.1"),
    "ss21_ts": ("xml", "application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1"),
    "generic21": ("xml", "application/vnd.sdmx.genericdata+xml;version=2.1"),
    "generic21_flat": ("xml", "application/vnd.sdmx.genericdata+xml;version=2.1"),
    "generic21_ts": ("xml", "application/vnd.sdmx.generictimeseriesdata+xml;version=2.1"),
    "ss30": ("xml", "application/vnd.sdmx.data+xml;version=3.0.0"),
    "csv10": ("csv", "application/vnd.sdmx.data+csv;version=1.0.0"),
    "csv20": ("csv", "application/vnd.sdmx.data+csv;version=2.0.0"),
    "csv21": ("csv", "application/vnd.sdmx.data+csv;version=2.1.0"),
    "json10": ("json", "application/vnd.sdmx.data+json;version=1.0.0"),
    "json20": ("json", "application/vnd.sdmx.data+json;version=2.0.0"),
}
READER = {  # the reader each sample must be read by (reported as the submission's format)
    "ss21": "sdmx-ml-2.1-structurespecific",
    "ss21_ts": "sdmx-ml-2.1-structurespecific-ts",
    "generic21": "sdmx-ml-2.1-generic",
    "generic21_flat": "sdmx-ml-2.1-generic",
    "generic21_ts": "sdmx-ml-2.1-generic-ts",
    "ss30": "sdmx-ml-3.0-structurespecific",
}

# (FREQ, REF_AREA, CITIZENSHIP, SEX, PERMIT_TYPE, PERMIT_STATUS, DATA_SOURCE, TIME_PERIOD,
#  OBS_VALUE, OBS_STATUS, CONF_STATUS, COMMENT_OBS,
#  UNIT_MEASURE, UNIT_MULT, DECIMALS, NATIONAL_DEFINITION), in key order
QUOTA = "Permits issued under the quota"
EXPECTED = [
    ("A", "KAZ", "CHN", "M", "HQS", "APPLIED", "MIG", "2022", "95.5", "E", None, None)
    + ("PS", "0", "1", None),
    ("A", "KAZ", "CHN", "M", "HQS", "APPLIED", "MIG", "2023", "120", "A", None, None)
    + ("PS", "0", "1", None),
    ("A", "KAZ", "UZB", "F", "WP", "GRANTED", "MIG", "2022", "310", "A", None, None)
    + ("PS", "0", None, None),
    ("A", "KAZ", "UZB", "F", "WP", "GRANTED", "MIG", "2023", "402", "A", "F", None)
    + ("PS", "0", None, None),
    ("A", "KAZ", "UZB", "M", "WP", "GRANTED", "MIG", "2022", "1200", "A", None, None)
    + ("PS", "0", None, QUOTA),
    ("A", "KAZ", "UZB", "M", "WP", "GRANTED", "MIG", "2023", "1350", "P", None)
    + ("Preliminary figure", "PS", "0", None, QUOTA),
]
COMMENT_DSET = "Ministry of Labour, administrative records"
# after the update: 2023 of UZB/M changed (value, OBS_STATUS; COMMENT_OBS kept), 2024 added
UPDATED = [
    *EXPECTED[:5],
    EXPECTED[5][:8] + ("1400", "A", None, "Preliminary figure", "PS", "0", None, QUOTA),
    EXPECTED[5][:7] + ("2024", "1500", "A", None, None, "PS", "0", None, QUOTA),
]
COUNTS_BASE = {"series": 3, "inserted": 6, "updated": 0, "deleted": 0, "unchanged": 0}
COUNTS_UPDATE = {"series": 1, "inserted": 1, "updated": 1, "deleted": 0, "unchanged": 0}
DELETABLE = [name for name in FORMATS if name != "csv10"]


def sample(name: str, case: str = "") -> tuple[bytes, str]:
    suffix, media = FORMATS[name]
    return (SAMPLES / f"work_permits_{name}{case}.{suffix}").read_bytes(), media


def post(client, token: str, name: str, case: str = "", **params):
    body, media = sample(name, case)
    headers = {"authorization": f"Bearer {token}", "content-type": media}
    return client.post("/rest/v2/data/", content=body, headers=headers, params=params)


def snapshot(client) -> list[tuple]:
    flow = client.app.state.structures.flows()[FLOW]
    tables = store.tables_for(flow)
    with client.app.state.engine.connect() as conn:
        if not store.exists(conn, tables):
            return []
        return store.snapshot(conn, tables, flow.ref)


def dataset_level(client) -> dict[str, str]:
    with client.app.state.engine.connect() as conn:
        return data_queries.dataset_attribute_values(conn, "DSM:DF_WORK_PERMITS(1.0)")


def test_samples_are_complete():
    names = {p.name for p in SAMPLES.glob("work_permits_*")}
    expected = {f"work_permits_{n}.{s}" for n, (s, _) in FORMATS.items()}
    expected |= {f"work_permits_{n}_update.{s}" for n, (s, _) in FORMATS.items()}
    expected |= {f"work_permits_{n}_delete.{FORMATS[n][0]}" for n in DELETABLE}
    assert names == expected


@pytest.mark.parametrize("name", FORMATS)
def test_format_stores_the_dataset_then_updates_and_deletes(client, admin_token, name):
    first = post(client, admin_token, name)
    assert first.status_code == 201, first.text
    report = first.json()
    assert report["counts"] == COUNTS_BASE
    assert report["dataflow"] == "DSM:DF_WORK_PERMITS(1.0)"
    if name in READER:
        assert report["format"] == READER[name]
    assert snapshot(client) == EXPECTED
    assert dataset_level(client) == {"COMMENT_DSET": COMMENT_DSET}

    update = post(client, admin_token, name, "_update")
    assert update.status_code == 201, update.text
    assert update.json()["counts"] == COUNTS_UPDATE
    assert snapshot(client) == UPDATED

    if name not in DELETABLE:
        return
    delete = post(client, admin_token, name, "_delete")
    assert delete.status_code == 201, delete.text
    assert delete.json()["counts"]["deleted"] == 3
    assert delete.json()["counts"]["inserted"] == delete.json()["counts"]["updated"] == 0
    assert snapshot(client) == UPDATED[3:]  # UZB/F 2023 and UZB/M are left


@pytest.mark.parametrize("first", ["ss21", "csv10"])
def test_every_other_format_resends_the_same_observations(client, admin_token, first):
    assert post(client, admin_token, first).status_code == 201
    for name in FORMATS:
        again = post(client, admin_token, name)
        assert again.status_code == 200, (name, again.text)
        assert again.json()["counts"] == {**COUNTS_BASE, "inserted": 0, "unchanged": 6}, name
    assert snapshot(client) == EXPECTED
    assert dataset_level(client) == {"COMMENT_DSET": COMMENT_DSET}


SECOND_FLOW = SAMPLES / "second_dataflow_work_permits.xml"
DSD_ONLY = SAMPLES / "dsd_only_generic21.xml"


def test_message_naming_only_the_dsd_needs_the_dataflow(client, admin_token):
    """With two dataflows on DSD_WORK_PERMITS, a message naming the DSD is ambiguous."""
    auth = {"authorization": f"Bearer {admin_token}"}
    added = client.post(
        "/rest/v2/structure/",
        content=SECOND_FLOW.read_bytes(),
        headers={**auth, "content-type": "application/xml"},
    )
    assert added.status_code == 201, added.text
    body = DSD_ONLY.read_bytes()
    without = client.post("/rest/v2/data/", content=body, headers=auth)
    assert without.status_code == 404
    (finding,) = without.json()["findings"]
    assert finding["code"] == "unknown-structure"
    assert "DSM:DF_WORK_PERMITS(1.0)" in finding["message"] and "?dataflow=" in finding["message"]
    assert snapshot(client) == []
    params = {"dataflow": "DSM:DF_WORK_PERMITS(1.0)"}
    accepted = client.post("/rest/v2/data/", content=body, headers=auth, params=params)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["dataflow"] == "DSM:DF_WORK_PERMITS(1.0)"
    assert snapshot(client) == EXPECTED
