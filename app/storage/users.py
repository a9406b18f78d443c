"""Users and their tokens in the catalog. Token rows hold only the keyed hash (`digest`); nothing
here ever reads or returns it to a caller outside this module."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from app.storage.schema import tokens, users

# `last_used_at` is written at most this often per token, so a busy client does not turn every
# read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)

PrincipalRow = tuple[str, str, str | None, tuple[str, ...]]


def _groups(text: str | None) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; DSM writes UTC only."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def add_user(
    conn: Connection, name: str, role: str, provider: str | None, groups: tuple[str, ...] = ()
) -> None:
    conn.execute(
        insert(users).values(
            name=name,
            role=role,
            provider=provider,
            groups=" ".join(groups) or None,
            created_at=datetime.now(UTC),
        )
    )


def user_pk(conn: Connection, name: str) -> int | None:
    return conn.execute(select(users.c.pk).where(users.c.name == name)).scalar()


def user_row(conn: Connection, name: str) -> PrincipalRow | None:
    row = conn.execute(
        select(users.c.name, users.c.role, users.c.provider, users.c.groups).where(
            users.c.name == name
        )
    ).first()
    return (row.name, row.role, row.provider, _groups(row.groups)) if row else None


def user_listing(conn: Connection) -> list[dict]:
    rows = conn.execute(select(users).order_by(users.c.name))
    return [
        {
            "name": row.name,
            "role": row.role,
            "provider": row.provider,
            "groups": list(_groups(row.groups)),
            "created_at": _aware(row.created_at),
            "password": row.password_hash is not None,
        }
        for row in rows
    ]


def password_hash(conn: Connection, name: str) -> tuple[int, str | None] | None:
    """(user pk, password hash or None) of a user; None when there is no such user."""
    row = conn.execute(
        select(users.c.pk, users.c.password_hash).where(users.c.name == name)
    ).first()
    return (row.pk, row.password_hash) if row else None


def set_password_hash(conn: Connection, name: str, hashed: str) -> bool:
    done = conn.execute(update(users).where(users.c.name == name).values(password_hash=hashed))
    return done.rowcount == 1


def add_token(
    conn: Connection,
    user: int,
    digest: str,
    expires_at: datetime | None,
    label: str | None = None,
    now: datetime | None = None,
) -> int:
    """Store a token's keyed hash; its id."""
    result = conn.execute(
        insert(tokens).values(
            user_pk=user,
            digest=digest,
            expires_at=expires_at,
            label=label,
            created_at=now or datetime.now(UTC),
        )
    )
    return result.inserted_primary_key[0]


def token_listing(conn: Connection, user: int | None = None) -> list[dict]:
    """Tokens, newest first: everything but the digest."""
    query = (
        select(
            tokens.c.pk,
            users.c.name,
            tokens.c.label,
            tokens.c.created_at,
            tokens.c.expires_at,
            tokens.c.last_used_at,
            tokens.c.revoked_at,
        )
        .join(users, users.c.pk == tokens.c.user_pk)
        .order_by(tokens.c.pk.desc())
    )
    if user is not None:
        query = query.where(tokens.c.user_pk == user)
    return [
        {
            "id": row.pk,
            "user": row.name,
            "label": row.label,
            "created_at": _aware(row.created_at),
            "expires_at": _aware(row.expires_at),
            "last_used_at": _aware(row.last_used_at),
            "revoked_at": _aware(row.revoked_at),
        }
        for row in conn.execute(query)
    ]


def revoke(conn: Connection, token: int, now: datetime) -> tuple[str, bool] | None:
    """Revoke a token by id: (its user's name, whether it was live until now); None if unknown."""
    row = conn.execute(
        select(users.c.name, tokens.c.revoked_at)
        .join(users, users.c.pk == tokens.c.user_pk)
        .where(tokens.c.pk == token)
    ).first()
    if row is None:
        return None
    if row.revoked_at is not None:
        return row.name, False
    conn.execute(update(tokens).where(tokens.c.pk == token).values(revoked_at=now))
    return row.name, True


def token_id(conn: Connection, digest: str) -> int | None:
    return conn.execute(select(tokens.c.pk).where(tokens.c.digest == digest)).scalar()


def principal_row(conn: Connection, digest: str, now: datetime) -> PrincipalRow | None:
    """(name, role, provider, groups) for a live token, recording its use; None if unknown,
    expired or revoked."""
    row = conn.execute(
        select(
            users.c.name,
            users.c.role,
            users.c.provider,
            users.c.groups,
            tokens.c.pk,
            tokens.c.expires_at,
            tokens.c.revoked_at,
            tokens.c.last_used_at,
        )
        .join(users, users.c.pk == tokens.c.user_pk)
        .where(tokens.c.digest == digest)
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    expires = _aware(row.expires_at)
    if expires is not None and expires <= now:
        return None
    last = _aware(row.last_used_at)
    if last is None or now - last >= LAST_USED_RESOLUTION or now < last:
        conn.execute(update(tokens).where(tokens.c.pk == row.pk).values(last_used_at=now))
    return row.name, row.role, row.provider, _groups(row.groups)
