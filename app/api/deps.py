"""Named dependencies for routers: the settings, the engine, the structure registry, the upload
slots, the principal.

The ones that only read the app's state are `async def`: FastAPI runs a plain `def` dependency in
a worker thread, a hop that cost more than the dependency itself (each one of them, per request)."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from app.api.ratelimit import UploadSlots
from app.auth.access import Access
from app.auth.oidc import looks_like_jwt
from app.auth.tokens import PREFIX, Principal
from app.clock import Clock
from app.errors import Forbidden, Unauthorized
from app.services.audit import Actor
from app.services.auth import authenticate
from app.services.structures import Structures
from app.settings import Settings


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _engine(request: Request) -> Engine:
    return request.app.state.engine


async def _structures(request: Request) -> Structures:
    return request.app.state.structures


async def _uploads(request: Request) -> UploadSlots:
    return request.app.state.uploads


_bearer = HTTPBearer(
    auto_error=False,
    description="A DSM bearer token (`dsm tokens create NAME`, or `POST /api/login`), sent as "
    "`Authorization: Bearer dsm_...`; or, when the server is configured for OpenID Connect, a JWT "
    "of its issuer.",
)


async def _principal(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The principal of a bearer token; None for an anonymous request (no Authorization header).
    DSM tokens start with `dsm_`; a JWT (three dotted parts) goes to the OpenID Connect issuer
    when one is configured. Anonymous requests are answered on the event loop; a token is
    looked up in a worker thread (a database read, or the issuer's keys)."""
    header = request.headers.get("authorization", "")
    if not header:
        return None
    return await run_in_threadpool(_token_principal, request, header)


def _token_principal(request: Request, header: str) -> Principal:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Use an Authorization: Bearer <token> header")
    state = request.app.state
    if token.startswith(PREFIX):
        principal = authenticate(state.engine, state.secret, token, state.clock.now())
        if principal is None:
            raise Unauthorized("The bearer token is unknown, expired or revoked")
        return principal
    if state.oidc is not None and looks_like_jwt(token):
        return state.oidc.principal(token)
    raise Unauthorized("The bearer token is unknown, expired or revoked")


async def _admin(principal: Annotated[Principal | None, Depends(_principal)]) -> Principal:
    if principal is None:
        raise Unauthorized("This operation needs an admin bearer token")
    if not principal.is_admin:
        raise Forbidden(
            f"User {principal.name!r} ({principal.role}) may not do this; it needs an admin"
        )
    return principal


async def _clock(request: Request) -> Clock:
    return request.app.state.clock


def _access(
    request: Request, principal: Annotated[Principal | None, Depends(_principal)]
) -> Access:
    """The principal's grants and the restricted dataflows (services.access.Grants)."""
    return request.app.state.grants.access(principal)


def actor(request: Request, principal: Principal | None) -> Actor:
    """Who acts, for the audit log: the principal and the client's address."""
    return Actor(principal, client_address(request))


def audit_reads(request: Request, access: Access, kinds: list[str], target: str) -> None:
    """Queue the audit records of a read of confidential or embargoed data (never blocks)."""
    for kind in kinds:
        detail = {"path": request.url.path, "query": request.url.query or None}
        request.app.state.audit.read(actor(request, access.principal), kind, target, detail)


def client_address(request: Request) -> str | None:
    """The client's address as the server sees it (audit records)."""
    return request.client.host if request.client else None


SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]
StructuresDep = Annotated[Structures, Depends(_structures)]
UploadsDep = Annotated[UploadSlots, Depends(_uploads)]
PrincipalDep = Annotated[Principal | None, Depends(_principal)]
AdminDep = Annotated[Principal, Depends(_admin)]
ClockDep = Annotated[Clock, Depends(_clock)]
AccessDep = Annotated[Access, Depends(_access)]
