"""Every operation DSM's own OpenAPI document declares the bearer scheme for refuses a request
without valid credentials: schemathesis's `ignored_auth` check over generated requests (positive
and negative) sent with no Authorization header, with made-up DSM tokens and JWTs, with other
schemes, and with what schemathesis generates for the bearer scheme itself. Then a sweep of the
identity routes with an admin token: no request makes the server fail.

Findings (schemathesis 4.32): none. Every declared operation answers 401 (or 400/404 when the path
itself is wrong) without credentials; the identity routes answer no 5xx to an admin.
"""

from collections import Counter
from typing import Any

import schemathesis
import schemathesis.checks
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from app.services import auth

# What an attacker might send instead of a valid token (None: no Authorization header at all).
CREDENTIALS = (
    None,
    "Bearer dsm_" + "A" * 43,
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
    "Bearer a.b.c",
    "Bearer ",
    "Basic YWRtaW46YWRtaW4=",
    "bearer dsm_",
)
IDENTITY = ("/api/users", "/api/tokens", "/api/me", "/api/logout", "/api/login")
REVOKING = ("/api/tokens/{token}", "/api/logout")


def _required(security: list | None) -> bool:
    """A security requirement that an anonymous request does not meet (`{}` makes it optional,
    as on the SDMX REST reads, which answer the public)."""
    return bool(security) and {} not in security


def _secured(document: dict[str, Any], prefixes: tuple[str, ...] = ("/",)) -> dict[str, Any]:
    """The document cut to the operations that declare a security requirement."""
    paths = {
        path: {m: op for m, op in operations.items() if _required(op.get("security"))}
        for path, operations in document["paths"].items()
        if path.startswith(prefixes)
    }
    return {**document, "paths": {path: ops for path, ops in paths.items() if ops}}


def _send(client, case: Any, authorization: str | None) -> Any:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() != "authorization"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=headers,
        json=kwargs.get("json"),
        content=kwargs.get("data") if isinstance(kwargs.get("data"), bytes | str) else None,
    )


def _sweep(schema: Any, examples: int, test: Any) -> None:
    strategy = st.one_of(
        schema.as_strategy(schemathesis.GenerationMode.POSITIVE),
        schema.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )
    given(case=strategy, choice=st.integers(0, len(CREDENTIALS)))(
        settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )(test)
    )()


def test_secured_operations_refuse_requests_without_valid_credentials(client):
    document = _secured(client.app.openapi())
    declared = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert {
        ("POST", "/rest/v2/data"),
        ("POST", "/rest/v2/structure"),
        ("PUT", "/rest/v2/structure/{resource}/{agencyID}/{resourceID}/{version}"),
        ("DELETE", "/rest/v2/structure/{resource}/{agencyID}/{resourceID}/{version}"),
        ("GET", "/api/users"),
        ("POST", "/api/users"),
        ("GET", "/api/tokens"),
        ("POST", "/api/users/{name}/tokens"),
        ("DELETE", "/api/tokens/{token}"),
        ("GET", "/api/me"),
        ("POST", "/api/logout"),
    } <= declared
    schema = schemathesis.openapi.from_dict(document)
    seen: Counter[tuple[str, int]] = Counter()

    def run(case: Any, choice: int) -> None:
        # the last choice keeps whatever schemathesis generated for the bearer scheme
        generated = choice == len(CREDENTIALS)
        if generated:
            kwargs = case.as_transport_kwargs(base_url="http://testserver")
            response = client.request(
                kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                headers=kwargs["headers"], json=kwargs.get("json"),
            )  # fmt: skip
        else:
            response = _send(client, case, CREDENTIALS[choice])
        seen[case.operation.label, response.status_code] += 1
        assert not 200 <= response.status_code < 300, (case.operation.label, response.text)
        case.validate_response(
            response,
            checks=[schemathesis.checks.ignored_auth, schemathesis.checks.not_a_server_error],
        )

    _sweep(schema, 300, run)
    print(dict(sorted(seen.items())))
    reached = {label for label, status in seen if status == 401}
    assert len(reached) >= len(declared) - 2, sorted(reached)


def test_identity_routes_never_fail_the_server_for_an_admin(client):
    engine, secret = client.app.state.engine, client.app.state.secret
    auth.add_user(engine, "admin", "admin")
    document = client.app.openapi()
    paths = {p: ops for p, ops in document["paths"].items() if p.startswith(IDENTITY)}
    schema = schemathesis.openapi.from_dict({**document, "paths": paths})
    statuses: Counter[int] = Counter()
    refused: set[str] = set()  # answered 401 although the admin token was live
    admin: list[str] = []

    def run(case: Any, choice: int) -> None:
        if not admin:  # revoked by the last request (a DELETE or a logout): a new one
            admin.append(f"Bearer {auth.create_token(engine, secret, 'admin')}")
        response = _send(client, case, admin[0])
        statuses[response.status_code] += 1
        if response.status_code == 401:
            refused.add(case.path)
        if case.method in ("DELETE", "POST") and case.path in REVOKING:
            admin.clear()
        case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])
        if response.status_code >= 400:
            assert response.content.startswith(b"<?xml") or b'"errors"' in response.content

    _sweep(schema, 200, run)
    print(dict(sorted(statuses.items())))
    assert refused <= {"/api/login"}, refused  # a login with a made-up password is 401
    assert statuses[200] + statuses[201] + statuses[204] >= 20, statuses


def test_reads_declare_the_token_optional_and_answer_the_public(client):
    document = client.app.openapi()
    reads = [
        operations["get"]
        for path, operations in document["paths"].items()
        if path.startswith("/rest/") and "get" in operations
    ]
    assert reads and all(op["security"] == [{}, {"HTTPBearer": []}] for op in reads)
    assert client.get("/rest/dataflow/DSM/all/latest").status_code == 200
