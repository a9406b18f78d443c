"""Bearer tokens: random, shown once, stored only as HMAC-SHA-256(server secret, token).

A keyed hash (not a plain hash) means a stolen token table is useless without the server secret.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

PREFIX = "dsm_"
ROLES = ("admin", "provider", "partner")


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user with a role (and, for a provider, its data provider id), and the
    groups it belongs to (grants can name a group)."""

    name: str
    role: str
    provider: str | None = None
    groups: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(secret: bytes, token: str) -> str:
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()


def resolve_secret(secret_key: str | None, database_url: str) -> bytes:
    """The server secret: `DSM_SECRET_KEY`, or for SQLite a secret generated once and kept in
    `dsm.secret` beside the database file. Other databases must have `DSM_SECRET_KEY`."""
    if secret_key:
        return secret_key.encode()
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise ValueError("DSM_SECRET_KEY must be set when the database is not SQLite")
    database = url.database
    folder = Path(database).resolve().parent if database and database != ":memory:" else Path.cwd()
    path = folder / "dsm.secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()
