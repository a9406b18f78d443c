"""Structure maintenance (v2 POST, PUT, DELETE) as an admin would use it, and refused otherwise."""

from lxml import etree

from app.formats.sdmxml import NS21
from app.readers.structure import merge

REG = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/registry}"
NEW_CODELIST = """<str:Codelist xmlns:str="{str}" xmlns:com="{com}" id="CL_{name}" agencyID="DSM"
    version="1.0" isFinal="true"><com:Name xml:lang="en">Test list</com:Name>
    <com:Name xml:lang="ru">Тестовый список</com:Name>{codes}</str:Codelist>"""
CODE = '<str:Code xmlns:str="{str}" xmlns:com="{com}" id="{id}"><com:Name xml:lang="en">{id}</com:Name></str:Code>'


def codelist(name: str, codes: list[str]) -> str:
    body = "".join(CODE.format(str=NS21["str"], com=NS21["com"], id=c) for c in codes)
    return NEW_CODELIST.format(str=NS21["str"], com=NS21["com"], name=name, codes=body)


def message(*elements: str) -> bytes:
    return merge(elements)


def statuses(response) -> list[str]:
    root = etree.fromstring(response.content)
    return [s.get("status") for s in root.iter(f"{REG}StatusMessage")]


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "content-type": "application/xml"}


def test_post_creates_then_reports_unchanged(client, admin_token):
    body = message(codelist("TEST", ["A", "B"]))
    created = client.post("/rest/v2/structure/", content=body, headers=auth(admin_token))
    assert created.status_code == 201, created.text
    assert statuses(created) == ["Success"]
    fetched = client.get("/rest/codelist/DSM/CL_TEST/1.0")
    assert fetched.status_code == 200
    assert "Тестовый список" in fetched.text
    again = client.post("/rest/v2/structure/", content=body, headers=auth(admin_token))
    assert again.status_code == 207
    assert statuses(again) == ["Warning"]


def test_post_conflicting_content_is_409_and_changes_nothing(client, admin_token):
    client.post(
        "/rest/v2/structure/", content=message(codelist("TEST", ["A"])), headers=auth(admin_token)
    )
    before = client.get("/rest/codelist/DSM/CL_TEST").content
    clash = message(codelist("TEST", ["A", "B"]), codelist("OTHER", ["X"]))
    response = client.post("/rest/v2/structure/", content=clash, headers=auth(admin_token))
    assert response.status_code == 409
    assert client.get("/rest/codelist/DSM/CL_OTHER").status_code == 404
    assert (
        client.get("/rest/codelist/DSM/CL_TEST").content.split(b"<mes:Structures>")[1]
        == before.split(b"<mes:Structures>")[1]
    )


def test_unresolved_reference_is_422(client, admin_token):
    flow = (
        f'<str:Dataflow xmlns:str="{NS21["str"]}" xmlns:com="{NS21["com"]}" id="DF_X" '
        'agencyID="DSM" version="1.0"><com:Name xml:lang="en">X</com:Name><str:Structure>'
        '<Ref id="DSD_MISSING" version="1.0" agencyID="DSM" package="datastructure" '
        'class="DataStructure"/></str:Structure></str:Dataflow>'
    )
    response = client.post("/rest/v2/structure", content=message(flow), headers=auth(admin_token))
    assert response.status_code == 422
    assert "DSD_MISSING" in response.text
    assert client.get("/rest/dataflow/DSM/DF_X").status_code == 404


def test_put_replaces_and_delete_removes(client, admin_token):
    path = "/rest/v2/structure/codelist/DSM/CL_TEST/1.0"
    created = client.put(path, content=message(codelist("TEST", ["A"])), headers=auth(admin_token))
    assert created.status_code == 201
    replaced = client.put(
        path, content=message(codelist("TEST", ["A", "B"])), headers=auth(admin_token)
    )
    assert replaced.status_code == 200
    assert 'id="B"' in client.get("/rest/codelist/DSM/CL_TEST").text
    wrong = client.put(
        "/rest/v2/structure/codelist/DSM/CL_OTHER/1.0",
        content=message(codelist("TEST", ["A"])),
        headers=auth(admin_token),
    )
    assert wrong.status_code == 400
    deleted = client.delete(path, headers=auth(admin_token))
    assert deleted.status_code == 200
    assert client.get("/rest/codelist/DSM/CL_TEST").status_code == 404
    assert client.delete(path, headers=auth(admin_token)).status_code == 404


def test_structures_in_use_cannot_be_deleted_or_broken(client, admin_token):
    response = client.delete(
        "/rest/v2/structure/codelist/DSM/CL_SEX/1.0", headers=auth(admin_token)
    )
    assert response.status_code == 409
    assert "DSD_FOREIGN_POP" in response.text
    broken = client.put(
        "/rest/v2/structure/codelist/DSM/CL_SEX/1.0",
        content=message(codelist("SEX", ["F"])),
        headers=auth(admin_token),
    )
    assert broken.status_code in (409, 422)
    assert 'id="M"' in client.get("/rest/codelist/DSM/CL_SEX").text


def test_maintenance_needs_an_admin(client, partner_token):
    body = message(codelist("TEST", ["A"]))
    anonymous = client.post(
        "/rest/v2/structure/", content=body, headers={"content-type": "application/xml"}
    )
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    partner = client.post("/rest/v2/structure/", content=body, headers=auth(partner_token))
    assert partner.status_code == 403
    bad = client.post("/rest/v2/structure/", content=body, headers=auth("dsm_not-a-token"))
    assert bad.status_code == 401
    assert client.get("/rest/codelist/DSM/CL_TEST").status_code == 404


def test_malformed_body_is_400_with_position(client, admin_token):
    response = client.post(
        "/rest/v2/structure/", content=b"<mes:Structure", headers=auth(admin_token)
    )
    assert response.status_code == 400
    assert "line 1" in response.text


def test_sdmx_ml_30_submission_is_read(client, admin_token):
    ml30 = client.get(
        "/rest/v2/structure/codelist/DSM/CL_DECISION/1.0",
        headers={"accept": "application/vnd.sdmx.structure+xml;version=3.0.0"},
    ).content
    ml30 = ml30.replace(b"CL_DECISION(", b"CL_DECISION_COPY(").replace(
        b'id="CL_DECISION"', b'id="CL_DECISION_COPY"'
    )
    response = client.post("/rest/v2/structure/", content=ml30, headers=auth(admin_token))
    assert response.status_code == 201, response.text
    copy = client.get("/rest/codelist/DSM/CL_DECISION_COPY/1.0")
    original = client.get("/rest/codelist/DSM/CL_DECISION/1.0")
    codes = [etree.fromstring(r.content).iter(f"{{{NS21['str']}}}Code") for r in (copy, original)]
    assert [c.get("id") for c in codes[0]] == [c.get("id") for c in codes[1]]
