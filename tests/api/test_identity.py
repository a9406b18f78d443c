"""Who is who: users and bearer tokens managed through the admin API and the `dsm` command, token
expiry and revocation, password login, each change in the audit log; on both databases."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.errors import Invalid, NotFound
from app.services import auth
from app.storage import audit
from app.storage.schema import audit_log, tokens

PASSWORD = "correct horse battery staple"
KAZ_STAT = {"name": "kz-stat", "role": "provider", "provider": "KAZ_STAT", "groups": ["cis"]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audited(client, action: str) -> list[dict]:
    """Audit records of an action (exact), oldest first."""
    with client.app.state.engine.connect() as conn:
        rows = audit.listing(conn, action=action, limit=1000)
    return [row for row in reversed(rows) if row["action"] == action]


def audit_text(client) -> str:
    """Every audit record as text, to prove no secret reached it."""
    with client.app.state.engine.connect() as conn:
        return "\n".join(repr(tuple(row)) for row in conn.execute(select(audit_log)))


def me(client, token: str):
    return client.get("/api/me", headers=bearer(token))


# --- The admin API --------------------------------------------------------------------------------


def test_admin_adds_a_user_issues_and_revokes_a_token(client, admin_token):
    added = client.post("/api/users", json=KAZ_STAT, headers=bearer(admin_token))
    assert added.status_code == 201, added.text
    assert added.json() == KAZ_STAT
    listed = client.get("/api/users", headers=bearer(admin_token)).json()
    row = next(u for u in listed if u["name"] == "kz-stat")
    assert (row["role"], row["provider"], row["groups"], row["password"]) == (
        "provider",
        "KAZ_STAT",
        ["cis"],
        False,
    )

    issued = client.post(
        "/api/users/kz-stat/tokens",
        json={"expires_days": 30, "label": "nightly load"},
        headers=bearer(admin_token),
    )
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    body = issued.json()
    token, token_id = body["token"], body["id"]
    assert token.startswith("dsm_") and body["user"] == "kz-stat"
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)

    def listing() -> dict:
        answer = client.get("/api/tokens", params={"user": "kz-stat"}, headers=bearer(admin_token))
        assert answer.status_code == 200
        assert token not in answer.text and "digest" not in answer.text
        (only,) = answer.json()
        return only

    assert listing()["last_used_at"] is None
    assert me(client, token).json() == {
        "name": "kz-stat",
        "role": "provider",
        "provider": "KAZ_STAT",
        "groups": ["cis"],
    }
    used = listing()
    assert used["id"] == token_id and used["label"] == "nightly load"
    assert used["last_used_at"] is not None and used["revoked_at"] is None

    assert client.delete(f"/api/tokens/{token_id}", headers=bearer(admin_token)).status_code == 204
    refused = me(client, token)
    assert refused.status_code == 401 and "revoked" in refused.text
    assert listing()["revoked_at"] is not None
    # revoking again changes nothing (and audits nothing); an unknown id is 404
    assert client.delete(f"/api/tokens/{token_id}", headers=bearer(admin_token)).status_code == 204
    assert client.delete("/api/tokens/99999", headers=bearer(admin_token)).status_code == 404

    (user_add,) = [r for r in audited(client, "user.add") if r["target"] == "kz-stat"]
    assert (user_add["principal"], user_add["role"], user_add["client"]) == (
        "admin",
        "admin",
        "testclient",
    )
    assert user_add["detail"] == {"role": "provider", "provider": "KAZ_STAT", "groups": ["cis"]}
    issue = [r for r in audited(client, "token.issue") if r["target"] == f"token:{token_id}"]
    assert [(r["principal"], r["detail"]["user"], r["detail"]["label"]) for r in issue] == [
        ("admin", "kz-stat", "nightly load")
    ]
    revoke = audited(client, "token.revoke")
    assert [(r["principal"], r["target"], r["outcome"]) for r in revoke] == [
        ("admin", f"token:{token_id}", "ok")
    ]
    with client.app.state.engine.connect() as conn:
        digests = conn.execute(select(tokens.c.digest)).scalars().all()
    text = audit_text(client)
    assert token not in text and not any(d in text for d in digests)


def test_a_token_for_all_tokens_lists_every_user(client, admin_token, partner_token):
    answer = client.get("/api/tokens", headers=bearer(admin_token))
    assert {row["user"] for row in answer.json()} == {"admin", "unece"}
    assert client.get("/api/tokens?user=nobody", headers=bearer(admin_token)).status_code == 404


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "x", "role": "superuser"}, "Unknown role"),
        ({"name": "x", "role": "provider"}, "needs a provider"),
        ({"name": "x", "role": "provider", "provider": "NOPE"}, "Unknown data provider 'NOPE'"),
        ({"name": "x", "role": "partner", "provider": "KAZ_STAT"}, "Only provider users"),
        ({"name": "two words", "role": "partner"}, "User name"),
        ({"name": "x\u0000", "role": "partner"}, "User name"),
        ({"name": "x", "role": "partner", "groups": ["a b"]}, "Group name"),
    ],
)
def test_invalid_users_are_422(client, admin_token, body, words):
    answer = client.post(
        "/api/users", json=body, headers={**bearer(admin_token), "Accept": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["errors"][0]["detail"]
    assert all(r["target"] != body["name"] for r in audited(client, "user.add"))


def test_an_existing_user_is_409_and_malformed_requests_400(client, admin_token):
    assert client.post("/api/users", json=KAZ_STAT, headers=bearer(admin_token)).status_code == 201
    again = client.post("/api/users", json=KAZ_STAT, headers=bearer(admin_token))
    assert again.status_code == 409 and "already exists" in again.text
    assert (
        client.post("/api/users", json={"role": "partner"}, headers=bearer(admin_token)).status_code
        == 400
    )
    assert (
        client.post("/api/users", content=b"name=x", headers=bearer(admin_token)).status_code == 400
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"expires_days": 1, "expires_at": "2999-01-01T00:00:00Z"}, 422),
        ({"expires_at": "2001-01-01T00:00:00Z"}, 422),
        ({"expires_at": "2999-01-01T00:00:00"}, 400),  # no time zone
        ({"expires_days": 0}, 400),
        ({"label": "two\nlines"}, 422),
    ],
)
def test_token_requests_that_are_refused(client, admin_token, body, status):
    answer = client.post("/api/users/admin/tokens", json=body, headers=bearer(admin_token))
    assert answer.status_code == status, answer.text


def test_a_token_without_body_never_expires_and_an_unknown_user_is_404(client, admin_token):
    issued = client.post("/api/users/admin/tokens", headers=bearer(admin_token))
    assert issued.status_code == 201 and issued.json()["expires_at"] is None
    assert client.post("/api/users/nobody/tokens", headers=bearer(admin_token)).status_code == 404


ADMIN_ROUTES = [
    ("GET", "/api/users", None),
    ("POST", "/api/users", {"name": "x", "role": "admin"}),
    ("GET", "/api/tokens", None),
    ("POST", "/api/users/unece/tokens", {}),
    ("DELETE", "/api/tokens/1", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_refuse_anonymous_and_partners(client, partner_token, method, path, body):
    anonymous = client.request(method, path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    partner = client.request(method, path, json=body, headers=bearer(partner_token))
    assert partner.status_code == 403 and "needs an admin" in partner.text
    with client.app.state.engine.connect() as conn:
        assert conn.execute(select(tokens.c.revoked_at)).scalars().all() == [None]


# --- Expiry, the clock, unknown tokens ------------------------------------------------------------


def test_an_expired_token_is_refused(client):
    engine, secret = client.app.state.engine, client.app.state.secret
    auth.add_user(engine, "unece", "partner")
    past = auth.issue_token(engine, secret, "unece", datetime.now(UTC) - timedelta(seconds=1))
    assert me(client, past.token).status_code == 401
    soon = auth.issue_token(engine, secret, "unece", datetime.now(UTC) + timedelta(hours=1))
    assert me(client, soon.token).status_code == 200
    clock = client.app.state.clock
    clock.offset = timedelta(hours=1)
    try:
        refused = me(client, soon.token)
    finally:
        clock.offset = timedelta(0)
    assert refused.status_code == 401 and "expired" in refused.text
    assert me(client, soon.token).status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Bearer dsm_" + "A" * 43, "Bearer not-a-dsm-token", "Bearer a.b.c", "Basic YWRtaW46eA=="],
)
def test_unknown_tokens_are_401(client, header):
    assert client.get("/api/me", headers={"Authorization": header}).status_code == 401


def test_me_without_a_token_is_401(client):
    answer = client.get("/api/me")
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"


# --- Password login --------------------------------------------------------------------------------


@pytest.fixture
def alice(client) -> str:
    engine = client.app.state.engine
    auth.add_user(engine, "alice", "partner", groups=("eaeu",))
    auth.set_password(engine, "alice", PASSWORD)
    auth.add_user(engine, "bob", "partner")  # no password: cannot sign in
    return "alice"


def test_login_issues_a_session_token(client, alice, admin_token):
    clock = client.app.state.clock
    clock.fixed = datetime(2031, 5, 4, 9, 30, tzinfo=UTC)
    try:
        answer = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        session = answer.json()
        assert session["token_type"] == "bearer"
        assert datetime.fromisoformat(session["expires_at"]) == clock.fixed + timedelta(hours=8)
        token = session["access_token"]
        assert me(client, token).json()["groups"] == ["eaeu"]
        clock.fixed += timedelta(hours=8)
        assert me(client, token).status_code == 401  # the session is over
    finally:
        clock.fixed = None
    (listed,) = client.get("/api/tokens?user=alice", headers=bearer(admin_token)).json()
    assert listed["label"] == "login"
    (ok,) = audited(client, "login")
    assert (ok["principal"], ok["target"], ok["outcome"]) == ("alice", "alice", "ok")
    assert PASSWORD not in audit_text(client)


def test_login_from_an_html_form(client, alice):
    answer = client.post("/api/login", data={"username": "alice", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    assert me(client, answer.json()["access_token"]).json()["name"] == "alice"


def test_refused_logins_look_alike(client, alice):
    headers = {"Accept": "application/json"}
    attempts = {
        "wrong password": {"username": "alice", "password": PASSWORD + "!"},
        "unknown user": {"username": "mallory", "password": PASSWORD},
        "no password set": {"username": "bob", "password": PASSWORD},
        "invalid user name": {"username": "al ice\u0000", "password": PASSWORD},
    }
    answers = {r: client.post("/api/login", json=b, headers=headers) for r, b in attempts.items()}
    assert {a.status_code for a in answers.values()} == {401}
    assert len({json.dumps(a.json()["errors"]) for a in answers.values()}) == 1
    denied = audited(client, "login")
    assert [(r["principal"], r["outcome"], r["detail"]["reason"]) for r in denied] == [
        (None, "denied", "unknown user" if reason == "invalid user name" else reason)
        for reason in attempts
    ]
    assert [r["target"] for r in denied] == ["alice", "mallory", "bob", None]
    assert PASSWORD not in audit_text(client)


@pytest.mark.parametrize(
    ("content", "media"),
    [
        (b'{"username": "alice"}', "application/json"),
        (b'["alice", "x"]', "application/json"),
        (b'{"username": "alice", "password": 7}', "application/json"),
        (b"{", "application/json"),
        (b"username=alice&password=x", "text/plain"),
        (b"[" * 5000 + b"]" * 5000, "application/json"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_logins_are_400(client, content, media):
    answer = client.post("/api/login", content=content, headers={"Content-Type": media})
    assert answer.status_code == 400, answer.text


def test_an_oversized_login_is_413(client):
    body = {"username": "alice", "password": "x" * 20_000}
    assert client.post("/api/login", json=body).status_code == 413


def test_a_session_is_revoked_by_an_admin_or_by_signing_out(client, alice, admin_token):
    first = client.post("/api/login", json={"username": "alice", "password": PASSWORD}).json()
    second = client.post("/api/login", json={"username": "alice", "password": PASSWORD}).json()
    rows = client.get("/api/tokens?user=alice", headers=bearer(admin_token)).json()
    first_id = rows[-1]["id"]  # newest first
    assert client.delete(f"/api/tokens/{first_id}", headers=bearer(admin_token)).status_code == 204
    assert me(client, first["access_token"]).status_code == 401
    assert me(client, second["access_token"]).status_code == 200
    assert client.post("/api/logout", headers=bearer(second["access_token"])).status_code == 204
    assert me(client, second["access_token"]).status_code == 401
    assert client.post("/api/logout").status_code == 401
    revoked = audited(client, "token.revoke")
    assert [r["principal"] for r in revoked] == ["admin", "alice"]


def test_short_passwords_are_refused(client, alice):
    with pytest.raises(Invalid, match="at least"):
        auth.set_password(client.app.state.engine, "alice", "short")
    with pytest.raises(NotFound):
        auth.set_password(client.app.state.engine, "nobody", PASSWORD)


# --- The `dsm` command -----------------------------------------------------------------------------


def dsm(settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run `dsm` in a real process on the test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSM_")}
    env.update(DSM_DATABASE_URL=settings.database_url, DSM_SECRET_KEY=settings.secret_key)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_dsm_command_manages_users_and_tokens(client, settings):
    import getpass

    operator = f"cli:{getpass.getuser()}"
    added = dsm(settings, "users", "add", "kz-stat", "--role", "provider", "--provider", "KAZ_STAT",
                "--group", "cis", "--group", "eaeu")  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = dsm(settings, "users", "list", "--json")
    (user,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (user["name"], user["groups"], user["password"]) == ("kz-stat", ["cis", "eaeu"], False)
    table = dsm(settings, "users", "list").stdout.splitlines()
    assert table[0].split() == ["name", "role", "provider", "groups", "created_at", "password"]
    assert table[1].split()[:4] == ["kz-stat", "provider", "KAZ_STAT", "cis,eaeu"]

    passwd = dsm(settings, "users", "passwd", "kz-stat", "--password-stdin", stdin=PASSWORD + "\n")
    assert passwd.returncode == 0, passwd.stderr
    login = client.post("/api/login", json={"username": "kz-stat", "password": PASSWORD})
    assert login.status_code == 200

    created = dsm(settings, "tokens", "create", "kz-stat", "--expires-days", "7", "--label", "ci")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("dsm_")
    assert created.stderr.startswith("token ") and "for kz-stat, expires 20" in created.stderr
    token_id = int(created.stderr.split()[1])
    assert me(client, token).json()["groups"] == ["cis", "eaeu"]

    listing = dsm(settings, "tokens", "list", "kz-stat")
    assert token not in listing.stdout
    header, *rows = listing.stdout.splitlines()
    assert header.split() == [
        "id", "user", "label", "created_at", "expires_at", "last_used_at", "revoked_at"
    ]  # fmt: skip
    assert len(rows) == 2 and rows[0].split()[:3] == [str(token_id), "kz-stat", "ci"]
    assert rows[0].split()[-1] == "-"  # not revoked

    revoked = dsm(settings, "tokens", "revoke", str(token_id))
    assert revoked.returncode == 0 and revoked.stdout == f"revoked token {token_id}\n"
    assert me(client, token).status_code == 401
    again = dsm(settings, "tokens", "revoke", str(token_id))
    assert "revoked already" in again.stdout
    unknown = dsm(settings, "tokens", "revoke", "99999")
    assert unknown.returncode == 1 and "No token 99999" in unknown.stderr
    nobody = dsm(settings, "tokens", "list", "nobody")
    assert nobody.returncode == 1 and "No user 'nobody'" in nobody.stderr

    with client.app.state.engine.connect() as conn:
        records = reversed(audit.listing(conn, limit=1000))
    # the seeding of the bundled structures is audited too (structure.create by dsm)
    actions = [
        (r["action"], r["principal"], r["target"])
        for r in records
        if not r["action"].startswith("structure.")
    ]
    assert actions == [
        ("user.add", operator, "kz-stat"),
        ("password.set", operator, "kz-stat"),
        ("login", "kz-stat", "kz-stat"),
        ("token.issue", operator, f"token:{token_id}"),
        ("token.revoke", operator, f"token:{token_id}"),
    ]


def test_the_dsm_command_refuses_bad_input(client, settings):
    unknown = dsm(settings, "users", "add", "x", "--role", "provider", "--provider", "NOPE")
    assert unknown.returncode == 1 and "NOPE" in unknown.stderr
    short = dsm(settings, "users", "add", "y", "--role", "partner")
    assert short.returncode == 0
    weak = dsm(settings, "users", "passwd", "y", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1 and "at least" in weak.stderr
    nobody = dsm(settings, "tokens", "create", "nobody")
    assert nobody.returncode == 1 and nobody.stdout == ""
