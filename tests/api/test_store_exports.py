"""The fast paths of big exports write the same bytes as the row path, on both databases: SDMX-CSV
lines (`app.storage.csv_export`) and SDMX-ML observation elements (`app.storage.xml_export`) built
by the database. Real data loaded over HTTP (free text that needs quoting or escaping,
confidential values, an embargoed revision), several dataflows, queries and options, anonymous and
authorised."""

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.services.auth import add_user, create_token
from app.storage import csv_export
from app.writers.data import sdmx_csv

CSV10 = "application/vnd.sdmx.data+csv;version=1.0.0"
CSV20 = "application/vnd.sdmx.data+csv;version=2.0.0"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=3)
RELEASE = T0 + timedelta(days=1)
EVERY_BLOCK = {"sqlite": 1, "postgresql": 1}  # SDMX-CSV: the store exports a block of 1 row on

POP_HEADER = "FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,TIME_PERIOD,OBS_VALUE,CONF_STATUS"
POP = [
    "A,KAZ,UZB,F,_T,NSO,2021,900,C",
    "A,KAZ,UZB,F,_T,NSO,2022,1200,",
    "A,KAZ,UZB,F,_T,NSO,2023,1350,F",
    "A,KAZ,TJK,F,_T,NSO,2023,17,C",
    "A,KAZ,RUS,_T,_T,NSO,2023,41000,",
]
POP_EMBARGOED = ["A,KAZ,UZB,F,_T,NSO,2023,1500,", "A,KAZ,UZB,F,_T,NSO,2024,1600,"]
ENTRY_HEADER = (
    "FREQ,REF_AREA,CITIZENSHIP,COUNTERPART_AREA,SEX,TRAVEL_PURPOSE,DATA_SOURCE,TIME_PERIOD,"
    "OBS_VALUE,OBS_STATUS,CONF_STATUS,COMMENT_OBS,UNIT_MEASURE,UNIT_MULT,DECIMALS,"
    "NATIONAL_DEFINITION"
)
ENTRY = [
    "A,ARM,ABW,ABW,F,BUSINESS,BRD,2000,0,A,,,NUMBER,0,,",
    'A,ARM,ABW,ABW,F,BUSINESS,BRD,2001,56132,A,,"revised, twice",NUMBER,0,,',
    'A,ARM,ABW,ABW,F,BUSINESS,BRD,2002,12,A,C,"said ""estimated""",NUMBER,0,,',
    'A,ARM,ABW,ABW,M,BUSINESS,BRD,2002,7,A,F,"two\nlines",NUMBER,0,1,Ереван',
    "A,ARM,ABW,ABW,M,BUSINESS,BRD,2003,8.5,A,,plain,NUMBER,0,1,",
    "A,ARM,ABW,ABW,M,BUSINESS,BRD,2004,9,A,,plain again,NUMBER,0,1,",
    "A,ARM,ABW,ABW,M,BUSINESS,BRD,2005,10,A,,a < b & c > d,NUMBER,0,1,",
    "A,ARM,ABW,ABW,M,BUSINESS,BRD,2006,11,A,,tab\there,NUMBER,0,1,",
    "A,ARM,ABW,BEL,F,BUSINESS,BRD,2000,3,A,,,NUMBER,0,,",
    "A,ARM,ABW,BEL,F,BUSINESS,BRD,2001,4,A,,,NUMBER,0,,",
]


