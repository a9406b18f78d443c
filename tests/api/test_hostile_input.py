"""Hostile and broken data messages over HTTP, on both databases: entity tricks, deep nesting, huge
text, gzip bombs, oversized, truncated and mis-encoded bodies, ragged CSV, another country's data.

Every case is posted to a server that already holds data, and `_refused` checks the same things each
time: the status (400 malformed, with a position; 403 scope; 413 too large; 422 invalid), a JSON body
valid against docs/submission-report.schema.json, observation tables unchanged (current snapshot and
the row count including history), and a rejected entry with the same findings in the submission
history. Where memory matters, the peak of traced Python allocations (tracemalloc) and the growth of
the process's RSS high-water mark (ru_maxrss, which also sees libxml2) are measured around the request
and held to generous bounds; there are no timing assertions. Big bodies are generated here, never
committed; gzip bombs are built from repeated gzip members so they cost milliseconds to make.
"""

import gzip
import json
import re
import resource
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.main import create_app
from app.services.auth import add_user, create_token
from app.settings import Settings
from app.storage import observations as store

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "submission-report.schema.json").read_text()
)
FLOW = ("DSM", "DF_FOREIGN_POP", "1.0")
MB = 1024 * 1024
CAPPED_BODY = 4 * MB  # the capped server's max_body_bytes
CAPPED_EXPANDED = 10 * MB  # and its max_expanded_bytes
TRACED_BOUND = 64 * MB  # peak traced Python memory a hostile request may add
RSS_BOUND = 256 * MB  # growth of the process's RSS high-water mark
REPORT_BOUND = 64 * 1024  # a report should never echo a hostile value in full

XML = "application/xml"
SS21 = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
CSV20 = "application/vnd.sdmx.data+csv;version=2.0.0"
HEADER = (
    "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
    "TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE"
)
ROW = "dataflow,DSM:DF_FOREIGN_POP(1.0),I,"
SEED = [
    "A,KAZ,UZB,F,_T,NSO,2022,1200,A,PS",
    "A,KAZ,UZB,F,_T,NSO,2023,1350,A,PS",
    "A,KAZ,RUS,_T,_T,NSO,2023,41000,A,PS",
]
POSITION = re.compile(r"^line \d+(, column \d+)?$")
PASSWD_LINE = re.compile(r"root:[^:\n]*:0:0:")


def csv(*rows: str, header: str = HEADER) -> bytes:
    return "".join(f"{line}\n" for line in [header, *(ROW + r for r in rows)]).encode()


def sdmx_ml(
    series: str = '<Obs TIME_PERIOD="2021" OBS_VALUE="5" OBS_STATUS="A"/>',
    *,
    area: str = "KAZ",
    prolog: str = "",
    message_id: str = "H1",
    sender: str = '<mes:Sender id="KAZ_STAT"/>',
    encoding: str = "UTF-8",
) -> str:
    """A small SDMX-ML 2.1 structure-specific message for DF_FOREIGN_POP (one series)."""
    return f"""<?xml version="1.0" encoding="{encoding}"?>
{prolog}<mes:StructureSpecificData xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" xmlns:ss="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific" xmlns:com="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ns1="urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=DSM:DF_FOREIGN_POP(1.0):ObsLevelDim:TIME_PERIOD">
  <mes:Header>
    <mes:ID>{message_id}</mes:ID><mes:Test>false</mes:Test>
    <mes:Prepared>2024-05-01T10:00:00</mes:Prepared>
    {sender}
    <mes:Structure structureID="STR1" dimensionAtObservation="TIME_PERIOD">
      <com:StructureUsage><Ref agencyID="DSM" id="DF_FOREIGN_POP" version="1.0"/></com:StructureUsage>
    </mes:Structure>
  </mes:Header>
  <mes:DataSet ss:structureRef="STR1" xsi:type="ns1:DataSetType">
    <Series FREQ="A" REF_AREA="{area}" CITIZENSHIP="UZB" SEX="F" AGE="_T" DATA_SOURCE="NSO" UNIT_MEASURE="PS">{series}</Series>
  </mes:DataSet>
</mes:StructureSpecificData>
"""  # noqa: E501


