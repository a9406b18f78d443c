"""Structure artefacts in the catalog: read all, replace some, delete one, and the registry revision."""

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, select, update

from app.readers.structure import ArtefactXml
from app.storage.schema import artefacts, registry_state


def all_artefacts(conn: Connection) -> list[ArtefactXml]:
    rows = conn.execute(
        select(
            artefacts.c.resource,
            artefacts.c.agency,
            artefacts.c.id,
            artefacts.c.version,
            artefacts.c.is_final,
            artefacts.c.xml,
        ).order_by(artefacts.c.pk)
    )
    return [ArtefactXml(*row) for row in rows]


def count(conn: Connection) -> int:
    return len(conn.execute(select(artefacts.c.pk)).all())


def revision(conn: Connection) -> tuple[int, datetime]:
    """The registry revision and the time of the last structure change (0 and epoch when empty)."""
    row = conn.execute(select(registry_state.c.revision, registry_state.c.updated_at)).first()
    if row is None:
        return 0, datetime(1970, 1, 1, tzinfo=UTC)
    stamp = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    return row.revision, stamp


def _bump(conn: Connection, now: datetime) -> None:
    if (
        conn.execute(
            update(registry_state).values(revision=registry_state.c.revision + 1, updated_at=now)
        ).rowcount
        == 0
    ):
        conn.execute(insert(registry_state).values(pk=1, revision=1, updated_at=now))


def save(conn: Connection, records: Iterable[ArtefactXml]) -> tuple[int, int, int]:
    """Insert new artefacts and replace changed ones; returns (created, replaced, unchanged)."""
    now = datetime.now(UTC)
    created = replaced = unchanged = 0
    for record in records:
        digest = hashlib.sha256(record.xml.encode()).hexdigest()
        where = (
            (artefacts.c.resource == record.resource)
            & (artefacts.c.agency == record.agency)
            & (artefacts.c.id == record.id)
            & (artefacts.c.version == record.version)
        )
        existing = conn.execute(select(artefacts.c.sha256).where(where)).scalar()
        values = {
            "is_final": record.is_final,
            "xml": record.xml,
            "sha256": digest,
            "updated_at": now,
        }
        if existing is None:
            conn.execute(
                insert(artefacts).values(
                    resource=record.resource,
                    agency=record.agency,
                    id=record.id,
                    version=record.version,
                    **values,
                )
            )
            created += 1
        elif existing != digest:
            conn.execute(update(artefacts).where(where).values(**values))
            replaced += 1
        else:
            unchanged += 1
    if created or replaced:
        _bump(conn, now)
    return created, replaced, unchanged


def remove(conn: Connection, key: tuple[str, str, str, str]) -> bool:
    resource, agency, ident, version = key
    result = conn.execute(
        delete(artefacts).where(
            (artefacts.c.resource == resource)
            & (artefacts.c.agency == agency)
            & (artefacts.c.id == ident)
            & (artefacts.c.version == version)
        )
    )
    if result.rowcount:
        _bump(conn, datetime.now(UTC))
    return bool(result.rowcount)
