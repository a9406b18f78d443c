"""OpenID Connect: bearer JWTs of a configured issuer, checked against a real JWKS served over HTTP
by a local issuer (discovery document and keys on 127.0.0.1), on both databases."""

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from app.main import create_app

AUDIENCE = "dsm"
KID = "rsa-1"
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


class Issuer:
    """A local OpenID Connect issuer: `/realms/dsm/.well-known/openid-configuration` and `/jwks`,
    counting the requests it answers."""

    def __init__(self, keys: list[dict]) -> None:
        self.keys = keys
        self.hits: Counter[str] = Counter()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                issuer.hits[self.path] += 1
                if self.path == "/realms/dsm/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.base}/jwks"}
                elif self.path == "/jwks":
                    body = {"keys": issuer.keys}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/realms/dsm"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Issuer":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def public_jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": "ES256"}


@pytest.fixture
def issuer(rsa_key, ec_key) -> Iterator[Issuer]:
    with Issuer([public_jwk(rsa_key, KID), public_jwk(ec_key, "ec-1")]) as running:
        yield running


def closed_port() -> int:
    """A local port nothing listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def oidc_client(settings, **oidc: str) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=oidc)))


@pytest.fixture
def client(settings, issuer) -> Iterator[TestClient]:
    """An app whose OpenID Connect issuer is the local one (keys found through discovery)."""
    with oidc_client(settings, oidc_issuer=issuer.url, oidc_audience=AUDIENCE) as test_client:
        yield test_client


def claims(issuer: Issuer, **changes: object) -> dict:
    """Keycloak-shaped access-token claims of a provider at KAZ_STAT."""
    now = int(time.time())
    base = {
        "iss": issuer.url,
        "aud": [AUDIENCE, "account"],
        "sub": "0b0d6d6e-5b1e-4c55-9d0c-6c1b3c1e2f10",
        "iat": now,
        "exp": now + 300,
        "typ": "Bearer",
        "preferred_username": "aigerim",
        "realm_access": {"roles": ["offline_access", "dsm-partner", "dsm-provider"]},
        "dsm_provider": "KAZ_STAT",
        "groups": ["cis", "eaeu"],
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def sign(payload: dict, key, kid: str = KID, algorithm: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict, payload: dict, sign_with: bytes | None) -> str:
    """A JWT assembled by hand: `alg: none` (no signature) or HS256 with a chosen secret."""
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    if sign_with is None:
        return head + "."
    return head + "." + _b64(hmac.new(sign_with, head.encode(), hashlib.sha256).digest())


def me(client: TestClient, token: str):
    return client.get("/api/me", headers={"Authorization": f"Bearer {token}", **JSON})


def test_an_issuer_token_maps_to_a_provider(client, issuer, rsa_key):
    answer = me(client, sign(claims(issuer), rsa_key))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "name": "aigerim",
        "role": "provider",
        "provider": "KAZ_STAT",
        "groups": ["cis", "eaeu"],
    }


def test_the_strongest_role_wins_and_an_admin_may_administer(client, issuer, rsa_key):
    roles = {"roles": ["dsm-partner", "dsm-admin", "dsm-provider"]}
    token = sign(claims(issuer, realm_access=roles, dsm_provider=None), rsa_key)
    assert me(client, token).json()["role"] == "admin"
    listed = client.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200


def test_es256_and_a_single_audience_string_are_accepted(client, issuer, ec_key):
    payload = claims(issuer, aud=AUDIENCE, realm_access={"roles": ["dsm-partner"]})
    answer = me(client, sign(payload, ec_key, kid="ec-1", algorithm="ES256"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["role"] == "partner" and answer.json()["provider"] is None


def test_keys_are_discovered_once_and_cached(client, issuer, rsa_key):
    for name in ("a", "b", "c"):
        assert me(client, sign(claims(issuer, preferred_username=name), rsa_key)).status_code == 200
    assert issuer.hits == {"/realms/dsm/.well-known/openid-configuration": 1, "/jwks": 1}


def test_the_name_falls_back_to_sub(client, issuer, rsa_key):
    token = sign(claims(issuer, preferred_username=None), rsa_key)
    assert me(client, token).json()["name"] == claims(issuer)["sub"]


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"realm_access": {"roles": ["admin", "offline_access"]}}, "no DSM role"),
        ({"realm_access": None}, "no DSM role"),
        ({"dsm_provider": None}, "no dsm_provider claim"),
    ],
)
def test_a_valid_token_without_a_usable_role_is_403(client, issuer, rsa_key, changes, words):
    answer = me(client, sign(claims(issuer, **changes), rsa_key))
    assert answer.status_code == 403
    assert words in answer.json()["errors"][0]["detail"]


def test_bare_role_names_count_with_an_empty_prefix(settings, issuer, rsa_key):
    roles = {"dsm": {"roles": ["partner"]}}
    token = sign(claims(issuer, realm_access=None, resource_access=roles), rsa_key)
    with oidc_client(
        settings,
        oidc_issuer=issuer.url,
        oidc_audience=AUDIENCE,
        oidc_role_claim="resource_access.dsm.roles",
        oidc_role_prefix="",
        oidc_groups_claim="missing",
    ) as test_client:
        assert me(test_client, token).json() == {
            "name": "aigerim",
            "role": "partner",
            "provider": None,
            "groups": [],
        }


REFUSED = {
    "wrong issuer": lambda i, k, o: sign(claims(i, iss="https://elsewhere/realms/dsm"), k),
    "wrong audience": lambda i, k, o: sign(claims(i, aud="another-app"), k),
    "no audience": lambda i, k, o: sign(claims(i, aud=None), k),
    "expired": lambda i, k, o: sign(claims(i, exp=int(time.time()) - 120), k),
    "no expiry": lambda i, k, o: sign(claims(i, exp=None), k),
    "not yet valid": lambda i, k, o: sign(claims(i, nbf=int(time.time()) + 600), k),
    "bad signature": lambda i, k, o: sign(claims(i), o),
    "unknown key": lambda i, k, o: sign(claims(i), k, kid="rsa-9"),
    "no key id": lambda i, k, o: jwt.encode(claims(i), k, algorithm="RS256"),
    "alg none": lambda i, k, o: handmade({"alg": "none", "kid": KID}, claims(i), None),
    "HS256 with the public key": lambda i, k, o: handmade(
        {"alg": "HS256", "kid": KID, "typ": "JWT"},
        claims(i),
        k.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    ),
    "RS256 header on the EC key": lambda i, k, o: sign(claims(i), k, kid="ec-1"),
    "not a JWT": lambda i, k, o: "a.b.c",
}


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_tokens_are_401(client, issuer, rsa_key, other_key, case):
    answer = me(client, REFUSED[case](issuer, rsa_key, other_key))
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["errors"][0]["code"] == 110


def test_without_an_issuer_a_jwt_is_401(settings, issuer, rsa_key):
    with TestClient(create_app(settings)) as plain:
        assert me(plain, sign(claims(issuer), rsa_key)).status_code == 401
    assert not issuer.hits


@pytest.mark.parametrize("broken", ["jwks", "discovery", "jwks content"])
def test_an_unreachable_issuer_is_503_not_500(settings, issuer, rsa_key, broken):
    dead = f"http://127.0.0.1:{closed_port()}"
    oidc = {"oidc_issuer": issuer.url, "oidc_audience": AUDIENCE}
    if broken == "jwks":
        oidc["oidc_jwks_url"] = f"{dead}/jwks"
    elif broken == "discovery":
        oidc["oidc_issuer"] = f"{dead}/realms/dsm"
    else:
        oidc["oidc_jwks_url"] = f"{issuer.base}/realms/dsm/.well-known/openid-configuration"
    token = sign(claims(issuer, iss=oidc["oidc_issuer"]), rsa_key)
    with oidc_client(settings, **oidc) as test_client:
        answer = me(test_client, token)
        again = me(test_client, token)  # at once, without asking the issuer again
    assert answer.status_code == 503, answer.text
    error = answer.json()["errors"][0]
    assert error["code"] == 503 and "identity provider" in error["detail"]
    assert again.status_code == 503 and "retrying" in again.text
    assert sum(issuer.hits.values()) == (broken == "jwks content")
