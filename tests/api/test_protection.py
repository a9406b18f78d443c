"""Data protection over HTTP, on both databases: confidential values, embargoed releases,
restricted dataflows, grants and the audit log.

The leak matrix loads the same public data into two databases; the second also holds
confidential values and an embargoed revision. Every role that may see neither must get, from
every endpoint in every format, exactly what the first database answers: status, body (message
ids aside), ETag and Last-Modified. The clock is injected, so "before the release" is exact."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.main import create_app
from app.services.auth import add_user, create_token
from app.settings import Settings

FLOW = "DSM,DF_FOREIGN_POP,1.0"
V2 = "/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/1.0"
CSV20 = "application/vnd.sdmx.data+csv;version=2.0.0"
HEADER = (
    "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,CITIZENSHIP,SEX,AGE,DATA_SOURCE,"
    "TIME_PERIOD,OBS_VALUE,CONF_STATUS"
)
PUBLIC = [
    "A,KAZ,UZB,F,_T,NSO,2022,1200,",
    "A,KAZ,UZB,F,_T,NSO,2023,1350,F",
    "A,KAZ,RUS,_T,_T,NSO,2023,41000,",
]
CONFIDENTIAL = [
    "A,KAZ,TJK,F,_T,NSO,2023,17,C",  # a series of confidential values only
    "A,KAZ,UZB,F,_T,NSO,2021,900,C",  # a confidential value in a public series
]
EMBARGOED = [
    "A,KAZ,UZB,F,_T,NSO,2023,1500,",  # revises a public value
    "A,KAZ,UZB,F,_T,NSO,2024,1600,",  # a new one
]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T_CONF = T0 + timedelta(hours=1)
T_EMBARGO = T0 + timedelta(hours=2)
RELEASE = T0 + timedelta(days=1)
NOW = T0 + timedelta(hours=3)


def csv(rows: list[str], action: str = "I") -> bytes:
    lines = [HEADER, *[f"dataflow,DSM:DF_FOREIGN_POP(1.0),{action},{r}" for r in rows]]
    return ("\n".join(lines) + "\n").encode()


def post(client: TestClient, token: str, rows: list[str], at: datetime, release=None):  # type: ignore[no-untyped-def]
    client.app.state.clock.fixed = at
    params = {"releaseAt": release.isoformat()} if release else {}
    headers = {"authorization": f"Bearer {token}", "content-type": CSV20}
    return client.post("/rest/v2/data/", content=csv(rows), params=params, headers=headers)


def values(client: TestClient, token: str | None = None, path: str = V2, **params: str) -> dict:
    """{(citizenship, sex, period): value} from SDMX-CSV 2.0 (labels off)."""
    headers = {"accept": CSV20}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = client.get(path, params=params, headers=headers)
    if response.status_code in (204, 404):
        return {}
    assert response.status_code == 200, response.text
    lines = response.text.strip().splitlines()
    names = lines[0].split(",")
    found = {}
    for line in lines[1:]:
        row = dict(zip(names, line.split(","), strict=False))
        found[(row["CITIZENSHIP"], row["SEX"], row["TIME_PERIOD"])] = row["OBS_VALUE"]
    return found


class World:
    """One app with its users: tokens by role name."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        engine, secret = client.app.state.engine, client.app.state.secret
        users = {
            "admin": ("admin", None, ()),
            "kaz": ("provider", "KAZ_STAT", ()),
            "kgz": ("provider", "KGZ_STAT", ()),
            "partner": ("partner", None, ()),
            "analyst": ("partner", None, ("conf",)),
            "press": ("partner", None, ("early",)),
        }
        self.tokens: dict[str, str | None] = {"anonymous": None}
        for name, (role, provider, groups) in users.items():
            add_user(engine, name, role, provider, groups)
            self.tokens[name] = create_token(engine, secret, name)
        self.grant("group:conf", "DSM:*", "read_confidential")
        self.grant("group:early", "DSM:DF_FOREIGN_POP*", "read_embargoed")

    def grant(self, grantee: str, dataflow: str, action: str) -> None:
        response = self.client.post(
            "/api/grants",
            json={"grantee": grantee, "dataflow": dataflow, "action": action},
            headers=self.auth("admin"),
        )
        assert response.status_code == 201, response.text

    def auth(self, role: str) -> dict[str, str]:
        token = self.tokens[role]
        return {"authorization": f"Bearer {token}"} if token else {}

    def get(self, role: str, path: str, accept: str | None = None, **params: str):  # type: ignore[no-untyped-def]
        headers = self.auth(role)
        if accept:
            headers["accept"] = accept
        return self.client.get(path, params=params, headers=headers)


