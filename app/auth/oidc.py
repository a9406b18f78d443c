"""OpenID Connect: bearer JWTs from one configured issuer (a Keycloak realm, say) become principals.

Decisions (docs/identity.md explains them to operators):

- Signatures: RS256 and ES256 only, verified with the issuer's published keys (JWKS). Never
  `none`, never HS*: a token "signed" with the public key used as an HMAC secret cannot verify.
  Each key is bound to its own algorithm (PyJWT's `PyJWK`), whatever the token header claims.
- Claims: `iss`, `aud` and `exp` are required and checked; `nbf` and `iat` when present; 30 s of
  leeway for clocks that drift.
- Keys: the JWKS URL is configured, or read from `{issuer}/.well-known/openid-configuration`
  (`jwks_uri`) once, on first use, and kept. The key set is cached for `JWKS_LIFESPAN` seconds; a
  token naming an unknown key id refetches it at most every 30 s (PyJWT's cooldown), so a key
  rotation is picked up and made-up key ids cannot make DSM hammer the issuer. PyJWT's per-key
  cache (`cache_keys`) stays off: it never expires, so a key the issuer withdrew would stay
  trusted until a restart.
- Roles: the claim at a dotted path (default `realm_access.roles`, Keycloak's realm roles) holds
  role names; those equal to the prefix plus a DSM role count (default `dsm-admin`,
  `dsm-provider`, `dsm-partner`), and the strongest wins. The prefix keeps a realm's own `admin`
  role from meaning DSM admin. A token with no DSM role is refused (403): an issuer knows many
  people who are not DSM partners, so being known to it grants nothing. A provider needs the
  provider claim (403 otherwise).
- The issuer cannot be reached (or publishes no usable keys): Unavailable (503), never a 500 and
  never a 401 that would send a client to sign in again for nothing. For `RETRY_SECONDS` after
  such a failure DSM answers 503 at once instead of trying again, so an outage of the issuer
  does not queue every request behind a network timeout.
"""

import http.client
import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt

from app.auth.tokens import ROLES, Principal
from app.errors import Forbidden, Unauthorized, Unavailable

ALGORITHMS = ("RS256", "ES256")
LEEWAY_SECONDS = 30
JWKS_LIFESPAN = 300
TIMEOUT_SECONDS = 5
RETRY_SECONDS = 10  # after a failure to get the keys, answer 503 at once for this long
UNREACHABLE = "The identity provider's signing keys cannot be read"

log = logging.getLogger("dsm.auth")


@dataclass(frozen=True)
class Claims:
    """Where in a token DSM finds a user's name, roles, data provider and groups (dotted paths)."""

    role: str = "realm_access.roles"
    role_prefix: str = "dsm-"
    provider: str = "dsm_provider"
    groups: str = "groups"
    name: str = "preferred_username"


def claim(payload: dict[str, Any], path: str) -> object:
    """The value at a dotted path (`realm_access.roles`), or None."""
    value: object = payload
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


class OidcVerifier:
    """Turns a bearer JWT of one issuer into a Principal (thread-safe; keys fetched lazily)."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        claims: Claims | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.claims = claims or Claims()
        self.timeout = timeout
        self._client: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()
        self._down_until = 0.0  # time.monotonic() before which the issuer is taken to be away

    def principal(self, token: str) -> Principal:
        """The principal of a valid token. Unauthorized: not a valid token of this issuer;
        Forbidden: valid, but no DSM role; Unavailable: the issuer's keys cannot be had."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("The bearer token is neither a DSM token nor a valid JWT") from exc
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized(
                f"JWT algorithm {header.get('alg')!r} is refused; expected one of "
                f"{', '.join(ALGORITHMS)}"
            )
        key = self._key(header.get("kid"))
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The JWT has expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"The JWT is not valid: {exc}") from exc
        return self.map(payload)

    def map(self, payload: dict[str, Any]) -> Principal:
        """A principal from a verified token's claims."""
        claims = self.claims
        name = next(iter(_strings(claim(payload, claims.name))), None) or payload.get("sub")
        if not isinstance(name, str) or not name:
            raise Unauthorized(f"The JWT names no user ({claims.name} or sub)")
        prefix = claims.role_prefix
        values = _strings(claim(payload, claims.role))
        held = {value[len(prefix) :] for value in values if value.startswith(prefix)}
        role = next((r for r in ROLES if r in held), None)  # ROLES runs strongest first
        if role is None:
            expected = ", ".join(prefix + r for r in ROLES)
            raise Forbidden(
                f"User {name!r} has no DSM role: {claims.role} holds none of {expected}"
            )
        provider = None
        if role == "provider":
            provider = next(iter(_strings(claim(payload, claims.provider))), None)
            if not provider:
                raise Forbidden(
                    f"User {name!r} is a provider but the JWT has no {claims.provider} claim "
                    "(a data provider id, e.g. KAZ_STAT)"
                )
        groups = tuple(dict.fromkeys(_strings(claim(payload, claims.groups))))
        return Principal(name, role, provider, groups)

    def _key(self, kid: object) -> jwt.PyJWK:
        if time.monotonic() < self._down_until:
            raise Unavailable(f"{UNREACHABLE}; retrying in a few seconds")
        try:
            client = self._jwks()
            client.get_signing_keys()  # the issuer's side: reachable, with usable keys
        except (Unavailable, jwt.PyJWKClientError, jwt.PyJWKSetError) as exc:
            log.warning("OIDC signing keys of %s: %s", self.issuer, exc)
            self._down_until = time.monotonic() + RETRY_SECONDS
            raise Unavailable(UNREACHABLE) from exc
        try:
            return client.get_signing_key(kid if isinstance(kid, str) else "")
        except jwt.PyJWKClientConnectionError as exc:
            raise Unavailable(UNREACHABLE) from exc
        except (jwt.PyJWKClientError, jwt.PyJWKSetError) as exc:
            raise Unauthorized(
                "The JWT is signed with a key the identity provider does not publish"
            ) from exc

    def _jwks(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._client is None:
                url = self.jwks_url or self._discover()
                self._client = jwt.PyJWKClient(
                    url, cache_jwk_set=True, lifespan=JWKS_LIFESPAN, timeout=self.timeout
                )
            return self._client

    def _discover(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                document = json.load(response)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise Unavailable(f"discovery document {url}: {exc}") from exc
        jwks = document.get("jwks_uri") if isinstance(document, dict) else None
        if not isinstance(jwks, str) or not jwks.startswith(("https://", "http://")):
            raise Unavailable(f"discovery document {url}: no jwks_uri")
        return jwks
