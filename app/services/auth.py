"""Principals: users, their bearer tokens and passwords, and telling who holds a token.

Every change (a user added, a password set, a token issued or revoked, a login) is audited by
`app.services.audit.record` in the transaction that makes it. Neither a token nor a password nor
a hash ever reaches the audit log. Functions take an `Actor` (who acts, from where); code that
acts on its own (set-up, tests) is `SYSTEM`.
"""

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sdmx.model.common import DataProviderScheme
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from app.auth import passwords
from app.auth.tokens import ROLES, Principal, digest, new_token
from app.errors import Conflict, Invalid, NotFound, Unauthorized
from app.services.audit import Actor, record, record_now
from app.storage import users as store

SYSTEM = Actor(Principal("dsm", "admin"))
# User names may be e-mail addresses; group names may be Keycloak group paths.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}")
GROUP = re.compile(r"[A-Za-z0-9/][A-Za-z0-9._@:/+-]{0,99}")
LABEL_MAX = 200
LOGIN_LABEL = "login"
LOGIN_REFUSED = "Unknown user or wrong password"


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: the only moment its value is known."""

    id: int
    user: str
    token: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None


def known_providers(registry: Iterable[object]) -> set[str]:
    """The data provider ids of every data provider scheme in a structure registry."""
    return {
        provider.id
        for scheme in registry
        if isinstance(scheme, DataProviderScheme)
        for provider in scheme.items.values()
    }


def _check_user(
    name: str,
    role: str,
    provider: str | None,
    groups: tuple[str, ...],
    known: Collection[str] | None,
) -> None:
    if not NAME.fullmatch(name):
        raise Invalid(
            f"User name {name!r}: expected 1-200 letters, digits and . _ @ + - "
            "(starting with a letter or digit)"
        )
    if role not in ROLES:
        raise Invalid(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if role == "provider" and not provider:
        raise Invalid("A provider user needs a provider (a data provider id, e.g. KAZ_STAT)")
    if role != "provider" and provider:
        raise Invalid(f"Only provider users have a provider; {name!r} is {role}")
    if provider and known is not None and provider not in known:
        raise Invalid(f"Unknown data provider {provider!r}; known: {', '.join(sorted(known))}")
    for group in groups:
        if not GROUP.fullmatch(group):
            raise Invalid(
                f"Group name {group!r}: expected 1-100 letters, digits and . _ @ : / + - "
                "(no spaces)"
            )


def add_user(
    engine: Engine,
    name: str,
    role: str,
    provider: str | None = None,
    groups: Iterable[str] = (),
    *,
    known: Collection[str] | None = None,
    actor: Actor = SYSTEM,
) -> None:
    """Add a user; `known` (the data provider ids) checks a provider's id when given."""
    unique = tuple(dict.fromkeys(groups))
    _check_user(name, role, provider, unique, known)
    try:
        with engine.begin() as conn:
            store.add_user(conn, name, role, provider, unique)
            detail = {"role": role, "provider": provider, "groups": list(unique) or None}
            record(conn, actor, "user.add", name, "ok", {k: v for k, v in detail.items() if v})
    except IntegrityError as exc:
        raise Conflict(f"User {name!r} already exists") from exc


def list_users(engine: Engine) -> list[dict]:
    """Every user: name, role, provider, groups, created_at, and whether it has a password."""
    with engine.connect() as conn:
        return store.user_listing(conn)


def set_password(engine: Engine, name: str, password: str, *, actor: Actor = SYSTEM) -> None:
    if (problem := passwords.problem(password)) is not None:
        raise Invalid(problem)
    hashed = passwords.hash_password(password)
    with engine.begin() as conn:
        if not NAME.fullmatch(name) or not store.set_password_hash(conn, name, hashed):
            raise NotFound(f"No user {name!r}")
        record(conn, actor, "password.set", name, "ok")


