"""Principals: adding users, issuing tokens, and telling who holds a bearer token."""

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from app.auth.tokens import ROLES, Principal, digest, new_token
from app.errors import Conflict, Invalid, NotFound
from app.storage import users as store


def add_user(
    engine: Engine,
    name: str,
    role: str,
    provider: str | None = None,
    groups: tuple[str, ...] = (),
) -> None:
    if role not in ROLES:
        raise Invalid(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if role == "provider" and not provider:
        raise Invalid("A provider user needs --provider (a data provider id)")
    try:
        with engine.begin() as conn:
            store.add_user(conn, name, role, provider, groups)
    except IntegrityError as exc:
        raise Conflict(f"User {name!r} already exists") from exc


def create_token(
    engine: Engine, secret: bytes, name: str, expires_at: datetime | None = None
) -> str:
    """A new bearer token for user `name`; only its keyed hash is stored."""
    token = new_token()
    with engine.begin() as conn:
        user = store.user_pk(conn, name)
        if user is None:
            raise NotFound(f"No user {name!r}; add it first with `dsm users add`")
        store.add_token(conn, user, digest(secret, token), expires_at)
    return token


def authenticate(engine: Engine, secret: bytes, token: str) -> Principal | None:
    with engine.begin() as conn:
        row = store.principal_row(conn, digest(secret, token), datetime.now(UTC))
    return Principal(*row) if row else None


def principal_named(engine: Engine, name: str) -> Principal | None:
    """The principal of a user, by name (the CLI acts as a user with `--as`)."""
    with engine.connect() as conn:
        row = store.user_row(conn, name)
    return Principal(*row) if row else None