def message(flow: str, header: str, rows: list[str]) -> bytes:
    lines = [f"STRUCTURE,STRUCTURE_ID,ACTION,{header}"]
    lines += [f"dataflow,DSM:{flow}(1.0),I,{r}" for r in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def tokens(client: TestClient) -> dict[str, str | None]:
    """Data of two dataflows; tokens by role (anonymous: None)."""
    engine, secret = client.app.state.engine, client.app.state.secret
    add_user(engine, "admin", "admin")
    add_user(engine, "analyst", "partner", None, ("conf",))
    found = {name: create_token(engine, secret, name) for name in ("admin", "analyst")}
    auth = {"authorization": f"Bearer {found['admin']}"}
    grant = {"grantee": "group:conf", "dataflow": "DSM:*", "action": "read_confidential"}
    assert client.post("/api/grants", json=grant, headers=auth).status_code == 201
    admin = {**auth, "content-type": CSV20}
    client.app.state.clock.fixed = T0
    for flow, header, rows in (
        ("DF_FOREIGN_POP", POP_HEADER, POP),
        ("DF_FOREIGN_ENTRY", ENTRY_HEADER, ENTRY),
    ):
        posted = client.post("/rest/v2/data/", content=message(flow, header, rows), headers=admin)
        assert posted.status_code == 201, posted.text
    client.app.state.clock.fixed = T0 + timedelta(hours=1)
    embargoed = client.post(
        "/rest/v2/data/",
        content=message("DF_FOREIGN_POP", POP_HEADER, POP_EMBARGOED),
        params={"releaseAt": RELEASE.isoformat()},
        headers=admin,
    )
    assert embargoed.status_code == 201, embargoed.text
    client.app.state.clock.fixed = NOW
    return {"anonymous": None, **found}


QUERIES = [  # (path, parameters, whether the fast path writes it)
    ("/rest/data/DF_FOREIGN_POP/all", {}, True),
    ("/rest/data/DF_FOREIGN_ENTRY/all", {}, True),
    ("/rest/data/DF_FOREIGN_ENTRY/A.ARM..ABW.M+F.BUSINESS.BRD", {"startPeriod": "2001"}, True),
    ("/rest/data/DF_FOREIGN_ENTRY/all", {"detail": "dataonly"}, True),
    ("/rest/data/DF_FOREIGN_ENTRY/all", {"dimensionAtObservation": "AllDimensions"}, True),
    ("/rest/data/DF_FOREIGN_POP/all", {"lastNObservations": "1"}, True),
    (
        "/rest/v2/data/dataflow/DSM/DF_FOREIGN_ENTRY/1.0/*.*.*.*.*.*.*",
        {"c[OBS_VALUE]": "ge:8"},
        True,
    ),
    ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/1.0", {"attributes": "none"}, True),
    # the row path: options the fast path leaves to it
    ("/rest/data/DF_FOREIGN_ENTRY/all", {"dimensionAtObservation": "SEX"}, False),
    ("/rest/data/DF_FOREIGN_ENTRY/all", {"labels": "both"}, False),
    ("/rest/data/DF_FOREIGN_ENTRY/all", {"timeFormat": "normalized"}, False),
    ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/1.0", {"keys": "both"}, False),
    ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/1.0", {"updatedAfter": T0.isoformat()}, False),
    ("/rest/data/DF_FOREIGN_POP/all", {"detail": "serieskeysonly"}, False),
    ("/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/1.0", {"measures": "none"}, False),
]


def fetch(client: TestClient, token: str | None, path: str, accept: str, params: dict) -> bytes:
    headers = {"accept": accept, "accept-encoding": "identity"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = client.get(path, params=params, headers=headers)
    assert response.status_code in (200, 204, 404), response.text
    return response.content


@pytest.mark.parametrize("accept", [CSV10, CSV20])
@pytest.mark.parametrize("role", ["anonymous", "analyst", "admin"])
def test_fast_path_writes_the_bytes_of_the_row_path(client, tokens, monkeypatch, role, accept):
    token, used = tokens[role], []
    chunks = csv_export.Export.chunks

    def spy(self, *args):  # type: ignore[no-untyped-def]
        used.append(True)
        return chunks(self, *args)

    monkeypatch.setattr(csv_export.Export, "chunks", spy)
    monkeypatch.setattr(sdmx_csv, "EXPORTED_FROM", EVERY_BLOCK)  # the test's blocks are small
    fast_bodies = []
    for path, params, expected in QUERIES:
        if accept == CSV10 and "/v2/" in path:
            continue
        used.clear()
        fast = fetch(client, token, path, accept, params)
        with monkeypatch.context() as m:
            m.setattr(sdmx_csv, "_exported", lambda columns, block: False)
            rows = fetch(client, token, path, accept, params)
        assert fast == rows, (path, params)
        assert bool(used) == (expected and bool(rows)), (path, params)
        fast_bodies.append(fast)
    text = b"".join(fast_bodies).decode()
    assert '"revised, twice"' in text and '"two\nlines"' in text and "Ереван" in text
    shown = role != "anonymous"
    assert ('"said ""estimated"""' in text) == shown
    assert (",17," in text) == shown  # a series of confidential values only
    assert (",900," in text) == shown
    assert (",1600," in text) == (role == "admin")  # embargoed until RELEASE


def test_a_block_smaller_than_the_threshold_is_written_from_its_rows(client, tokens, monkeypatch):
    """Re-running the query for the store's lines costs more than a few rows are worth: below
    EXPORTED_FROM rows the block is written from the rows already read, with the same bytes."""
    used = []
    chunks = csv_export.Export.chunks

    def spy(self, *args):  # type: ignore[no-untyped-def]
        used.append(True)
        return chunks(self, *args)

    monkeypatch.setattr(csv_export.Export, "chunks", spy)
    path, params, expected = QUERIES[0]
    assert expected
    small = fetch(client, tokens["admin"], path, CSV20, params)
    assert small and not used
    monkeypatch.setattr(sdmx_csv, "EXPORTED_FROM", EVERY_BLOCK)
    assert fetch(client, tokens["admin"], path, CSV20, params) == small
    assert used


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_lines_read_as_cells_from_the_first_batch_that_needs_quoting(
    client, tokens, monkeypatch, batch
):
    """SQLite hands over printed lines until a batch holds a cell to quote; from there the rows
    are read again as cells, the ones already written skipped: the bytes stay those of the row
    path wherever the batch boundary falls."""
    skips: list[int] = []
    cells = csv_export._fetched_cells

    def spy(export, head, end, careful, skip):  # type: ignore[no-untyped-def]
        skips.append(skip)
        return cells(export, head, end, careful, skip)

    monkeypatch.setattr(csv_export, "_fetched_cells", spy)
    monkeypatch.setattr(csv_export, "BATCH", batch)
    monkeypatch.setattr(sdmx_csv, "EXPORTED_FROM", EVERY_BLOCK)
    path = "/rest/data/DF_FOREIGN_ENTRY/all"
    fast = fetch(client, tokens["admin"], path, CSV20, {})
    with monkeypatch.context() as m:
        m.setattr(sdmx_csv, "_exported", lambda columns, block: False)
        rows = fetch(client, tokens["admin"], path, CSV20, {})
    assert fast == rows
    assert fast.count(b"\r\n") == len(ENTRY) + 1  # the header and every row
    if client.app.state.engine.dialect.name == "sqlite":
        # the first row needs no quoting, the second does: the switch comes after batch 1
        assert skips == [batch if batch == 1 else 0]


def test_a_statement_printf_cannot_take_is_read_as_cells(monkeypatch):
    """More columns than SQLite's printf takes, or a cell that is not text: no printed lines."""
    from sqlalchemy import Integer, String, column, select, table

    wide = table("t", *[column(f"c{i}", String) for i in range(csv_export.PRINTF_MAX + 1)])
    assert csv_export._printed(select(*wide.c)) is None
    assert csv_export._printed(select(*list(wide.c)[:3])) is not None
    mixed = table("m", column("a", String), column("b", Integer))
    assert csv_export._printed(select(*mixed.c)) is None


ML = {
    "2.1": "application/vnd.sdmx.structurespecificdata+xml;version=2.1",
    "2.1 TS": "application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1",
    "3.0": "application/vnd.sdmx.data+xml;version=3.0.0",
}


def _without_header(body: bytes) -> bytes:
    """The message without its header (its ID and preparation time differ per response); an
    empty body (204, no results) as it is."""
    if not body:
        return body
    start, end = body.find(b"<mes:Header>"), body.find(b"</mes:Header>")
    assert 0 < start < end, body[:300]
    return body[:start] + body[end:]


@pytest.mark.parametrize("accept", list(ML))
@pytest.mark.parametrize("role", ["anonymous", "analyst", "admin"])
def test_ml_fast_path_writes_the_bytes_of_the_row_path(client, tokens, monkeypatch, role, accept):
    """Observation elements built by the database, series elements by the writer: the same
    message as the row path for every query, view and version; values that need escaping (a
    quote, `<`, `&`, a line break, a tab) send their batch and the rest to the row path."""
    from app.storage import xml_export
    from app.writers.data import sdmx_ml

    used: list[bool] = []
    elements = xml_export.elements

    def spy(*args):  # type: ignore[no-untyped-def]
        used.append(True)
        return elements(*args)

    skips: list[int] = []
    cells = xml_export._cells

    def cells_spy(export, skip):  # type: ignore[no-untyped-def]
        skips.append(skip)
        return cells(export, skip)

    monkeypatch.setattr(xml_export, "elements", spy)
    monkeypatch.setattr(xml_export, "_cells", cells_spy)
    monkeypatch.setattr(sdmx_ml, "EXPORTED_FROM", 1)  # the test's blocks are small
    token, bodies = tokens[role], []
    for path, params, _ in QUERIES:
        if "labels" in params or "timeFormat" in params or "keys" in params:
            continue  # SDMX-CSV options
        if accept == "2.1 TS" and params.get("dimensionAtObservation") not in (None,):
            continue  # time series only
        used.clear()
        skips.clear()
        fast = fetch(client, token, path, ML[accept], params)
        with monkeypatch.context() as m:
            m.setattr(sdmx_ml, "EXPORTED_FROM", 10**9)  # every block written from its rows
            rows = fetch(client, token, path, ML[accept], params)
        assert _without_header(fast) == _without_header(rows), (path, params)
        bodies.append(fast)
        if path.endswith("/all") and not params:
            assert used, (path, "the fast path was not taken")
        if path == "/rest/data/DF_FOREIGN_POP/all" and not params:
            assert not skips, "nothing to escape: every element comes from the database"
    text = b"".join(bodies).decode()
    assert 'COMMENT_OBS="revised, twice"' in text
    assert "a &lt; b &amp; c &gt; d" in text and "tab&#9;here" in text and "two&#10;lines" in text
    assert ("said &quot;estimated&quot;" in text) == (role != "anonymous")


@pytest.mark.parametrize("batch", [1, 2, 3, 4, 5, 1000])
def test_ml_rows_read_as_cells_from_the_first_batch_that_needs_escaping(
    client, tokens, monkeypatch, batch
):
    """Wherever the batch boundary falls (inside a series, at its end, before an escaped
    value), the elements continue the series left open and the message is the row path's."""
    from app.storage import xml_export
    from app.writers.data import sdmx_ml

    skips: list[int] = []
    cells = xml_export._cells

    def spy(export, skip):  # type: ignore[no-untyped-def]
        skips.append(skip)
        return cells(export, skip)

    monkeypatch.setattr(xml_export, "_cells", spy)
    monkeypatch.setattr(xml_export, "BATCH", batch)
    monkeypatch.setattr(sdmx_ml, "EXPORTED_FROM", 1)
    path, accept = "/rest/data/DF_FOREIGN_ENTRY/all", ML["2.1"]
    fast = fetch(client, None, path, accept, {})
    with monkeypatch.context() as m:
        m.setattr(sdmx_ml, "EXPORTED_FROM", 10**9)
        rows = fetch(client, None, path, accept, {})
    assert _without_header(fast) == _without_header(rows)
    assert fast.count(b"<Series ") == 3 and fast.count(b"<Obs ") == len(ENTRY) - 1  # one is C
    # the rows in order: BEL 2000-2001, M 2002-2006 (7 rows, the first escaped value is the 2002 line
    # break, row 3); the anonymous view hides the confidential 2002 value of F
    first_bad = 2  # rows before the first batch holding a value to escape
    assert skips == [batch * (first_bad // batch)]


def test_read_ahead_keeps_order_stops_on_close_and_raises_errors():
    """The PostgreSQL reader thread of the SDMX-ML path: every item in order; closed early, the
    thread ends and the source is closed; an error in the source reaches the reader."""
    import threading

    from app.storage import xml_export

    assert list(xml_export._read_ahead(iter(range(100)))) == list(range(100))

    closed = []

    def source():  # type: ignore[no-untyped-def]
        try:
            yield from range(10**6)
        finally:
            closed.append(True)

    ahead = xml_export._read_ahead(source())
    assert [next(ahead) for _ in range(5)] == [0, 1, 2, 3, 4]
    ahead.close()
    assert closed == [True]
    assert not [t for t in threading.enumerate() if t.name == "dsm-read-ahead"]

    def failing():  # type: ignore[no-untyped-def]
        yield 1
        raise RuntimeError("connection lost")

    ahead = xml_export._read_ahead(failing())
    assert next(ahead) == 1
    with pytest.raises(RuntimeError, match="connection lost"):
        next(ahead)


def _get_and_hang_up(app, path: str, accept: str, token: str) -> list[bytes]:  # type: ignore[no-untyped-def]
    """GET `path` through the ASGI app, the client hanging up as soon as a body chunk with a
    data row has been sent (the writer then stands in the middle of the store's export). The
    body chunks sent."""
    sent: list[bytes] = []

    async def run() -> None:
        gone = asyncio.Event()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"testserver"),
                (b"accept", accept.encode()),
                (b"accept-encoding", b"identity"),
                (b"authorization", f"Bearer {token}".encode()),  # not from the response cache
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }

        async def receive() -> dict:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.body":
                sent.append(message.get("body", b""))
                if b"ARM" in sent[-1]:
                    gone.set()
                    await asyncio.sleep(5)  # cancelled: the response stops here

        await app(scope, receive, send)

    asyncio.run(run())
    return sent


@pytest.mark.parametrize("accept", [CSV10, ML["2.1"]])
def test_a_client_hanging_up_mid_export_leaves_the_server_working(
    client, tokens, monkeypatch, accept
):
    """A client gone while the store's export streams (PostgreSQL: a COPY, or SDMX-ML's reading
    thread, holding the connection): the export is ended before the connection is given back,
    the response ends, and the server answers the next request. Before, the rollback of the
    connection waited for the COPY's lock forever, on the event loop: the whole server hung."""
    from app.api import data as data_api
    from app.storage import xml_export
    from app.writers.data import _ml, sdmx_ml

    monkeypatch.setattr(data_api, "SMALL", 0)  # streamed, not sent in one piece
    monkeypatch.setattr(sdmx_csv, "EXPORTED_FROM", EVERY_BLOCK)  # the test's blocks are small
    monkeypatch.setattr(sdmx_ml, "EXPORTED_FROM", 1)
    # a chunk per row or so: the client hangs up with the export mid-way
    monkeypatch.setattr(csv_export, "BATCH", 1)
    monkeypatch.setattr(xml_export, "BATCH", 1)
    monkeypatch.setattr(_ml.chunked, "__defaults__", (1,))
    path = "/rest/data/DF_FOREIGN_ENTRY/all"
    outcome: dict[str, object] = {}

    def hang_up() -> None:
        outcome["sent"] = _get_and_hang_up(client.app, path, accept, tokens["admin"])

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the response never ended after the client hung up"
    sent = b"".join(outcome["sent"])  # type: ignore[arg-type]
    assert b"ARM" in sent and b"BEL" not in sent  # it stopped mid-way, as meant
    auth = {"authorization": f"Bearer {tokens['admin']}"}
    again = client.get(path, headers={"accept": accept, "accept-encoding": "identity", **auth})
    assert again.status_code == 200 and again.content.count(b"BUSINESS") >= 2


@pytest.mark.parametrize("accept", [CSV10, ML["2.1"]])
def test_head_of_a_streamed_export_ends_it(client, tokens, monkeypatch, accept):
    """HEAD of a streamed answer sends GET's headers and ends the writer after its first part
    (as a client gone would); the server answers the next request in full."""
    from app.api import data as data_api
    from app.writers.data import sdmx_ml

    monkeypatch.setattr(data_api, "SMALL", 0)  # streamed, not sent in one piece
    monkeypatch.setattr(sdmx_csv, "EXPORTED_FROM", EVERY_BLOCK)
    monkeypatch.setattr(sdmx_ml, "EXPORTED_FROM", 1)
    monkeypatch.setattr(csv_export, "BATCH", 1)
    path = "/rest/data/DF_FOREIGN_ENTRY/all"
    headers = {"accept": accept, "authorization": f"Bearer {tokens['admin']}"}
    head = client.head(path, headers=headers)
    assert head.status_code == 200 and head.content == b""
    got = client.get(path, headers={**headers, "accept-encoding": "identity"})
    assert got.status_code == 200 and got.content.count(b"BUSINESS") >= 2
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["content-type"] == got.headers["content-type"]
