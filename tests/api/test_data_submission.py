"""Data submission over HTTP: formats, actions, versions, scopes, reports and history, on both
databases. Observation tables are compared before and after to prove bad input changes nothing."""

import gzip
import io

import pytest

from app.services.auth import add_user, create_token
from app.storage import data_queries
from app.storage import observations as store

FLOW = ("DSM", "DF_FOREIGN_POP", "1.0")
CSV20 = "application/vnd.sdmx.data+csv;version=2.0.0"
CSV21 = "application/vnd.sdmx.data+csv;version=2.1.0"
HEADER = (
    "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
    "TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE"
)


def csv(*rows: str, action: str = "I", header: str = HEADER) -> bytes:
    lines = [header]
    for row in rows:
        lines.append(f"dataflow,DSM:DF_FOREIGN_POP(1.0),{action},{row}")
    return ("\n".join(lines) + "\n").encode()


BASE = [
    "A,KAZ,UZB,F,_T,NSO,2022,1200,A,PS",
    "A,KAZ,UZB,F,_T,NSO,2023,1350,A,PS",
    "A,KAZ,UZB,M,_T,NSO,2022,2100,A,PS",
    "A,KAZ,RUS,_T,_T,NSO,2023,41000,A,PS",
]


def bearer(token: str, media: str = CSV20) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "content-type": media}


def snapshot(client, at=None) -> list[tuple]:
    flow = client.app.state.structures.flows()[FLOW]
    tables = store.tables_for(flow)
    with client.app.state.engine.connect() as conn:
        if not store.exists(conn, tables):
            return []
        return store.snapshot(conn, tables, flow.ref, at)


def current(client, citizenship: str, sex: str, period: str) -> dict:
    """One current observation as {column: value}."""
    flow = client.app.state.structures.flows()[FLOW]
    tables = store.tables_for(flow)
    names = [*tables.key, *tables.values]
    rows = [dict(zip(names, r, strict=True)) for r in snapshot(client)]
    return next(
        r
        for r in rows
        if (r["CITIZENSHIP"], r["SEX"], r["TIME_PERIOD"]) == (citizenship, sex, period)
    )


def history_rows(client) -> int:
    flow = client.app.state.structures.flows()[FLOW]
    tables = store.tables_for(flow)
    with client.app.state.engine.connect() as conn:
        from sqlalchemy import func, select

        return conn.execute(select(func.count()).select_from(tables.obs)).scalar_one()


@pytest.fixture
def provider_token(client) -> str:
    add_user(client.app.state.engine, "kz-stat", "provider", "KAZ_STAT")
    return create_token(client.app.state.engine, client.app.state.secret, "kz-stat")


def post(client, token, body, media=CSV20, **params):
    return client.post("/rest/v2/data/", content=body, headers=bearer(token, media), params=params)


def test_accepts_then_resend_changes_nothing(client, admin_token):
    first = post(client, admin_token, csv(*BASE))
    assert first.status_code == 201, first.text
    report = first.json()
    assert report["status"] == "accepted"
    assert report["counts"] == {
        "series": 3,
        "inserted": 4,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
    }
    assert first.headers["location"] == f"/api/submissions/{report['id']}"
    assert len(snapshot(client)) == 4
    again = post(client, admin_token, csv(*BASE))
    assert again.status_code == 200
    assert again.json()["counts"]["unchanged"] == 4
    assert history_rows(client) == 4  # no new versions


def test_update_keeps_history_and_as_of(client, admin_token):
    post(client, admin_token, csv(*BASE))
    before = snapshot(client)
    changed = post(client, admin_token, csv("A,KAZ,UZB,F,_T,NSO,2023,1400,E,PS"))
    assert changed.json()["counts"]["updated"] == 1
    after = snapshot(client)
    assert current(client, "UZB", "F", "2023")["OBS_VALUE"] == "1400"
    assert len(after) == len(before)
    assert history_rows(client) == 5
    listing = client.get(
        "/api/submissions", headers={"authorization": f"Bearer {admin_token}"}
    ).json()
    first_visible = listing[-1]["visible_from"]
    from datetime import datetime

    assert snapshot(client, datetime.fromisoformat(first_visible)) == before