def gzip_bomb(head: bytes, unit: bytes, total: int = 1024 * MB, tail: bytes = b"") -> bytes:
    """`head`, then `unit` repeated to `total` bytes, then `tail`, gzipped: one gzip member per
    16 MiB block, compressed once and repeated (a gzip stream may hold many members)."""
    block = unit * (16 * MB // len(unit))
    member = gzip.compress(block, compresslevel=9)
    return (
        gzip.compress(head)
        + member * (total // len(block))
        + (gzip.compress(tail) if tail else b"")
    )


# --- the server under attack --------------------------------------------------------------------


@dataclass
class Server:
    client: TestClient
    admin: str
    provider: str  # a KAZ_STAT provider's token

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {token or self.admin}"}

    def state(self) -> tuple[list[tuple], int]:
        """The current observations and the row count of the table including history."""
        flow = self.client.app.state.structures.flows()[FLOW]
        tables = store.tables_for(flow)
        with self.client.app.state.engine.connect() as conn:
            if not store.exists(conn, tables):
                return [], 0
            rows = conn.execute(select(func.count()).select_from(tables.obs)).scalar_one()
            return store.snapshot(conn, tables, flow.ref, None), rows


def _server(settings: Settings, seed: bool = True) -> Iterator[Server]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        engine, secret = client.app.state.engine, client.app.state.secret
        add_user(engine, "admin", "admin")
        add_user(engine, "kz-stat", "provider", "KAZ_STAT")
        server = Server(
            client, create_token(engine, secret, "admin"), create_token(engine, secret, "kz-stat")
        )
        if seed:
            seeded = client.post(
                "/rest/v2/data/",
                content=csv(*SEED),
                headers={**server.headers(), "content-type": CSV20},
            )
            assert seeded.status_code == 201, seeded.text
            assert len(server.state()[0]) == len(SEED)
        yield server


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    """The default limits, seeded with a few observations."""
    yield from _server(settings)


@pytest.fixture
def capped(settings: Settings) -> Iterator[Server]:
    """Small limits: 4 MiB bodies, 10 MiB once expanded."""
    small = settings.model_copy(
        update={"max_body_bytes": CAPPED_BODY, "max_expanded_bytes": CAPPED_EXPANDED}
    )
    yield from _server(small)


# --- the one check --------------------------------------------------------------------------------


@dataclass
class Attempt:
    report: dict
    text: str
    traced_peak: int  # bytes
    rss_growth: int  # bytes


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _refused(
    server: Server,
    body: bytes,
    media: str,
    status: int,
    code: str,
    *,
    token: str | None = None,
    position: bool = True,
    extra: dict[str, str] | None = None,
) -> Attempt:
    """Post `body`; check the status, the report, that nothing changed and that the history has it."""
    before = server.state()
    headers = {**server.headers(token), "content-type": media, **(extra or {})}
    tracing = tracemalloc.is_tracing()
    if tracing:
        tracemalloc.reset_peak()
    else:
        tracemalloc.start()
    rss = _maxrss()
    try:
        response = server.client.post("/rest/v2/data/", content=body, headers=headers)
        traced_peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not tracing:
            tracemalloc.stop()
    rss_growth = _maxrss() - rss
    text = response.text
    print(
        f"\n[hostile] {status} {code}: got {response.status_code}, traced peak "
        f"{traced_peak / MB:.1f} MiB, RSS high-water +{rss_growth / MB:.1f} MiB, "
        f"response {len(response.content)} bytes"
    )
    assert response.status_code == status, text[:2000]
    assert response.headers["content-type"].startswith("application/json"), text[:2000]
    report = response.json()
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert report["status"] == "rejected"
    assert set(report["counts"].values()) == {0}
    matching = [f for f in report["findings"] if f["code"] == code]
    assert matching, report["findings"]
    assert all(f["severity"] == "error" for f in matching)
    if position:
        assert any(POSITION.match(f["location"].get("position", "")) for f in matching), matching
    assert server.state() == before, "a refused message changed the observation tables"
    listing = server.client.get("/api/submissions", headers=server.headers()).json()
    entry = next(s for s in listing if s["id"] == report["id"])
    assert entry["status"] == "rejected"
    assert entry["principal"] == ("kz-stat" if token == server.provider else "admin")
    stored = server.client.get(f"/api/submissions/{report['id']}", headers=server.headers())
    assert stored.json()["status"] == "rejected"
    assert stored.json()["report"]["findings"] == report["findings"]
    return Attempt(report, text, traced_peak, rss_growth)


def _bounded(attempt: Attempt, traced: int = TRACED_BOUND) -> None:
    assert attempt.traced_peak < traced, f"traced peak {attempt.traced_peak / MB:.1f} MiB"
    assert attempt.rss_growth < RSS_BOUND, f"RSS high-water +{attempt.rss_growth / MB:.1f} MiB"


# --- entities -------------------------------------------------------------------------------------

XXE = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
EXTERNAL_ENTITY = {
    # a DOCTYPE in the prolog, the entity used in the message id
    "prolog": (sdmx_ml(prolog=XXE, message_id="&e;").encode(), XML),
    # after a 70 kB comment: past the 64 kB head the byte check reads; the reader is named by type
    "after-long-comment": (
        sdmx_ml(prolog=f"<!--{'x' * 70_000}-->\n{XXE}", message_id="&e;").encode(),
        SS21,
    ),
    "utf-16": (sdmx_ml(prolog=XXE, message_id="&e;", encoding="UTF-16").encode("utf-16"), SS21),
    "parameter-entity": (
        sdmx_ml(prolog='<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>\n').encode(),
        SS21,
    ),
    "in-attribute": (
        sdmx_ml('<Obs TIME_PERIOD="2021" OBS_VALUE="5" OBS_STATUS="&e;"/>', prolog=XXE).encode(),
        XML,
    ),
}


@pytest.mark.parametrize("case", EXTERNAL_ENTITY)
def test_external_entity_is_never_read(server, case):
    body, media = EXTERNAL_ENTITY[case]
    attempt = _refused(server, body, media, 400, "malformed-message")
    assert not PASSWD_LINE.search(attempt.text)
    assert "DOCTYPE" in attempt.report["findings"][0]["message"]


def test_billion_laughs(server):
    entities = "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )  # lol9 expands to 10^9 "lol"s
    prolog = f'<!DOCTYPE lolz [<!ENTITY lol0 "lol">{entities}]>\n'
    body = sdmx_ml(prolog=prolog, message_id="&lol9;").encode()
    attempt = _refused(server, body, XML, 400, "malformed-message")
    _bounded(attempt, traced=16 * MB)
    assert "lollollol" not in attempt.text


# --- nesting and size -----------------------------------------------------------------------------

DEPTH = 100_000
DEEP = {
    # inside the header, a subtree the reader builds as a whole
    "header": sdmx_ml(
        sender=f'<mes:Sender id="KAZ_STAT">{"<com:Name>" * DEPTH}{"</com:Name>" * DEPTH}'
        "</mes:Sender>"
    ),
    # inside a series, where observations are streamed
    "series": sdmx_ml(f"{'<Obs>' * DEPTH}{'</Obs>' * DEPTH}"),
    # unknown elements under the dataset
    "dataset": sdmx_ml().replace("<Series ", f"{'<x>' * DEPTH}{'</x>' * DEPTH}<Series ", 1),
}


@pytest.mark.parametrize("where", DEEP)
def test_deep_nesting(server, where):
    attempt = _refused(server, DEEP[where].encode(), XML, 400, "malformed-message")
    _bounded(attempt)


BIG = 12_000_000  # characters in one text node, attribute value or CSV cell
HUGE_VALUE = {
    "element-text": pytest.param(lambda: sdmx_ml(message_id="A" * BIG).encode(), XML),
    "numeric-attribute": pytest.param(
        lambda: sdmx_ml(f'<Obs TIME_PERIOD="2021" OBS_VALUE="{"5" * BIG}"/>').encode(), XML
    ),
    "observation-attribute": pytest.param(
        lambda: sdmx_ml(
            f'<Obs TIME_PERIOD="2021" OBS_VALUE="5" OBS_STATUS="{"A" * BIG}"/>'
        ).encode(),
        XML,
    ),
    "dimension-attribute": pytest.param(
        lambda: sdmx_ml().replace('SEX="F"', f'SEX="{"F" * BIG}"').encode(), XML
    ),
    "csv-cell": pytest.param(lambda: csv(f"A,KAZ,UZB,F,_T,NSO,2021,{'1' * BIG},A,PS"), CSV20),
}


@pytest.mark.parametrize(("make", "media"), HUGE_VALUE.values(), ids=HUGE_VALUE.keys())
def test_huge_text_node(server, make, media):
    """A 12 MB value: refused as malformed (libxml2's 10 MB text limit, csv's field limit) with
    bounded memory and a small report."""
    attempt = _refused(server, make(), media, 400, "malformed-message")
    assert len(attempt.text) < REPORT_BOUND, f"report of {len(attempt.text)} bytes"
    _bounded(attempt)


GZIP_BOMB = {
    # the classic: a gigabyte of zeros (the reader named by type fails on the first NUL)
    "zeros": (lambda: gzip_bomb(b"", b"\0"), SS21, 400, "malformed-message"),
    # a valid head, then a gigabyte of one endless line: the CSV line limit (2 Mi characters)
    # stops it before the expansion ceiling does
    "csv-endless-line": (lambda: gzip_bomb(csv(*SEED[:1]), b" "), CSV20, 400, "malformed-message"),
    # a valid head, then a gigabyte of comments: only the expansion ceiling stops it
    "xml-comments": (
        lambda: gzip_bomb(sdmx_ml().split("</mes:DataSet>")[0].encode(), b"<!---->"),
        XML,
        413,
        "too-large",
    ),
}


@pytest.mark.parametrize(("make", "media", "status", "code"), GZIP_BOMB.values(), ids=GZIP_BOMB)
def test_gzip_bomb(capped, make, media, status, code):
    body = make()
    assert len(body) < CAPPED_BODY  # small on the wire ...
    attempt = _refused(
        capped, body, media, status, code, position=code != "too-large",
        extra={"content-encoding": "gzip"},
    )  # fmt: skip
    _bounded(attempt)


def test_body_over_the_limit_is_413(capped):
    response = capped.client.post(
        "/rest/v2/data/",
        content=csv(*SEED) + b"#" * CAPPED_BODY,
        headers={**capped.headers(), "content-type": CSV20},
    )
    assert response.status_code == 413
    assert capped.state()[1] == len(SEED)


def test_body_over_the_limit_is_reported_and_recorded(capped):
    _refused(capped, csv(*SEED) + b"#" * CAPPED_BODY, CSV20, 413, "too-large", position=False)


# --- broken messages ------------------------------------------------------------------------------

_WHOLE = sdmx_ml(
    '<Obs TIME_PERIOD="2019" OBS_VALUE="5"/><Obs TIME_PERIOD="2020" OBS_VALUE="6"/>'
    '<Obs TIME_PERIOD="2021" OBS_VALUE="7"/>'
).encode()
TRUNCATED = {
    "in-header": _WHOLE[: _WHOLE.index(b"<mes:Prepared>") + 20],
    "in-attribute": _WHOLE[: _WHOLE.index(b'OBS_VALUE="7"') + 12],
    "after-observations": _WHOLE[: _WHOLE.index(b"</Series>")],  # two whole Obs already read
    "before-root-end": _WHOLE[: _WHOLE.index(b"</mes:StructureSpecificData>")],
}


@pytest.mark.parametrize("cut", TRUNCATED)
def test_truncated_sdmx_ml(server, cut):
    _refused(server, TRUNCATED[cut], SS21, 400, "malformed-message")


LATIN1 = {
    "csv": (csv(*SEED[:1], "A,KAZ,UZB,M,_T,NSO,2022,7,A,PS").replace(b"M,_T", "é,_T".encode("latin-1")), CSV20),
    "csv-charset-utf-8": (
        csv("A,KAZ,UZB,M,_T,NSO,2022,7,A,PS").replace(b"PS\n", "Pé\n".encode("latin-1")),
        CSV20 + ";charset=utf-8",
    ),
    "xml-declared-utf-8": (sdmx_ml(message_id="Récépissé").encode("latin-1"), XML),
    "xml-undeclared": (
        sdmx_ml(message_id="Récépissé").split("\n", 1)[1].encode("latin-1"),
        SS21,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", LATIN1)
def test_latin1_bytes_where_utf8_is_expected(server, case):
    body, media = LATIN1[case]
    attempt = _refused(server, body, media, 400, "malformed-message")
    assert re.search(r"not UTF-8|encoding", attempt.report["findings"][0]["message"])


MISSING_COLUMN = {
    "dimension": (HEADER.replace(",SEX", ""), "A,KAZ,UZB,_T,NSO,2022,7,A,PS", 422, "missing-dimension"),
    "time-period": (HEADER.replace(",TIME_PERIOD", ""), "A,KAZ,UZB,F,_T,NSO,7,A,PS", 422, "missing-dimension"),
    "structure-id": (HEADER.replace(",STRUCTURE_ID", ""), None, 400, "malformed-message"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("header", "row", "status", "code"), MISSING_COLUMN.values(), ids=MISSING_COLUMN
)
def test_csv_missing_column(server, header, row, status, code):  # fmt: skip
    if row is None:  # no STRUCTURE_ID: rows lack it too
        body = f"{header}\ndataflow,I,A,KAZ,UZB,F,_T,NSO,2022,7,A,PS\n".encode()
    else:
        body = csv(row, header=header)
    _refused(server, body, CSV20, status, code)


def _many_rows(n: int) -> list[str]:
    """`n` distinct valid rows (more than one 10,000-row chunk when n is large)."""
    return [f"A,KAZ,UZB,{'FM'[i % 2]},_T,NSO,{1000 + i // 2},{i},A,PS" for i in range(n)]


RAGGED = {
    "short": [*SEED[:1], "A,KAZ,UZB,M,_T,NSO,2022,7,A"],
    "long": [*SEED[:1], "A,KAZ,UZB,M,_T,NSO,2022,7,A,PS,extra"],
    "after-a-full-chunk": [*_many_rows(10_050), "A,KAZ,UZB,M,_T,NSO,2022"],
    # rows of a series the seed does not have: written as they stream (one COPY left open on
    # PostgreSQL), which the failure must abandon
    "after-a-chunk-of-a-new-series": [
        *(
            f"A,KAZ,UZB,{sex},_T,NSO,{1000 + i},{i},A,PS"
            for sex in ("M", "_T")
            for i in range(5025)
        ),
        "A,KAZ,UZB,M,_T,NSO,2022",
    ],
}


@pytest.mark.parametrize("case", RAGGED)
def test_ragged_csv_row(server, case):
    rows = RAGGED[case]
    attempt = _refused(server, csv(*rows), CSV20, 400, "malformed-message")
    finding = attempt.report["findings"][0]
    assert finding["location"]["position"] == f"line {len(rows) + 1}"
    assert "expected 13" in finding["message"]
    # the failure left the database and its connections fit for the next message
    headers = {**server.headers(), "content-type": CSV20}
    after = server.client.post("/rest/v2/data/", content=csv(*_many_rows(3)), headers=headers)
    assert after.status_code == 201, after.text


CONTROL = {
    # free text: an observation comment, a series-level definition, the dataset's comment
    "nul-in-comment": ("COMMENT_OBS", "I", "A,KAZ,UZB,M,_T,NSO,2022,7,A,PS,a\x00b", "U+0000"),
    "bell-in-definition": (
        "NATIONAL_DEFINITION", "I", "A,KAZ,UZB,M,_T,NSO,2022,7,A,PS,x\x07", "U+0007"
    ),
    "escape-in-dataset-comment": ("COMMENT_DSET", "I", "A,KAZ,UZB,M,_T,NSO,2022,7,A,PS,\x1b", "U+001B"),
    # a DELETE row's values only flag what to delete, but they are matched in SQL all the same
    "nul-in-delete-value": ("COMMENT_OBS", "D", "A,KAZ,UZB,F,_T,NSO,2022,\x00,,,", "U+0000"),
}  # fmt: skip


@pytest.mark.parametrize("case", CONTROL)
def test_control_characters_in_values(server, case):
    """Text SDMX-ML cannot carry (and PostgreSQL cannot store, for NUL) is refused with its
    row and character, whatever the level of the value and the action."""
    column, action, row, character = CONTROL[case]
    body = csv(row, header=f"{HEADER},{column}").replace(b",I,", f",{action},".encode(), 1)
    attempt = _refused(server, body, CSV20, 422, "invalid-character")
    (finding,) = [f for f in attempt.report["findings"] if f["code"] == "invalid-character"]
    assert finding["location"]["position"] == "line 2"
    assert character in finding["message"]


JSON20 = "application/vnd.sdmx.data+json;version=2.0.0"


def json20(*, dataset_comment: str = "ok", group_definition: str = "ok") -> bytes:
    """An SDMX-JSON 2.0 message for DF_FOREIGN_POP: one observation, a dataset-level comment
    and a group attribute (both free text, given inline)."""

    def dim(ident: str, code: str) -> dict:
        return {"id": ident, "values": [{"id": code}]}

    series = [
        dim(d, c)
        for d, c in zip(
            ("FREQ", "REF_AREA", "CITIZENSHIP", "SEX", "AGE", "DATA_SOURCE"),
            ("A", "KAZ", "UZB", "M", "_T", "NSO"),
            strict=True,
        )
    ]
    structure = {
        "links": [
            {
                "rel": "dataflow",
                "urn": "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=DSM:DF_FOREIGN_POP(1.0)",
            }
        ],
        "dimensions": {
            "dataSet": [],
            "series": series,
            "observation": [dim("TIME_PERIOD", "2021")],
        },
        "measures": {"observation": [{"id": "OBS_VALUE"}]},
        "attributes": {
            "dataSet": [{"id": "COMMENT_DSET", "values": []}],
            "dimensionGroup": [{"id": "NATIONAL_DEFINITION", "values": []}],
            "series": [dim("UNIT_MEASURE", "PS")],
            "observation": [dim("OBS_STATUS", "A")],
        },
    }
    dataset = {
        "structure": 0,
        "action": "Information",
        "attributes": [dataset_comment],
        "dimensionGroupAttributes": {"0:0:0:0:0:0:": [group_definition]},
        "series": {"0:0:0:0:0:0": {"attributes": [0], "observations": {"0": [5, 0]}}},
    }
    meta = {"id": "J1", "prepared": "2024-05-01T10:00:00Z", "sender": {"id": "KAZ_STAT"}}
    return json.dumps(
        {"meta": meta, "data": {"structures": [structure], "dataSets": [dataset]}}
    ).encode()


CONTROL_JSON = {
    "dataset-attribute": ({"dataset_comment": "from\x01 the ministry"}, "COMMENT_DSET", "U+0001"),
    "group-attribute": ({"group_definition": "\x07 census"}, "NATIONAL_DEFINITION", "U+0007"),
}  # fmt: skip


def test_the_json_message_without_control_characters_is_stored(server):
    headers = {**server.headers(), "content-type": JSON20}
    stored = server.client.post("/rest/v2/data/", content=json20(), headers=headers)
    assert stored.status_code == 201, stored.text


@pytest.mark.parametrize("case", CONTROL_JSON)
def test_control_characters_in_dataset_and_group_attributes(server, case):
    """The same for values that come with the dataset or a group, not on rows (SDMX-JSON)."""
    given, component, character = CONTROL_JSON[case]
    attempt = _refused(server, json20(**given), JSON20, 422, "invalid-character", position=False)
    (finding,) = [f for f in attempt.report["findings"] if f["code"] == "invalid-character"]
    assert finding["location"]["component"] == component
    assert character in finding["message"]


# --- scope ----------------------------------------------------------------------------------------

OTHER_COUNTRY = {
    "csv": (csv("A,RUS,UZB,F,_T,NSO,2022,7,A,PS"), CSV20),
    "csv-mixed-with-own": (
        csv("A,KAZ,UZB,F,_T,NSO,2024,9,A,PS", "A,RUS,UZB,F,_T,NSO,2022,7,A,PS"),
        CSV20,
    ),
    "csv-delete": (
        csv("A,RUS,,,,,,,,").replace(b",I,A,RUS", b",D,A,RUS"),
        CSV20,
    ),
    "sdmx-ml": (sdmx_ml(area="RUS").encode(), SS21),
}


@pytest.mark.parametrize("case", OTHER_COUNTRY)
def test_provider_may_not_send_another_country(server, case):
    body, media = OTHER_COUNTRY[case]
    attempt = _refused(server, body, media, 403, "outside-scope", token=server.provider)
    scoped = [f for f in attempt.report["findings"] if f["code"] == "outside-scope"]
    assert {f["location"].get("value") for f in scoped} <= {"RUS", None}
    own = server.client.get("/api/submissions", headers=server.headers(server.provider)).json()
    assert [s["status"] for s in own] == ["rejected"]  # only its own attempt, not the seed


# --- a hostile first message ------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["truncated", "invalid"])
def test_a_refused_first_message_does_not_break_later_ones(settings, first):
    for server in _server(settings, seed=False):
        body, media = {
            "truncated": (TRUNCATED["after-observations"], SS21),
            "invalid": (csv("A,KAZ,XXX,F,_T,NSO,2022,5,A,PS"), CSV20),
        }[first]
        status = 400 if first == "truncated" else 422
        _refused(
            server, body, media, status, "malformed-message" if status == 400 else "unknown-code"
        )
        ok = server.client.post(
            "/rest/v2/data/",
            content=csv(*SEED),
            headers={**server.headers(), "content-type": CSV20},
        )
        assert ok.status_code == 201, ok.text[:2000]
