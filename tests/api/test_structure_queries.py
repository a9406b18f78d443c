"""Structure queries over HTTP (ASGI client) against the bundled DSM structures, on both databases."""

import io
import json

import pytest
import sdmx
from fastapi.testclient import TestClient
from lxml import etree

from app.formats.sdmxml import NS21, NS30
from app.main import create_app

STR21 = f"{{{NS21['str']}}}"
ML21 = "application/vnd.sdmx.structure+xml;version=2.1"
ML30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
JSON10 = "application/vnd.sdmx.structure+json;version=1.0.0"
JSON20 = "application/vnd.sdmx.structure+json;version=2.0.0"


def test_all_dataflows_with_references_v1(client):
    response = client.get("/rest/dataflow/DSM/all/latest?references=all")
    assert response.status_code == 200
    assert (
        response.headers["content-type"]
        == "application/vnd.sdmx.structure+xml; version=2.1; charset=utf-8"
    )
    message = sdmx.read_sdmx(io.BytesIO(response.content))
    assert len(message.dataflow) == 8
    for flow in message.dataflow.values():
        assert flow.structure.id in message.structure
    assert message.codelist["CL_AREA"]["KAZ"].name.localizations["ru"] == "Казахстан"
    assert "CS_MIGRATION" in message.concept_scheme or len(message.concept_scheme) >= 1


@pytest.mark.parametrize(
    ("path", "accept", "content_type"),
    [
        ("/rest/codelist/DSM/CL_SEX", None, "application/vnd.sdmx.structure+xml; version=2.1"),
        ("/rest/codelist/DSM/CL_SEX", "*/*", "application/vnd.sdmx.structure+xml; version=2.1"),
        (
            "/rest/v2/structure/codelist/DSM/CL_SEX",
            "*/*",
            "application/vnd.sdmx.structure+xml; version=3.0.0",
        ),
        ("/rest/codelist/DSM/CL_SEX", ML30, "application/vnd.sdmx.structure+xml; version=3.0.0"),
        (
            "/rest/codelist/DSM/CL_SEX",
            "application/vnd.sdmx.structure+xml;version=3.0",
            "application/vnd.sdmx.structure+xml; version=3.0.0",
        ),
        ("/rest/codelist/DSM/CL_SEX", JSON10, "application/vnd.sdmx.structure+json; version=1.0.0"),
        (
            "/rest/v2/structure/codelist/DSM/CL_SEX",
            JSON20,
            "application/vnd.sdmx.structure+json; version=2.0.0",
        ),
        (
            "/rest/v2/structure/codelist/DSM/CL_SEX",
            "application/json",
            "application/vnd.sdmx.structure+json; version=2.0.0",
        ),
        (
            "/rest/codelist/DSM/CL_SEX",
            "text/html;q=0.9, application/xml;q=0.8",
            "application/vnd.sdmx.structure+xml; version=2.1",
        ),
        (
            "/rest/codelist/DSM/CL_SEX?format=sdmx-json-2.0",
            None,
            "application/vnd.sdmx.structure+json; version=2.0.0",
        ),
    ],
)
def test_negotiation(client, path, accept, content_type):
    headers = {"accept": accept} if accept else {}
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(content_type)


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "application/vnd.sdmx.structure+xml;version=1.0",
        "application/vnd.sdmx.data+csv;version=2.0.0",
    ],
)
def test_unacceptable_is_406_with_sdmx_error(client, accept):
    response = client.get("/rest/codelist/DSM/CL_SEX", headers={"accept": accept})
    assert response.status_code == 406
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{NS21['mes']}}}Error"
    assert "application/vnd.sdmx.structure+xml;version=2.1" in response.text