def test_delete_at_series_level_and_bulk(client, admin_token):
    post(client, admin_token, csv(*BASE))
    deleted = post(client, admin_token, csv("A,KAZ,UZB,F,_T,NSO,,,,", action="D"))
    assert deleted.status_code == 201, deleted.text
    assert deleted.json()["counts"]["deleted"] == 2
    assert len(snapshot(client)) == 2
    bulk = post(client, admin_token, csv("A,KAZ,,,,,,,,", action="D"))
    assert bulk.json()["counts"]["deleted"] == 2
    assert snapshot(client) == []
    assert history_rows(client) == 4  # deletions are closed rows


def test_delete_named_attribute_only(client, admin_token):
    post(client, admin_token, csv(*BASE))
    response = post(client, admin_token, csv("A,KAZ,UZB,F,_T,NSO,2022,,A,", action="D"))
    assert response.json()["counts"]["updated"] == 1
    row = current(client, "UZB", "F", "2022")
    assert row["OBS_VALUE"] == "1200" and row["OBS_STATUS"] is None  # OBS_STATUS gone, value kept


def test_invalid_content_is_422_with_complete_report(client, admin_token):
    post(client, admin_token, csv(*BASE))
    before = snapshot(client)
    bad = post(
        client,
        admin_token,
        csv(
            "A,KAZ,XXX,F,_T,NSO,2022,5,A,PS",
            "A,KAZ,UZB,F,_T,NSO,2022-Q1,5,A,PS",
            "A,KAZ,UZB,F,_T,NSO,2021,abc,A,PS",
        ),
    )
    assert bad.status_code == 422
    report = bad.json()
    assert report["status"] == "rejected"
    codes = {f["code"] for f in report["findings"]}
    assert {"unknown-code", "frequency-mismatch", "invalid-value"} <= codes
    assert all(f["location"].get("position") for f in report["findings"])
    assert report["counts"] == {
        "series": 0,
        "inserted": 0,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
    }
    assert snapshot(client) == before
    rejected = client.get(
        f"/api/submissions/{report['id']}", headers={"authorization": f"Bearer {admin_token}"}
    ).json()
    assert rejected["status"] == "rejected" and rejected["report"]["findings"]


def test_findings_name_the_line_of_each_bad_row(client, admin_token):
    """Readers keep positions as line numbers and format only those of rows with findings."""
    rows = [
        *BASE[:2],
        "A,KAZ,XXX,F,_T,NSO,2022,5,A,PS",
        BASE[2],
        "A,KAZ,UZB,F,_T,NSO,2021,abc,A,PS",
    ]
    report = post(client, admin_token, csv(*rows)).json()
    found = sorted((f["location"]["position"], f["code"]) for f in report["findings"])
    assert found == [("line 4", "unknown-code"), ("line 6", "invalid-value")]


def test_duplicates_in_one_message_are_refused(client, admin_token):
    response = post(client, admin_token, csv(BASE[0], BASE[0]))
    assert response.status_code == 422
    assert response.json()["findings"][0]["code"] == "duplicate-observation"
    assert snapshot(client) == []


def test_a_repeated_observation_is_placed_on_its_line(client, admin_token):
    """Rows of one series come together: a period given twice within them is found as the rows
    stream, and the finding says where."""
    body = csv(BASE[0], BASE[1], BASE[0].replace(",1200,", ",1300,"), BASE[2])
    response = post(client, admin_token, body)
    assert response.status_code == 422
    (finding,) = response.json()["findings"]
    assert finding["code"] == "duplicate-observation"
    assert finding["location"]["position"] == "line 4"
    assert finding["location"]["series_key"] == "A.KAZ.UZB.F._T.NSO"
    assert snapshot(client) == []


