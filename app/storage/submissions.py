"""Submission records and the original messages kept with them."""

import gzip
import json
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, and_, func, insert, select, update

from app.auth.tokens import Principal
from app.storage.schema import submission_blobs, submissions


class _Outcome(Protocol):
    status: str
    http_status: int
    dataflow: str | None
    format: str | None
    operations: list[str]

    def report(self) -> dict: ...


class _Received(Protocol):
    file: Any
    gzipped: bool


def _values(outcome: _Outcome) -> dict[str, Any]:
    report = outcome.report()
    return {
        "status": outcome.status,
        "http_status": outcome.http_status,
        "dataflow": outcome.dataflow,
        "format": outcome.format,
        "action": ",".join(outcome.operations) or None,
        "counts": json.dumps(report["counts"]),
        "report": json.dumps(report, ensure_ascii=False),
    }


def open(conn: Connection, created: datetime, principal: Principal, sha256: str, size: int) -> int:  # noqa: A001
    """Insert a pending submission (inside the write transaction) and return its id."""
    return conn.execute(
        insert(submissions)
        .values(
            created_at=created,
            principal=principal.name,
            provider=principal.provider,
            sha256=sha256,
            size=size,
            status="pending",
            http_status=0,
            counts="{}",
            report="{}",
        )
        .returning(submissions.c.id)
    ).scalar_one()


def close(
    conn: Connection,
    submission: int,
    outcome: _Outcome,
    visible_from: datetime,
    reverts: int | None = None,
) -> None:
    """Finish an accepted submission: its outcome and the time its versions became visible."""
    conn.execute(
        update(submissions)
        .where(submissions.c.id == submission)
        .values(visible_from=visible_from, reverts=reverts, **_values(outcome))
    )


def record(
    conn: Connection,
    created: datetime,
    principal: Principal,
    sha256: str,
    size: int,
    outcome: _Outcome,
    reverts: int | None = None,
) -> int:
    """Insert a finished submission that changed nothing (rejected, dry run) and return its id."""
    submission = open(conn, created, principal, sha256, size)
    outcome.id = submission  # type: ignore[attr-defined]
    conn.execute(
        update(submissions)
        .where(submissions.c.id == submission)
        .values(reverts=reverts, **_values(outcome))
    )
    return submission


def keep_message(conn: Connection, submission: int, compressed: Any, piece: int) -> None:
    """Store the (gzip-compressed) message read from `compressed`, in pieces (memory stays
    bounded)."""
    _store_pieces(conn, submission, compressed, piece)


def _store_pieces(conn: Connection, submission: int, source: Any, piece: int) -> None:
    seq = 0
    while block := source.read(piece):
        conn.execute(insert(submission_blobs).values(submission_id=submission, seq=seq, data=block))
        seq += 1


def message(conn: Connection, submission: int) -> bytes:
    """The original message of a submission, decompressed."""
    pieces = conn.execute(
        select(submission_blobs.c.data)
        .where(submission_blobs.c.submission_id == submission)
        .order_by(submission_blobs.c.seq)
    ).scalars()
    return gzip.decompress(b"".join(pieces))


def listing(
    conn: Connection, principal: Principal | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """Submissions newest first; a provider's own only (principal given), else all."""
    query = select(
        submissions.c.id,
        submissions.c.created_at,
        submissions.c.visible_from,
        submissions.c.principal,
        submissions.c.provider,
        submissions.c.dataflow,
        submissions.c.action,
        submissions.c.format,
        submissions.c.sha256,
        submissions.c.size,
        submissions.c.status,
        submissions.c.counts,
        submissions.c.reverts,
    )
    if principal is not None:
        query = query.where(submissions.c.principal == principal.name)
    rows = conn.execute(query.order_by(submissions.c.id.desc()).limit(limit).offset(offset))
    return [_row(r._mapping) for r in rows]


def get(conn: Connection, submission: int) -> dict[str, Any] | None:
    row = conn.execute(select(submissions).where(submissions.c.id == submission)).first()
    if row is None:
        return None
    result = _row(row._mapping)
    result["report"] = json.loads(row.report)
    return result


def _row(mapping: Any) -> dict[str, Any]:
    result = {k: v for k, v in mapping.items() if k not in ("report", "http_status")}
    result["counts"] = json.loads(mapping["counts"])
    for key in ("created_at", "visible_from"):
        value = result.get(key)
        if isinstance(value, datetime):
            result[key] = (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return result


# -- embargoed releases (accepted submissions whose visible_from is still ahead) ------------------

_RELEASE = (
    submissions.c.id,
    submissions.c.created_at,
    submissions.c.visible_from,
    submissions.c.principal,
    submissions.c.provider,
    submissions.c.dataflow,
    submissions.c.counts,
    submissions.c.status,
)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _release(row: Any, status: bool = True) -> dict[str, Any]:
    found = {
        "submission": row.id,
        "release_at": _aware(row.visible_from).isoformat() if row.visible_from else None,
        "created_at": _aware(row.created_at).isoformat(),
        "principal": row.principal,
        "provider": row.provider,
        "dataflow": row.dataflow,
        "counts": json.loads(row.counts),
    }
    if status:
        found["status"] = row.status
    return found


def _pending(now: datetime) -> Any:
    return and_(submissions.c.status == "accepted", submissions.c.visible_from > now)


def pending_ids(conn: Connection, now: datetime, provider: str | None = None) -> list[int]:
    """Submissions still under embargo at `now` (a provider's own, if given)."""
    query = select(submissions.c.id).where(_pending(now))
    if provider is not None:
        query = query.where(submissions.c.provider == provider)
    return list(conn.execute(query.order_by(submissions.c.id)).scalars())


def next_release(conn: Connection, now: datetime) -> datetime | None:
    """When the soonest pending release comes out (None when nothing is under embargo): the
    first moment after `now` at which the visible data changes without a write."""
    found = conn.execute(select(func.min(submissions.c.visible_from)).where(_pending(now))).scalar()
    if found is None or found.tzinfo is not None:
        return found
    return found.replace(tzinfo=UTC)  # SQLite keeps no zone: stored as UTC


def releases(conn: Connection, now: datetime, provider: str | None = None) -> list[dict[str, Any]]:
    """Pending releases, soonest first (a provider's own, if given)."""
    query = select(*_RELEASE).where(_pending(now))
    if provider is not None:
        query = query.where(submissions.c.provider == provider)
    rows = conn.execute(query.order_by(submissions.c.visible_from, submissions.c.id))
    return [_release(row, status=False) for row in rows]


def release(conn: Connection, submission: int, status: bool = True) -> dict[str, Any] | None:
    """One submission as a release (`release_at` None when it has no time), with its status."""
    row = conn.execute(select(*_RELEASE).where(submissions.c.id == submission)).first()
    return _release(row, status) if row else None


def set_release(
    conn: Connection, submission: int, at: datetime | None, status: str = "accepted"
) -> None:
    """Move a submission's release time, or (None, `cancelled`) cancel it."""
    conn.execute(
        update(submissions)
        .where(submissions.c.id == submission)
        .values(visible_from=at, status=status)
    )
