"""Named dependencies for routers: the settings, the engine, the structure registry, the upload
slots, the principal."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from app.api.ratelimit import UploadSlots
from app.auth.access import Access
from app.auth.tokens import Principal
from app.clock import Clock
from app.errors import Forbidden, Unauthorized
from app.services import access as policy
from app.services.audit import Actor
from app.services.auth import authenticate
from app.services.structures import Structures
from app.settings import Settings


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _structures(request: Request) -> Structures:
    return request.app.state.structures


def _uploads(request: Request) -> UploadSlots:
    return request.app.state.uploads


_bearer = HTTPBearer(
    auto_error=False,
    description="A DSM bearer token (`dsm tokens create NAME`), sent as `Authorization: Bearer dsm_...`.",
)


def _principal(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The principal of a bearer token; None for an anonymous request (no Authorization header)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use an Authorization: Bearer <token> header")
    principal = authenticate(request.app.state.engine, request.app.state.secret, token.strip())
    if principal is None:
        raise Unauthorized("The bearer token is unknown, expired or revoked")
    return principal


def _admin(principal: Annotated[Principal | None, Depends(_principal)]) -> Principal:
    if principal is None:
        raise Unauthorized("This operation needs an admin bearer token")
    if not principal.is_admin:
        raise Forbidden(f"User {principal.name!r} ({principal.role}) may not change structures")
    return principal


def _clock(request: Request) -> Clock:
    return request.app.state.clock


def _access(
    request: Request, principal: Annotated[Principal | None, Depends(_principal)]
) -> Access:
    """The principal's grants and the restricted dataflows, read for this request."""
    with request.app.state.engine.connect() as conn:
        return policy.load(conn, principal)


def actor(request: Request, principal: Principal | None) -> Actor:
    """Who acts, for the audit log: the principal and the client's address."""
    return Actor(principal, request.client.host if request.client else None)


def audit_reads(request: Request, access: Access, kinds: list[str], target: str) -> None:
    """Queue the audit records of a read of confidential or embargoed data (never blocks)."""
    for kind in kinds:
        detail = {"path": request.url.path, "query": request.url.query or None}
        request.app.state.audit.read(actor(request, access.principal), kind, target, detail)


SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]
StructuresDep = Annotated[Structures, Depends(_structures)]
UploadsDep = Annotated[UploadSlots, Depends(_uploads)]
PrincipalDep = Annotated[Principal | None, Depends(_principal)]
AdminDep = Annotated[Principal, Depends(_admin)]
ClockDep = Annotated[Clock, Depends(_clock)]
AccessDep = Annotated[Access, Depends(_access)]
