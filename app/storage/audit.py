"""The audit log: append-only (the database refuses UPDATE and DELETE on it, see migration 0003)."""

import json
from datetime import datetime

from sqlalchemy import Connection, insert, select

from app.storage.schema import audit_log


def add(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(audit_log), rows)


def listing(
    conn: Connection,
    *,
    principal: str | None = None,
    action: str | None = None,
    target: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict]:
    """Audit records, newest first, filtered (`action` and `target` match as prefixes)."""
    t = audit_log.c
    query = select(audit_log).order_by(t.id.desc()).limit(limit).offset(offset)
    if principal is not None:
        query = query.where(t.principal == principal)
    if action:
        query = query.where(t.action.startswith(action, autoescape=True))
    if target:
        query = query.where(t.target.startswith(target, autoescape=True))
    if outcome:
        query = query.where(t.outcome == outcome)
    if since is not None:
        query = query.where(t.at >= since)
    if until is not None:
        query = query.where(t.at < until)
    return [
        {
            "id": row.id,
            "at": row.at.isoformat(),
            "principal": row.principal,
            "role": row.role,
            "action": row.action,
            "target": row.target,
            "outcome": row.outcome,
            "client": row.client,
            "detail": json.loads(row.detail) if row.detail else None,
        }
        for row in conn.execute(query)
    ]