def test_a_series_coming_back_is_checked_against_all_its_rows(client, admin_token):
    """A series whose rows are split by another series' rows: duplicates and series attributes
    across the parts are found too (over the whole staged dataset)."""
    other = "A,KAZ,RUS,_T,_T,NSO,2023,41000,A,PS"
    duplicate = post(client, admin_token, csv(BASE[0], other, BASE[0]))
    assert duplicate.status_code == 422
    assert [f["code"] for f in duplicate.json()["findings"]] == ["duplicate-observation"]
    assert "A.KAZ.UZB.F._T.NSO 2022 is given 2 times" in duplicate.json()["findings"][0]["message"]
    changed_unit = BASE[1].replace(",PS", ",NUMBER")
    contradiction = post(client, admin_token, csv(BASE[0], other, changed_unit))
    assert contradiction.status_code == 422
    (finding,) = contradiction.json()["findings"]
    assert finding["code"] == "inconsistent-attribute"
    assert finding["location"]["component"] == "UNIT_MEASURE"
    assert snapshot(client) == []
    fine = post(client, admin_token, csv(BASE[0], other, BASE[1]))
    assert fine.status_code == 201, fine.text
    assert fine.json()["counts"]["series"] == 2 and fine.json()["counts"]["inserted"] == 3


def test_a_series_attribute_with_two_values_in_one_series(client, admin_token):
    response = post(client, admin_token, csv(BASE[0], BASE[1].replace(",PS", ",NUMBER")))
    assert response.status_code == 422
    (finding,) = response.json()["findings"]
    assert finding["code"] == "inconsistent-attribute"
    assert finding["location"]["position"] == "line 3"
    assert finding["location"]["value"] == "NUMBER"


def test_many_series_with_a_small_key_cache(client, admin_token, monkeypatch):
    """Series ids are cached while a dataset is written; past the cache's size they are looked
    up again, and counts and versions stay exact (new, then changed and unchanged)."""
    from app.storage import versions

    monkeypatch.setattr(versions, "CACHE_SERIES", 3)
    citizenships = ["UZB", "RUS", "TJK", "KGZ", "ARM", "AZE", "GEO"]
    rows = [
        f"A,KAZ,{c},F,_T,NSO,{y},{i},A,PS" for i, c in enumerate(citizenships) for y in (2021, 2022)
    ]
    first = post(client, admin_token, csv(*rows))
    assert first.status_code == 201, first.text
    assert first.json()["counts"] == {
        "series": 7,
        "inserted": 14,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
    }
    again = [r.replace(",2022,0,", ",2022,99,") for r in rows] + ["A,KAZ,UZB,M,_T,NSO,2022,5,A,PS"]
    second = post(client, admin_token, csv(*again))
    assert second.status_code == 201, second.text
    assert second.json()["counts"] == {
        "series": 8,
        "inserted": 1,
        "updated": 1,
        "deleted": 0,
        "unchanged": 13,
    }
    assert len(snapshot(client)) == 15


def test_provider_scope(client, provider_token):
    ok = post(client, provider_token, csv(*BASE))
    assert ok.status_code == 201, ok.text
    before = snapshot(client)
    other = post(client, provider_token, csv("A,RUS,UZB,F,_T,NSO,2022,7,A,PS"))
    assert other.status_code == 403
    assert other.json()["findings"][0]["code"] == "outside-scope"
    assert snapshot(client) == before
    mine = client.get(
        "/api/submissions", headers={"authorization": f"Bearer {provider_token}"}
    ).json()
    assert {s["status"] for s in mine} == {"accepted", "rejected"}


def test_partner_and_anonymous_may_not_write(client, partner_token):
    assert (
        client.post(
            "/rest/v2/data/", content=csv(*BASE), headers={"content-type": CSV20}
        ).status_code
        == 401
    )
    assert post(client, partner_token, csv(*BASE)).status_code == 403
    assert snapshot(client) == []


def test_dry_run_counts_what_would_happen(client, admin_token):
    response = post(client, admin_token, csv(*BASE), dryRun="true")
    assert response.status_code == 200
    assert response.json()["status"] == "dry-run"
    assert response.json()["counts"]["inserted"] == 4
    assert snapshot(client) == []