def issue_token(
    engine: Engine,
    secret: bytes,
    name: str,
    expires_at: datetime | None = None,
    *,
    label: str | None = None,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> IssuedToken:
    """A new bearer token for user `name`; only its keyed hash is stored."""
    if label is not None and (len(label) > LABEL_MAX or not label.isprintable()):
        raise Invalid(f"A token label is up to {LABEL_MAX} printable characters")
    now = now or datetime.now(UTC)
    token = new_token()
    with engine.begin() as conn:
        user = store.user_pk(conn, name) if NAME.fullmatch(name) else None
        if user is None:
            raise NotFound(f"No user {name!r}; add it first with `dsm users add`")
        pk = store.add_token(conn, user, digest(secret, token), expires_at, label, now)
        detail = {"user": name, "label": label, "expires_at": expires_at}
        record(conn, actor, "token.issue", f"token:{pk}", "ok", detail)
    return IssuedToken(pk, name, token, label, now, expires_at)


def create_token(
    engine: Engine, secret: bytes, name: str, expires_at: datetime | None = None
) -> str:
    """A new bearer token for user `name`, issued by the system (set-up code and tests)."""
    return issue_token(engine, secret, name, expires_at).token


def list_tokens(engine: Engine, user: str | None = None) -> list[dict]:
    """Tokens, newest first (of one user when `user` is given): never the token or its hash."""
    with engine.connect() as conn:
        pk = None
        if user is not None:
            pk = store.user_pk(conn, user) if NAME.fullmatch(user) else None
            if pk is None:
                raise NotFound(f"No user {user!r}")
        return store.token_listing(conn, pk)


def revoke_token(
    engine: Engine, token_id: int, *, actor: Actor = SYSTEM, now: datetime | None = None
) -> bool:
    """Revoke a token by id; False if it was revoked already (nothing changes, nothing is
    audited). NotFound for an unknown id."""
    with engine.begin() as conn:
        known = 0 < token_id < 2**31  # the column's range
        outcome = store.revoke(conn, token_id, now or datetime.now(UTC)) if known else None
        if outcome is None:
            raise NotFound(f"No token {token_id}")
        user, changed = outcome
        if changed:
            record(conn, actor, "token.revoke", f"token:{token_id}", "ok", {"user": user})
    return changed


def revoke_presented(
    engine: Engine, secret: bytes, token: str, *, actor: Actor, now: datetime | None = None
) -> bool:
    """Revoke the token a client presents (signing out)."""
    with engine.connect() as conn:
        pk = store.token_id(conn, digest(secret, token))
    return pk is not None and revoke_token(engine, pk, actor=actor, now=now)


def login(
    engine: Engine,
    secret: bytes,
    username: str,
    password: str,
    session: timedelta,
    *,
    client: str | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    """A session token (labelled "login") for a user whose password matches; Unauthorized with
    the same message whether the user is unknown or the password wrong."""
    now = now or datetime.now(UTC)
    valid = NAME.fullmatch(username) is not None
    with engine.connect() as conn:
        found = store.password_hash(conn, username) if valid else None
        principal = store.user_row(conn, username) if found else None
    user, hashed = found or (None, None)
    if not passwords.verify(password, hashed) or user is None or principal is None:
        reason = "wrong password" if hashed else "no password set" if found else "unknown user"
        detail = {"reason": reason} if valid else {"reason": reason, "name": username[:200]}
        target = username if valid else None
        record_now(engine, Actor(None, client), "login", target, "denied", detail)
        raise Unauthorized(LOGIN_REFUSED)
    actor = Actor(Principal(*principal), client)
    token = new_token()
    expires = now + session
    with engine.begin() as conn:
        pk = store.add_token(conn, user, digest(secret, token), expires, LOGIN_LABEL, now)
        record(conn, actor, "login", username, "ok", {"token": pk, "expires_at": expires})
    return IssuedToken(pk, username, token, LOGIN_LABEL, now, expires)


def authenticate(
    engine: Engine, secret: bytes, token: str, now: datetime | None = None
) -> Principal | None:
    with engine.begin() as conn:
        row = store.principal_row(conn, digest(secret, token), now or datetime.now(UTC))
    return Principal(*row) if row else None


def principal_named(engine: Engine, name: str) -> Principal | None:
    """The principal of a user, by name (the CLI acts as a user with `--as`)."""
    with engine.connect() as conn:
        row = store.user_row(conn, name)
    return Principal(*row) if row else None
