"""Embargoed releases: submissions whose versions become visible at a release time. Listing what
is scheduled, moving a release time, cancelling a release (before it happens)."""

import json
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, update

from app.auth.tokens import Principal
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.audit import Actor, record
from app.services.ingest import writer_lock
from app.storage import observations as store
from app.storage.schema import submissions

_COLUMNS = (
    submissions.c.id,
    submissions.c.created_at,
    submissions.c.visible_from,
    submissions.c.principal,
    submissions.c.provider,
    submissions.c.dataflow,
    submissions.c.counts,
)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _item(row) -> dict:  # type: ignore[no-untyped-def]
    return {
        "submission": row.id,
        "release_at": _aware(row.visible_from).isoformat(),
        "created_at": _aware(row.created_at).isoformat(),
        "principal": row.principal,
        "provider": row.provider,
        "dataflow": row.dataflow,
        "counts": json.loads(row.counts),
    }


def scheduled(engine: Engine, principal: Principal, now: datetime) -> list[dict]:
    """Pending releases, soonest first: all for an admin, a provider's own otherwise."""
    query = (
        select(*_COLUMNS)
        .where(submissions.c.status == "accepted", submissions.c.visible_from > now)
        .order_by(submissions.c.visible_from, submissions.c.id)
    )
    if not principal.is_admin:
        if principal.role != "provider":
            raise Forbidden("Only providers and admins have releases")
        query = query.where(submissions.c.provider == principal.provider)
    with engine.connect() as conn:
        return [_item(row) for row in conn.execute(query)]


def _pending(conn: Connection, principal: Principal, submission: int, now: datetime):  # type: ignore[no-untyped-def]
    row = conn.execute(
        select(*_COLUMNS, submissions.c.status).where(submissions.c.id == submission)
    ).first()
    mine = row is not None and (
        principal.is_admin or (principal.role == "provider" and row.provider == principal.provider)
    )
    if not mine:
        raise NotFound(f"No release {submission}")
    if row.status != "accepted" or row.visible_from is None:
        raise Conflict(f"Submission {submission} is {row.status}: no release to change")
    if _aware(row.visible_from) <= now:
        raise Conflict(f"Submission {submission} was released at {row.visible_from}: too late")
    return row


def _flows_tables(conn: Connection, flows: dict) -> list[store.FlowTables]:
    seen: dict[str, store.FlowTables] = {}
    for flow in flows.values():
        tables = store.tables_for(flow)
        if tables.obs.name not in seen and store.exists(conn, tables):
            seen[tables.obs.name] = tables
    return list(seen.values())


def move(
    engine: Engine,
    flows: dict,
    actor: Actor,
    principal: Principal,
    submission: int,
    release_at: datetime,
    now: datetime,
) -> dict:
    """Move a pending release to `release_at` (still in the future): all its versions at once."""
    if release_at.tzinfo is None:
        raise Invalid("releaseAt needs a UTC offset, e.g. 2026-12-01T09:00:00+00:00")
    if release_at <= now:
        raise Invalid(f"releaseAt {release_at.isoformat()} is not in the future")
    with engine.begin() as conn:
        writer_lock(conn, 30)
        row = _pending(conn, principal, submission, now)
        for tables in _flows_tables(conn, flows):
            store.move_release(conn, tables, submission, release_at)
        store.move_dataset_attributes(conn, submission, release_at)
        conn.execute(
            update(submissions)
            .where(submissions.c.id == submission)
            .values(visible_from=release_at)
        )
        detail = {"from": _aware(row.visible_from).isoformat(), "to": release_at.isoformat()}
        record(conn, actor, "release.move", str(submission), "ok", detail)
        moved = conn.execute(select(*_COLUMNS).where(submissions.c.id == submission)).one()
        return _item(moved)


def cancel(
    engine: Engine, flows: dict, actor: Actor, principal: Principal, submission: int, now: datetime
) -> None:
    """Cancel a pending release: as if the submission had never been accepted (it stays in the
    history, with status `cancelled`)."""
    with engine.begin() as conn:
        writer_lock(conn, 30)
        row = _pending(conn, principal, submission, now)
        removed = 0
        for tables in _flows_tables(conn, flows):
            removed += store.cancel_release(conn, tables, submission)
        store.move_dataset_attributes(conn, submission, None)
        conn.execute(
            update(submissions)
            .where(submissions.c.id == submission)
            .values(status="cancelled", visible_from=None)
        )
        detail = {"release_at": _aware(row.visible_from).isoformat(), "versions": removed}
        record(conn, actor, "release.cancel", str(submission), "ok", detail)
