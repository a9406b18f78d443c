"""Embargoed releases: submissions whose versions become visible at a release time. Listing what
is scheduled, moving a release time, cancelling a release (before it happens)."""

from datetime import datetime

from sqlalchemy import Connection, Engine

from app.auth.tokens import Principal
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.audit import Actor, record
from app.services.ingest import writer_lock
from app.storage import observations as store
from app.storage import submissions as history
from app.storage import versions


def scheduled(engine: Engine, principal: Principal, now: datetime) -> list[dict]:
    """Pending releases, soonest first: all for an admin, a provider's own otherwise."""
    if not principal.is_admin and principal.role != "provider":
        raise Forbidden("Only providers and admins have releases")
    with engine.connect() as conn:
        return history.releases(conn, now, None if principal.is_admin else principal.provider)


def _pending(conn: Connection, principal: Principal, submission: int, now: datetime) -> dict:
    found = history.release(conn, submission)
    mine = found is not None and (
        principal.is_admin
        or (principal.role == "provider" and found["provider"] == principal.provider)
    )
    if found is None or not mine:
        raise NotFound(f"No release {submission}")
    if found["status"] != "accepted" or found["release_at"] is None:
        raise Conflict(f"Submission {submission} is {found['status']}: no release to change")
    if datetime.fromisoformat(found["release_at"]) <= now:
        raise Conflict(f"Submission {submission} was released at {found['release_at']}: too late")
    return found


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
        found = _pending(conn, principal, submission, now)
        for tables in store.existing_tables(conn, flows.values()):
            versions.move_release(conn, tables, submission, release_at)
        versions.move_dataset_attributes(conn, submission, release_at)
        history.set_release(conn, submission, release_at)
        detail = {"from": found["release_at"], "to": release_at.isoformat()}
        record(conn, actor, "release.move", str(submission), "ok", detail)
        return history.release(conn, submission, status=False) or {}


def cancel(
    engine: Engine, flows: dict, actor: Actor, principal: Principal, submission: int, now: datetime
) -> None:
    """Cancel a pending release: as if the submission had never been accepted (it stays in the
    history, with status `cancelled`)."""
    with engine.begin() as conn:
        writer_lock(conn, 30)
        found = _pending(conn, principal, submission, now)
        removed = 0
        for tables in store.existing_tables(conn, flows.values()):
            removed += versions.cancel_release(conn, tables, submission)
        versions.move_dataset_attributes(conn, submission, None)
        history.set_release(conn, submission, None, "cancelled")
        detail = {"release_at": found["release_at"], "versions": removed}
        record(conn, actor, "release.cancel", str(submission), "ok", detail)
