"""Named dependencies for routers: the settings, the engine, the structure registry, the upload
slots, the principal."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from app.api.ratelimit import UploadSlots
from app.auth.tokens import Principal
from app.errors import Forbidden, Unauthorized
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


SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]
StructuresDep = Annotated[Structures, Depends(_structures)]
UploadsDep = Annotated[UploadSlots, Depends(_uploads)]
PrincipalDep = Annotated[Principal | None, Depends(_principal)]
AdminDep = Annotated[Principal, Depends(_admin)]