def test_json_languages_follow_accept_language(client):
    ru = client.get(
        "/rest/v2/structure/codelist/DSM/CL_AREA/~/KAZ",
        headers={"accept": JSON20, "accept-language": "ru, en;q=0.5"},
    )
    assert ru.status_code == 200
    assert ru.headers["content-language"] == "ru"
    code = json.loads(ru.content)["data"]["codelists"][0]["codes"][0]
    assert code["id"] == "KAZ"
    assert code["name"] == "Казахстан"
    assert code["names"]["en"] == "Kazakhstan"
    en = client.get("/rest/v2/structure/codelist/DSM/CL_AREA/~/KAZ", headers={"accept": JSON20})
    assert json.loads(en.content)["data"]["codelists"][0]["codes"][0]["name"] == "Kazakhstan"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/rest/codelist/DSM/CL_SEX/1.0", {"CL_SEX"}),
        ("/rest/codelist/DSM/CL_SEX+CL_FREQ/latest", {"CL_SEX", "CL_FREQ"}),
        ("/rest/codelist/all/CL_SEX/all", {"CL_SEX"}),
        ("/rest/v2/structure/codelist/DSM/CL_SEX,CL_FREQ/~", {"CL_SEX", "CL_FREQ"}),
        ("/rest/v2/structure/codelist/*/CL_SEX/*", {"CL_SEX"}),
        ("/rest/v2/structure/codelist/DSM/CL_SEX/1.0", {"CL_SEX"}),
    ],
)
def test_keywords_and_lists(client, path, expected):
    response = client.get(path, headers={"accept": ML21})
    assert response.status_code == 200, response.text
    ids = {e.get("id") for e in etree.fromstring(response.content).iter(f"{STR21}Codelist")}
    assert ids == expected


def test_item_query_returns_partial_scheme(client):
    response = client.get("/rest/codelist/DSM/CL_AREA/latest/KAZ+KGZ")
    codelist = etree.fromstring(response.content).find(f".//{STR21}Codelist")
    assert codelist.get("isPartial") == "true"
    assert [c.get("id") for c in codelist.iter(f"{STR21}Code")] == ["KAZ", "KGZ"]


@pytest.mark.parametrize("detail", ["allstubs", "allcompletestubs"])
def test_stubs_have_no_items(client, detail):
    response = client.get(f"/rest/codelist/DSM/all/latest?detail={detail}")
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    codelists = list(root.iter(f"{STR21}Codelist"))
    assert len(codelists) > 5
    assert all(c.get("isExternalReference") == "true" for c in codelists)
    assert not list(root.iter(f"{STR21}Code"))


def test_referencestubs_and_referencepartial(client):
    stubs = etree.fromstring(
        client.get(
            "/rest/dataflow/DSM/DF_WORK_PERMITS/latest?references=descendants&detail=referencestubs"
        ).content
    )
    assert stubs.find(f".//{STR21}Dataflow").get("isExternalReference") in (None, "false")
    assert not list(stubs.iter(f"{STR21}Code"))
    partial = etree.fromstring(
        client.get(
            "/rest/dataflow/DSM/DF_WORK_PERMITS/latest?references=descendants&detail=referencepartial"
        ).content
    )
    freq = next(c for c in partial.iter(f"{STR21}Codelist") if c.get("id") == "CL_FREQ")
    assert freq.get("isPartial") == "true"
    full = etree.fromstring(client.get("/rest/codelist/DSM/CL_FREQ").content)
    assert len(list(freq.iter(f"{STR21}Code"))) < len(list(full.iter(f"{STR21}Code")))


@pytest.mark.parametrize(
    ("references", "expected_tags"),
    [
        ("none", {"Dataflow"}),
        ("children", {"Dataflow", "DataStructure"}),
        ("descendants", {"Dataflow", "DataStructure", "Codelist", "ConceptScheme"}),
        ("parents", {"Dataflow", "Categorisation", "ContentConstraint", "ProvisionAgreement"}),
        ("codelist", {"Dataflow", "Codelist"}),
        ("datastructure", {"Dataflow", "DataStructure"}),
    ],
)
def test_references(client, references, expected_tags):
    response = client.get(f"/rest/dataflow/DSM/DF_FOREIGN_POP/latest?references={references}")
    assert response.status_code == 200, response.text
    structures = etree.fromstring(response.content).find(f"{{{NS21['mes']}}}Structures")
    tags = {etree.QName(e).localname for container in structures for e in container}
    assert tags == expected_tags