@pytest.fixture
def worlds(client: TestClient, second_database_url: str) -> Iterator[tuple[World, World]]:
    """(baseline, full): the same public data; `full` also has confidential values and an
    embargoed revision (pending at NOW)."""
    settings = Settings(
        database_url=second_database_url,
        secret_key="test-secret",
        auto_setup=True,
        rate_limit=0,
        rate_limit_anonymous=0,
        _env_file=None,
    )
    with TestClient(create_app(settings)) as other:
        baseline, full = World(other), World(client)
        for world in (baseline, full):
            assert post(world.client, world.tokens["kaz"], PUBLIC, T0).status_code == 201
        assert post(full.client, full.tokens["kaz"], CONFIDENTIAL, T_CONF).status_code == 201
        embargoed = post(full.client, full.tokens["kaz"], EMBARGOED, T_EMBARGO, RELEASE)
        assert embargoed.status_code == 201, embargoed.text
        assert embargoed.json()["release_at"] == RELEASE.isoformat()
        for world in (baseline, full):
            world.client.app.state.clock.fixed = NOW
        yield baseline, full


V1 = f"/rest/data/{FLOW}/all"
ML21 = "application/vnd.sdmx.genericdata+xml;version=2.1"
ENDPOINTS = [
    (V1, ML21, {}),
    (V1, "application/vnd.sdmx.structurespecificdata+xml;version=2.1", {}),
    (V1, "application/vnd.sdmx.generictimeseriesdata+xml;version=2.1", {}),
    (V1, "application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1", {}),
    (V1, "application/vnd.sdmx.data+csv;version=1.0.0", {}),
    (V1, "application/vnd.sdmx.data+json;version=1.0.0", {}),
    (V2, "application/vnd.sdmx.data+xml;version=3.0.0", {}),
    (V2, CSV20, {}),
    (V2, "application/vnd.sdmx.data+json;version=2.0.0", {}),
    (V1, ML21, {"updatedAfter": (T0 - timedelta(hours=1)).isoformat()}),
    (V2, "application/vnd.sdmx.data+xml;version=3.0.0", {"updatedAfter": T0.isoformat()}),
    (V2, "application/vnd.sdmx.data+xml;version=3.0.0", {"includeHistory": "true"}),
    (V1, ML21, {"includeHistory": "true"}),
    (V2, CSV20, {"asOf": NOW.isoformat()}),
    (V2, CSV20, {"lastNObservations": "1"}),
    (f"/rest/data/{FLOW}/A.KAZ.TJK.F._T.NSO", ML21, {}),  # confidential-only series
    (f"{V2}/A.KAZ.TJK.F._T.NSO", CSV20, {}),
    (V2, CSV20, {"c[TIME_PERIOD]": "ge:2024"}),  # embargoed-only period
    (f"/rest/availableconstraint/{FLOW}/all", None, {}),
    (f"/rest/availableconstraint/{FLOW}/A.KAZ.TJK.F._T.NSO", None, {"mode": "available"}),
    ("/rest/v2/availability/dataflow/DSM/DF_FOREIGN_POP/1.0", None, {}),
    (
        "/rest/v2/availability/dataflow/DSM/DF_FOREIGN_POP/1.0/*/CITIZENSHIP",
        "application/vnd.sdmx.structure+json;version=2.0.0",
        {},
    ),
]
PUBLIC_ROLES = ["anonymous", "partner", "kgz"]
_ID = re.compile(r"DSM_[0-9A-F]{12}")


def _same(a, b) -> list[str]:  # type: ignore[no-untyped-def]
    """Where two responses differ (message ids aside)."""
    differences = []
    if a.status_code != b.status_code:
        differences.append(f"status {a.status_code} != {b.status_code}")
    if _ID.sub("ID", a.text) != _ID.sub("ID", b.text):
        differences.append("body")
    for header in ("etag", "last-modified", "content-type"):
        if a.headers.get(header) != b.headers.get(header):
            differences.append(f"{header}: {a.headers.get(header)} != {b.headers.get(header)}")
    return differences


