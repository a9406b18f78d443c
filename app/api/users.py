"""Who is who: the principal a request acts as (`/api/me`), and the users and their bearer tokens,
managed by admins under `/api/users` and `/api/tokens` (the same as `dsm users` and `dsm tokens`).
Every change is audited with the admin and the client's address."""

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from app.api.deps import AdminDep, EngineDep, PrincipalDep, client_address
from app.auth.tokens import Principal
from app.errors import Invalid, Unauthorized
from app.services import auth
from app.services.audit import Actor

router = APIRouter(tags=["users and tokens"])

_ADMIN = {401: {"description": "No or bad token"}, 403: {"description": "Not an admin"}}
NO_STORE = {"Cache-Control": "no-store"}  # answers that carry a token
MAX_DAYS = 3650


class Me(BaseModel):
    name: str
    role: str
    provider: str | None
    groups: list[str]


class User(BaseModel):
    name: str
    role: str = Field(description="admin, provider or partner")
    provider: str | None = Field(None, description="Data provider id (providers only)")
    groups: list[str] = Field([], description="Groups that grants can name")


class UserListed(User):
    created_at: datetime
    password: bool = Field(description="Whether the user can sign in with a password")


class TokenRequest(BaseModel):
    expires_at: AwareDatetime | None = Field(None, description="When the token stops working")
    expires_days: int | None = Field(
        None, ge=1, le=MAX_DAYS, description="Or: days from now until it stops working"
    )
    label: str | None = Field(None, max_length=auth.LABEL_MAX, description="What it is for")


class TokenListed(BaseModel):
    id: int
    user: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(BaseModel):
    id: int
    user: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    token: str = Field(description="The bearer token, shown this once; DSM keeps only a hash")


TokenId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The token's id")]


def actor(request: Request, principal: Principal) -> Actor:
    return Actor(principal, client_address(request))


@router.get(
    "/api/me",
    summary="The principal this request acts as",
    responses={401: {"description": "No or bad token"}},
)
def me(principal: PrincipalDep) -> Me:
    if principal is None:
        raise Unauthorized("Send a bearer token to learn who it belongs to")
    return Me(
        name=principal.name,
        role=principal.role,
        provider=principal.provider,
        groups=list(principal.groups),
    )


@router.get("/api/users", summary="Every user (admin)", responses=_ADMIN)
def users(engine: EngineDep, principal: AdminDep) -> list[UserListed]:
    return [UserListed(**row) for row in auth.list_users(engine)]


@router.post(
    "/api/users",
    status_code=201,
    summary="Add a user (admin)",
    responses={
        **_ADMIN,
        409: {"description": "The user exists"},
        422: {"description": "Invalid name, role, provider or group"},
    },
)
def add_user(user: User, request: Request, engine: EngineDep, principal: AdminDep) -> User:
    registry, _, _ = request.app.state.structures.current()
    auth.add_user(
        engine,
        user.name,
        user.role,
        user.provider,
        user.groups,
        known=auth.known_providers(registry),
        actor=actor(request, principal),
    )
    return user.model_copy(update={"groups": list(dict.fromkeys(user.groups))})


@router.get(
    "/api/tokens",
    summary="Bearer tokens, newest first (admin): never the token itself",
    responses={**_ADMIN, 404: {"description": "No such user"}},
)
def tokens(
    engine: EngineDep,
    principal: AdminDep,
    user: Annotated[str | None, Query(description="Only this user's tokens")] = None,
) -> list[TokenListed]:
    return [TokenListed(**row) for row in auth.list_tokens(engine, user)]


@router.post(
    "/api/users/{name}/tokens",
    status_code=201,
    summary="Issue a bearer token for a user (admin); the answer shows it once",
    responses={
        **_ADMIN,
        404: {"description": "No such user"},
        422: {"description": "Both or a past expiry"},
    },
)
def issue(
    name: str,
    request: Request,
    response: Response,
    engine: EngineDep,
    principal: AdminDep,
    body: TokenRequest | None = None,
) -> TokenIssued:
    body = body or TokenRequest()
    now = request.app.state.clock.now()
    expires = body.expires_at
    if expires is not None and body.expires_days is not None:
        raise Invalid("Give expires_at or expires_days, not both")
    if body.expires_days is not None:
        expires = now + timedelta(days=body.expires_days)
    if expires is not None and expires <= now:
        raise Invalid(f"expires_at {expires.isoformat()} is not in the future")
    issued = auth.issue_token(
        engine,
        request.app.state.secret,
        name,
        expires,
        label=body.label,
        actor=actor(request, principal),
        now=now,
    )
    response.headers.update(NO_STORE)
    return TokenIssued(**asdict(issued))


@router.delete(
    "/api/tokens/{token}",
    status_code=204,
    summary="Revoke a bearer token (admin)",
    responses={**_ADMIN, 404: {"description": "No such token"}},
)
def revoke(token: TokenId, request: Request, engine: EngineDep, principal: AdminDep) -> Response:
    auth.revoke_token(
        engine, token, actor=actor(request, principal), now=request.app.state.clock.now()
    )
    return Response(status_code=204)