def test_v2_ancestors_of_a_codelist_reach_dataflows(client):
    response = client.get(
        "/rest/v2/structure/codelist/DSM/CL_SEX/~?references=ancestors", headers={"accept": ML30}
    )
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    dataflows = root.find(f".//{{{NS30['str']}}}Dataflows")
    assert len(dataflows) == 8


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/rest/codelist/DSM/CL_NOTHING", 404, "100"),
        ("/rest/dataflow/XYZ", 404, "100"),
        ("/rest/codelist/DSM/CL_SEX/9.9", 404, "100"),
        ("/rest/codelist/DSM/CL_SEX/latest/NOPE", 404, "100"),
        ("/rest/codelist/DSM/CL_SEX/1.x", 400, "140"),
        ("/rest/codelist/DSM/CL_SEX?references=cousins", 400, "140"),
        ("/rest/codelist/DSM/CL_SEX?detail=everything", 400, "140"),
        ("/rest/v2/structure/codelist/DSM/CL_SEX/1.0.0.0", 400, "140"),
        ("/rest/datastructure/DSM/DSD_FOREIGN_POP/latest/ITEM", 400, "140"),
        ("/rest/bananas/DSM", 404, "100"),
        ("/rest/transformationscheme/DSM", 501, "501"),
    ],
)
def test_bad_requests_get_sdmx_errors(client, path, status, code):
    response = client.get(path)
    assert response.status_code == status, response.text
    message = etree.fromstring(response.content).find(
        f".//{{{NS21['mes'] if '/v2/' not in path else NS30['mes']}}}ErrorMessage"
    )
    assert message is not None and message.get("code") == code


def test_errors_are_json_when_json_was_asked(client):
    response = client.get("/rest/codelist/DSM/CL_NOTHING", headers={"accept": JSON20})
    assert response.status_code == 404
    body = response.json()
    assert body["errors"][0]["code"] == 100


def test_conditional_requests(client):
    first = client.get("/rest/codelist/DSM/CL_SEX")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert (
        client.get("/rest/codelist/DSM/CL_SEX", headers={"if-none-match": etag}).status_code == 304
    )
    assert (
        client.get("/rest/codelist/DSM/CL_SEX", headers={"if-modified-since": modified}).status_code
        == 304
    )
    assert (
        client.get(
            "/rest/codelist/DSM/CL_SEX", headers={"if-modified-since": "2000-01-01T00:00:00Z"}
        ).status_code
        == 200
    )
    assert (
        client.get("/rest/codelist/DSM/CL_SEX", headers={"if-none-match": 'W/"0-x"'}).status_code
        == 200
    )
    other = client.get("/rest/codelist/DSM/CL_SEX", headers={"accept": JSON20})
    assert other.headers["etag"] != etag
    assert "Accept" in first.headers["vary"]


def test_gzip_and_cors(client):
    response = client.get(
        "/rest/codelist/DSM/CL_AREA",
        headers={"accept-encoding": "gzip", "origin": "https://example.org"},
    )
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["access-control-allow-origin"] in ("*", "https://example.org")
    assert "ETag" in response.headers["access-control-expose-headers"]
    preflight = client.options(
        "/rest/codelist/DSM/CL_AREA",
        headers={"origin": "https://example.org", "access-control-request-method": "GET"},
    )
    assert preflight.status_code == 200


def test_gzip_level_is_the_setting(settings):
    """DSM_GZIP_LEVEL reaches the compressor: level 9 makes the same answer smaller than 1."""
    sizes = {}
    for level in (1, 9):
        with TestClient(create_app(settings.model_copy(update={"gzip_level": level}))) as c:
            response = c.get("/rest/codelist/DSM/CL_AREA", headers={"accept-encoding": "gzip"})
            assert response.headers["content-encoding"] == "gzip" and b"CL_AREA" in response.content
            sizes[level] = response.num_bytes_downloaded
    assert sizes[9] < sizes[1]


def test_trailing_slash_and_encoded_paths(client):
    assert client.get("/rest/codelist/DSM/CL_SEX/latest/").status_code == 200
    assert client.get("/rest/v2/structure/codelist/DSM/CL_SEX,CL_FREQ/~/").status_code == 200
    assert client.get("/rest/v2/structure/codelist/DSM/CL_SEX%2CCL_FREQ/~").status_code == 200