def test_malformed_and_unknown_structure(client, admin_token):
    broken = post(client, admin_token, b"STRUCTURE,STRUCTURE_ID\n\xff\xfe,x\n")
    assert broken.status_code == 400
    unknown = post(client, admin_token, csv(*BASE).replace(b"DF_FOREIGN_POP", b"DF_NOTHING"))
    assert unknown.status_code == 404
    assert snapshot(client) == []


def test_gzip_body_and_multipart_upload(client, admin_token):
    body = gzip.compress(csv(*BASE))
    headers = {**bearer(admin_token), "content-encoding": "gzip"}
    assert client.post("/rest/v2/data/", content=body, headers=headers).status_code == 201
    upload = client.post(
        "/rest/v2/data/",
        headers={"authorization": f"Bearer {admin_token}"},
        files={"file": ("data.csv.gz", io.BytesIO(body), "application/gzip")},
    )
    assert upload.status_code == 200, upload.text
    assert upload.json()["counts"]["unchanged"] == 4


def test_replace_31_drops_omitted_observation_values(client, admin_token):
    post(client, admin_token, csv(*BASE))
    header = HEADER.replace(",OBS_STATUS,UNIT_MEASURE", "")
    body = csv("A,KAZ,UZB,F,_T,NSO,2022,1200", action="R", header=header)
    response = post(client, admin_token, body, media=CSV21)
    assert response.json()["counts"]["updated"] == 1, response.text
    row = current(client, "UZB", "F", "2022")
    assert row["OBS_STATUS"] is None and row["UNIT_MEASURE"] == "PS"  # series value kept


def test_append_does_not_overwrite(client, admin_token):
    post(client, admin_token, csv(*BASE))
    response = post(
        client,
        admin_token,
        csv("A,KAZ,UZB,F,_T,NSO,2022,9999,A,PS", "A,KAZ,UZB,F,_T,NSO,2024,1500,A,PS", action="A"),
    )
    assert response.json()["counts"]["inserted"] == 1
    assert response.json()["counts"]["unchanged"] == 1


def test_revert_restores_the_state_before(client, admin_token):
    post(client, admin_token, csv(*BASE))
    before = snapshot(client)
    change = post(
        client,
        admin_token,
        csv("A,KAZ,UZB,F,_T,NSO,2023,1400,E,PS", "A,KAZ,TJK,F,_T,NSO,2023,10,E,PS"),
    ).json()
    reverted = client.post(
        f"/api/submissions/{change['id']}/revert",
        headers={"authorization": f"Bearer {admin_token}"},
    )
    assert reverted.status_code == 201, reverted.text
    assert reverted.json()["counts"] == {
        "series": 0,
        "inserted": 0,
        "updated": 1,
        "deleted": 1,
        "unchanged": 0,
    }
    assert snapshot(client) == before


def test_dataset_attributes_are_stored_and_versioned(client, admin_token):
    header = HEADER + ",COMMENT_DSET"
    body = csv(*[row + ",Illustrative" for row in BASE], header=header)
    assert post(client, admin_token, body).status_code == 201
    flow = client.app.state.structures.flows()[FLOW]
    with client.app.state.engine.connect() as conn:
        assert data_queries.dataset_attribute_values(conn, flow.ref) == {
            "COMMENT_DSET": "Illustrative"
        }
    clash = csv(BASE[0] + ",One", BASE[1] + ",Two", header=header)
    response = post(client, admin_token, clash)
    assert response.status_code == 422
    assert response.json()["findings"][0]["code"] == "attribute-level"


def test_reports_follow_the_published_schema(client, admin_token):
    import json

    import jsonschema

    from app.settings import BUNDLED

    schema = json.loads((BUNDLED / "docs" / "submission-report.schema.json").read_text())
    for body in (csv(*BASE), csv("A,KAZ,XXX,F,_T,NSO,2022,5,A,PS")):
        jsonschema.validate(post(client, admin_token, body).json(), schema)
    jsonschema.validate(post(client, admin_token, csv(*BASE), dryRun="true").json(), schema)
