"""Users and their tokens in the catalog."""

from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

from app.storage.schema import tokens, users


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


PrincipalRow = tuple[str, str, str | None, tuple[str, ...]]


def _groups(text: str | None) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


def user_pk(conn: Connection, name: str) -> int | None:
    return conn.execute(select(users.c.pk).where(users.c.name == name)).scalar()


def add_token(conn: Connection, user: int, digest: str, expires_at: datetime | None) -> None:
    conn.execute(
        insert(tokens).values(
            user_pk=user, digest=digest, expires_at=expires_at, created_at=datetime.now(UTC)
        )
    )


def principal_row(conn: Connection, digest: str, now: datetime) -> PrincipalRow | None:
    """(name, role, provider, groups) for a live token, recording its use; None if unknown, expired or revoked."""
    row = conn.execute(
        select(
            users.c.name,
            users.c.role,
            users.c.provider,
            users.c.groups,
            tokens.c.pk,
            tokens.c.expires_at,
            tokens.c.revoked_at,
        )
        .join(users, users.c.pk == tokens.c.user_pk)
        .where(tokens.c.digest == digest)
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    expires = row.expires_at
    if expires is not None and (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) <= now:
        return None
    conn.execute(update(tokens).where(tokens.c.pk == row.pk).values(last_used_at=now))
    return row.name, row.role, row.provider, _groups(row.groups)


def user_row(conn: Connection, name: str) -> PrincipalRow | None:
    row = conn.execute(
        select(users.c.name, users.c.role, users.c.provider, users.c.groups).where(
            users.c.name == name
        )
    ).first()
    return (row.name, row.role, row.provider, _groups(row.groups)) if row else None
