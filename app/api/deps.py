"""Named dependencies for routers: the settings, the engine, the structure registry, the principal."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from app.auth.oidc import looks_like_jwt
from app.auth.tokens import PREFIX, Principal
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


_bearer = HTTPBearer(
    auto_error=False,
    description="A DSM bearer token (`dsm tokens create NAME`, or `POST /api/login`), sent as "
    "`Authorization: Bearer dsm_...`; or, when the server is configured for OpenID Connect, a JWT "
    "of its issuer.",
)


def _principal(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The principal of a bearer token; None for an anonymous request (no Authorization header).
    DSM tokens start with `dsm_`; a JWT (three dotted parts) goes to the OpenID Connect issuer
    when one is configured."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        return None
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


def _admin(principal: Annotated[Principal | None, Depends(_principal)]) -> Principal:
    if principal is None:
        raise Unauthorized("This operation needs an admin bearer token")
    if not principal.is_admin:
        raise Forbidden(
            f"User {principal.name!r} ({principal.role}) may not do this; it needs an admin"
        )
    return principal


def client_address(request: Request) -> str | None:
    """The client's address as the server sees it (audit records)."""
    return request.client.host if request.client else None


SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]
StructuresDep = Annotated[Structures, Depends(_structures)]
PrincipalDep = Annotated[Principal | None, Depends(_principal)]
AdminDep = Annotated[Principal, Depends(_admin)]
