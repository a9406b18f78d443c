"""Signing in to the portal with a password (`POST /api/login`) and out again (`POST /api/logout`).

A login issues an ordinary DSM bearer token labelled "login" that expires after
`DSM_SESSION_HOURS`; it is listed, used and revoked like any other token. A refused login says
the same whether the user is unknown or the password wrong, and takes as long.
"""

import json
from datetime import timedelta
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, client_address
from app.api.users import NO_STORE
from app.auth.tokens import PREFIX
from app.errors import BadRequest, TooLarge, Unauthorized
from app.services import auth
from app.services.audit import Actor

router = APIRouter(tags=["users and tokens"])

MAX_BODY = 16 * 1024
_FIELDS = {"username": {"type": "string"}, "password": {"type": "string", "format": "password"}}
_CREDENTIALS = {"type": "object", "properties": _FIELDS, "required": ["username", "password"]}


class Session(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: AwareDatetime


async def _credentials(request: Request) -> tuple[str, str]:
    """(username, password) from a JSON object or an HTML form."""
    body = b""
    async for piece in request.stream():
        body += piece
        if len(body) > MAX_BODY:
            raise TooLarge(f"A login request has at most {MAX_BODY} bytes")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode()
        if media == "application/x-www-form-urlencoded":
            fields = {k: v[0] for k, v in parse_qs(text, max_num_fields=10).items()}
        elif media == "application/json" or media.endswith("+json"):
            fields = json.loads(text)
        else:
            raise BadRequest(
                f"Content-Type {media or '(none)'}: send application/json or "
                "application/x-www-form-urlencoded"
            )
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"The login request cannot be read: {exc}") from exc
    username = fields.get("username") if isinstance(fields, dict) else None
    password = fields.get("password") if isinstance(fields, dict) else None
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadRequest("A login needs the strings username and password")
    return username, password


@router.post(
    "/api/login",
    summary="Sign in with a user name and password: a session bearer token",
    responses={
        400: {"description": "Not a JSON object or form with username and password"},
        401: {"description": "Unknown user or wrong password (one answer for both)"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _CREDENTIALS},
                "application/x-www-form-urlencoded": {"schema": _CREDENTIALS},
            },
        }
    },
)
async def login(request: Request, response: Response) -> Session:
    username, password = await _credentials(request)
    state = request.app.state
    issued = await run_in_threadpool(
        auth.login,
        state.engine,
        state.secret,
        username,
        password,
        timedelta(hours=state.settings.session_hours),
        client=client_address(request),
        now=state.clock.now(),
    )
    response.headers.update(NO_STORE)
    assert issued.expires_at is not None
    return Session(access_token=issued.token, expires_at=issued.expires_at)


@router.post(
    "/api/logout",
    status_code=204,
    summary="Sign out: revoke the DSM bearer token this request carries",
    responses={
        400: {"description": "Not a DSM token (sign out of OpenID Connect at its issuer)"},
        401: {"description": "No or bad token"},
    },
)
def logout(request: Request, principal: PrincipalDep) -> Response:
    if principal is None:
        raise Unauthorized("Signing out needs the bearer token to revoke")
    token = request.headers["authorization"].partition(" ")[2].strip()
    if not token.startswith(PREFIX):
        raise BadRequest("Only DSM tokens are revoked here; sign out at the identity provider")
    state = request.app.state
    actor = Actor(principal, client_address(request))
    auth.revoke_presented(state.engine, state.secret, token, actor=actor, now=state.clock.now())
    return Response(status_code=204)