def test_public_roles_see_exactly_the_public_baseline(worlds):
    baseline, full = worlds
    leaks = []
    for role in PUBLIC_ROLES:
        for path, accept, params in ENDPOINTS:
            expected = baseline.get(role, path, accept, **params)
            got = full.get(role, path, accept, **params)
            assert expected.status_code in (200, 204, 404), (path, accept, expected.text)
            differences = _same(expected, got)
            if differences:
                leaks.append((role, path, accept, params, differences))
    assert leaks == []


# What each role sees of the full database at NOW (CSV), as (citizenship, sex, period) -> value.
SEEN_PUBLIC = {
    ("UZB", "F", "2022"): "1200",
    ("UZB", "F", "2023"): "1350",
    ("RUS", "_T", "2023"): "41000",
}
SEEN_CONFIDENTIAL = {("TJK", "F", "2023"): "17", ("UZB", "F", "2021"): "900"}
SEEN_RELEASED = {("UZB", "F", "2023"): "1500", ("UZB", "F", "2024"): "1600"}
EXPECTED = {
    "anonymous": SEEN_PUBLIC,
    "partner": SEEN_PUBLIC,
    "kgz": SEEN_PUBLIC,
    "kaz": {**SEEN_PUBLIC, **SEEN_RELEASED},  # its own embargoed submission
    "analyst": {**SEEN_PUBLIC, **SEEN_CONFIDENTIAL},
    "press": {**SEEN_PUBLIC, **SEEN_RELEASED},
    "admin": {**SEEN_PUBLIC, **SEEN_CONFIDENTIAL, **SEEN_RELEASED},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_sees_what_it_may(worlds, role):
    baseline, full = worlds
    assert values(full.client, full.tokens[role]) == EXPECTED[role]
    differs = EXPECTED[role] != SEEN_PUBLIC
    for path, accept, params in ENDPOINTS[:9]:  # every data format: differs exactly when due
        same = not _same(
            baseline.get(role, path, accept, **params), full.get(role, path, accept, **params)
        )
        assert same != differs, (role, path, accept)


def test_embargo_boundary_and_updated_after_counts_from_the_release(worlds):
    _, full = worlds
    clock = full.client.app.state.clock
    clock.fixed = RELEASE - timedelta(microseconds=1)
    assert values(full.client) == SEEN_PUBLIC
    clock.fixed = RELEASE
    at_release = values(full.client)
    assert at_release == {**SEEN_PUBLIC, **SEEN_RELEASED}
    clock.fixed = RELEASE + timedelta(hours=5)
    assert values(full.client) == at_release
    # a change counts from its release time, not its upload
    changed = values(full.client, updatedAfter=(T_EMBARGO + timedelta(minutes=1)).isoformat())
    assert changed == SEEN_RELEASED
    assert values(full.client, updatedAfter=(RELEASE + timedelta(seconds=1)).isoformat()) == {}
    # and the ETag moved with it
    clock.fixed = RELEASE - timedelta(seconds=1)
    before = full.get("anonymous", V2, CSV20).headers["etag"]
    clock.fixed = RELEASE
    assert full.get("anonymous", V2, CSV20).headers["etag"] != before


def test_writes_over_a_pending_release_are_refused(worlds):
    _, full = worlds
    kaz = full.tokens["kaz"]
    history = full.get("admin", V2, CSV20, includeHistory="false").text
    refused = post(full.client, kaz, ["A,KAZ,UZB,F,_T,NSO,2023,1777,"], NOW)
    assert refused.status_code == 409, refused.text
    assert refused.json()["findings"][0]["code"] == "conflict"
    assert "embargo" in refused.json()["findings"][0]["message"]
    assert full.get("admin", V2, CSV20, includeHistory="false").text == history
    other = post(full.client, kaz, ["A,KAZ,UZB,F,_T,NSO,2022,1250,"], NOW + timedelta(minutes=1))
    assert other.status_code == 201, other.text  # another observation is free
    after = post(
        full.client, kaz, ["A,KAZ,UZB,F,_T,NSO,2023,1777,"], RELEASE + timedelta(seconds=1)
    )
    assert after.status_code == 201, after.text


def _release_id(world: World) -> int:
    listed = world.get("admin", "/api/releases").json()
    assert [r["release_at"] for r in listed] == [RELEASE.isoformat()]
    return listed[0]["submission"]


def test_releases_are_listed_moved_and_cancelled(worlds):
    _, full = worlds
    ident = _release_id(full)
    assert [r["submission"] for r in full.get("kaz", "/api/releases").json()] == [ident]
    assert full.get("kgz", "/api/releases").json() == []
    assert full.get("partner", "/api/releases").status_code == 403
    assert full.get("anonymous", "/api/releases").status_code == 401
    later = RELEASE + timedelta(days=2)
    # another provider cannot touch it; the past is refused
    assert (
        full.client.put(
            f"/api/releases/{ident}",
            json={"releaseAt": later.isoformat()},
            headers=full.auth("kgz"),
        ).status_code
        == 404
    )
    past = full.client.put(
        f"/api/releases/{ident}", json={"releaseAt": T0.isoformat()}, headers=full.auth("kaz")
    )
    assert past.status_code == 422
    moved = full.client.put(
        f"/api/releases/{ident}", json={"releaseAt": later.isoformat()}, headers=full.auth("kaz")
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["release_at"] == later.isoformat()
    clock = full.client.app.state.clock
    clock.fixed = RELEASE + timedelta(hours=1)  # the old time: nothing yet
    assert values(full.client) == SEEN_PUBLIC
    clock.fixed = later
    assert values(full.client) == {**SEEN_PUBLIC, **SEEN_RELEASED}
    clock.fixed = later + timedelta(seconds=1)  # released: too late to cancel
    assert (
        full.client.delete(f"/api/releases/{ident}", headers=full.auth("admin")).status_code == 409
    )


def test_a_cancelled_release_leaves_no_trace_in_the_data(worlds):
    _, full = worlds
    ident = _release_id(full)
    before_admin = values(full.client, full.tokens["analyst"])
    cancelled = full.client.delete(f"/api/releases/{ident}", headers=full.auth("kaz"))
    assert cancelled.status_code == 204, cancelled.text
    assert full.get("admin", "/api/releases").json() == []
    assert values(full.client, full.tokens["admin"]) == {**SEEN_PUBLIC, **SEEN_CONFIDENTIAL}
    full.client.app.state.clock.fixed = RELEASE + timedelta(days=1)
    assert values(full.client, full.tokens["analyst"]) == before_admin
    submission = full.get("admin", f"/api/submissions/{ident}").json()
    assert submission["status"] == "cancelled"
    # the observations are free again
    assert (
        post(
            full.client,
            full.tokens["kaz"],
            ["A,KAZ,UZB,F,_T,NSO,2023,1777,"],
            RELEASE + timedelta(days=1, seconds=1),
        ).status_code
        == 201
    )


def test_a_value_turned_confidential_looks_deleted(client):
    world = World(client)
    kaz = world.tokens["kaz"]
    assert post(client, kaz, PUBLIC, T0).status_code == 201
    assert post(client, kaz, ["A,KAZ,UZB,F,_T,NSO,2022,1200,C"], T_CONF).status_code == 201
    client.app.state.clock.fixed = NOW
    since = (T0 + timedelta(minutes=30)).isoformat()
    response = world.get("anonymous", V1, ML21, updatedAfter=since)
    assert response.status_code == 200, response.text
    from lxml import etree

    root = etree.fromstring(response.content)
    deleted = [d for d in root.iter("{*}DataSet") if d.get("action") == "Delete"]
    assert len(deleted) == 1
    key = {v.get("id"): v.get("value") for v in deleted[0].iter("{*}Value") if v.get("id")}
    assert (key["CITIZENSHIP"], key["SEX"]) == ("UZB", "F")
    assert [o.get("value") for o in deleted[0].iter("{*}ObsDimension")] == ["2022"]
    assert "1200" not in response.text
    assert ("UZB", "F", "2022") not in values(client)
    assert values(client, world.tokens["analyst"])[("UZB", "F", "2022")] == "1200"
    # history shows the public version, closed when it turned confidential; never the hidden one
    history = world.get(
        "anonymous", V2, "application/vnd.sdmx.data+xml;version=3.0.0", includeHistory="true"
    )
    assert history.status_code == 200
    assert 'CONF_STATUS="C"' not in history.text


def test_a_restricted_dataflow_does_not_exist_for_the_public(client):
    world = World(client)
    assert post(client, world.tokens["kaz"], PUBLIC, T0).status_code == 201
    client.app.state.clock.fixed = NOW
    restricted = client.put(
        "/api/restrictions/DSM:DF_FOREIGN_POP(1.0)", headers=world.auth("admin")
    )
    assert restricted.status_code == 201
    unknown = "DSM,DF_NO_SUCH_FLOW,1.0"
    for role in ("anonymous", "partner", "kaz", "press"):
        for template in ("/rest/data/{}/all", "/rest/availableconstraint/{}/all"):
            hidden = world.get(role, template.format(FLOW))
            missing = world.get(role, template.format(unknown))
            assert hidden.status_code == missing.status_code == 404
            assert hidden.text.replace("DF_FOREIGN_POP", "X") == missing.text.replace(
                "DF_NO_SUCH_FLOW", "X"
            )
        assert world.get(role, "/rest/v2/data/dataflow/DSM/DF_FOREIGN_POP/1.0").status_code == 404
        assert world.get(role, "/rest/schema/dataflow/DSM/DF_FOREIGN_POP/1.0").status_code == 404
        assert (
            world.get(
                role, "/rest/schema/provisionagreement/DSM/PA_KAZ_STAT_DF_FOREIGN_POP/1.0"
            ).status_code
            == 404
        )
        listing = world.get(
            role, "/rest/dataflow/DSM/all/latest", "application/vnd.sdmx.structure+xml;version=2.1"
        )
        assert listing.status_code == 200
        assert "DF_FOREIGN_POP" not in listing.text
        everything = world.get(
            role,
            "/rest/v2/structure/*/*/*/*",
            "application/vnd.sdmx.structure+json;version=2.0.0",
            references="none",
        )
        assert "DF_FOREIGN_POP" not in everything.text
        assert world.get(role, "/rest/dataflow/DSM/DF_FOREIGN_POP").status_code == 404
    for role in ("admin", "analyst"):
        assert world.get(role, f"/rest/data/{FLOW}/all").status_code == 200
        assert "DF_FOREIGN_POP" in world.get(role, "/rest/dataflow/DSM/all/latest").text
    assert (
        client.delete(
            "/api/restrictions/DSM:DF_FOREIGN_POP(1.0)", headers=world.auth("admin")
        ).status_code
        == 204
    )
    assert world.get("anonymous", f"/rest/data/{FLOW}/all").status_code == 200


def test_grants_decide_who_reads_and_writes(client):
    world = World(client)
    assert post(client, world.tokens["kaz"], PUBLIC, T0).status_code == 201
    client.app.state.clock.fixed = NOW
    grants = world.get("admin", "/api/grants", grantee="role:anonymous").json()
    assert [(g["dataflow"], g["action"]) for g in grants] == [("*", "read")]
    assert (
        client.delete(f"/api/grants/{grants[0]['id']}", headers=world.auth("admin")).status_code
        == 204
    )
    assert world.get("anonymous", f"/rest/data/{FLOW}/all").status_code == 401
    assert world.get("partner", f"/rest/data/{FLOW}/all").status_code == 200
    # providers write through the role's write grant; without it, 403 and nothing written
    write = world.get("admin", "/api/grants", grantee="role:provider").json()
    for grant in write:
        if grant["action"] == "write":
            client.delete(f"/api/grants/{grant['id']}", headers=world.auth("admin"))
    before = values(client, world.tokens["admin"])
    refused = post(client, world.tokens["kaz"], ["A,KAZ,UZB,F,_T,NSO,2022,1,"], NOW)
    assert refused.status_code == 403
    assert values(client, world.tokens["admin"]) == before
    # an unknown action or grantee is refused
    bad = client.post(
        "/api/grants",
        json={"grantee": "role:partner", "dataflow": "*", "action": "rule"},
        headers=world.auth("admin"),
    )
    assert bad.status_code == 422
    bad = client.post(
        "/api/grants",
        json={"grantee": "someone", "dataflow": "*", "action": "read"},
        headers=world.auth("admin"),
    )
    assert bad.status_code == 422
    assert world.get("partner", "/api/grants").status_code == 403


def test_the_audit_log_records_changes_and_privileged_reads(client):
    world = World(client)
    kaz = world.tokens["kaz"]
    assert post(client, kaz, PUBLIC, T0).status_code == 201
    assert post(client, kaz, ["A,RUS,UZB,F,_T,NSO,2022,7,"], T0).status_code == 403
    client.app.state.clock.fixed = NOW
    assert world.get("anonymous", V2, CSV20).status_code == 200
    assert world.get("analyst", V2, CSV20).status_code == 200
    assert world.get("admin", V2, CSV20, updatedAfter=T0.isoformat()).status_code in (200, 204)
    client.app.state.audit.flush()
    log = world.get("admin", "/api/audit", limit="1000").json()
    actions = [(r["principal"], r["action"], r["outcome"]) for r in log]
    assert ("kaz", "submission", "accepted") in actions
    assert ("kaz", "submission", "rejected") in actions
    assert ("admin", "grant.add", "ok") in actions
    assert ("analyst", "read.confidential", "ok") in actions
    assert ("admin", "read.confidential", "ok") in actions
    assert not any(
        r["action"].startswith("read") for r in log if r["principal"] in (None, "partner")
    )
    over_http = ("submission", "grant.", "read.")
    assert all(r["client"] for r in log if r["action"].startswith(over_http))
    filtered = world.get("admin", "/api/audit", principal="kaz", action="submission").json()
    assert {r["outcome"] for r in filtered} == {"accepted", "rejected"}
    # no secret and no message body in the log
    dump = str(log)
    assert not any(token and token in dump for token in world.tokens.values())
    assert "41000" not in dump
    assert world.get("partner", "/api/audit").status_code == 403
    # append-only, by the database itself
    engine = client.app.state.engine
    for statement in ("UPDATE audit_log SET outcome = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() == len(
            world.get("admin", "/api/audit", limit="1000").json()
        )


def test_wildcard_queries_leave_out_what_a_principal_may_not_see(client):
    world = World(client)
    assert post(client, world.tokens["kaz"], PUBLIC, T0).status_code == 201
    client.app.state.clock.fixed = T0 + timedelta(minutes=1)
    abroad = (
        "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,COUNTERPART_AREA,SEX,DATA_SOURCE,"
        "TIME_PERIOD,OBS_VALUE\ndataflow,DSM:DF_CITIZENS_ABROAD(1.0),I,A,KAZ,RUS,F,NSO,2022,5\n"
    )
    headers = {**world.auth("admin"), "content-type": CSV20}
    assert client.post("/rest/v2/data/", content=abroad, headers=headers).status_code == 201
    client.app.state.clock.fixed = NOW
    assert (
        client.put(
            "/api/restrictions/DSM:DF_CITIZENS_ABROAD*", headers=world.auth("admin")
        ).status_code
        == 201
    )
    ml30 = "application/vnd.sdmx.data+xml;version=3.0.0"

    def structures(role: str) -> list[str]:
        response = world.get(role, "/rest/v2/data/dataflow/DSM/*/~", ml30)
        assert response.status_code == 200, response.text
        return re.findall(r'structureID="([A-Z_]+)"', response.text)

    assert structures("anonymous") == ["DF_FOREIGN_POP"]
    assert structures("analyst") == ["DF_CITIZENS_ABROAD", "DF_FOREIGN_POP"]
    # a dataflow the principal may not read is left out too
    grants = world.get("admin", "/api/grants", grantee="role:anonymous").json()
    client.delete(f"/api/grants/{grants[0]['id']}", headers=world.auth("admin"))
    world.grant("role:anonymous", "DSM:DF_CITIZENS_ABROAD*", "read")
    assert (
        client.delete(
            "/api/restrictions/DSM:DF_CITIZENS_ABROAD*", headers=world.auth("admin")
        ).status_code
        == 204
    )
    assert structures("anonymous") == ["DF_CITIZENS_ABROAD"]
    assert world.get("anonymous", f"{V2}").status_code == 401
