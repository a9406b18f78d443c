"""Who may see and do what: a principal's `Access` (grants and restricted dataflows, read per
request so that a change applies at once) and the `View` of a dataflow's data it reads through.
Also the management of grants and restrictions, each change audited in its transaction."""

from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from app.auth.access import ACTIONS, Access, grantees
from app.auth.tokens import Principal
from app.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from app.services.audit import Actor, record
from app.storage import grants as store
from app.storage import submissions as history
from app.storage.data_queries import View


def load(conn: Connection, principal: Principal | None) -> Access:
    if principal is not None and principal.is_admin:
        return Access(principal, (), ())
    return Access(
        principal,
        tuple(store.rules(conn, grantees(principal))),
        tuple(store.restricted(conn)),
    )


def pending(conn: Connection, now: datetime, provider: str | None = None) -> list[int]:
    """Accepted submissions whose release time is still ahead (a provider's own, if given)."""
    return history.pending_ids(conn, now, provider)


def view(conn: Connection, access: Access, flow_ref: str, now: datetime) -> View:
    """The view `access` reads `flow_ref` through; Unauthorized/Forbidden without read."""
    if not access.allows("read", flow_ref):
        if access.principal is None:
            raise Unauthorized(f"Reading {flow_ref} needs a bearer token")
        raise Forbidden(f"User {access.principal.name!r} may not read {flow_ref}")
    confidential = access.allows("read_confidential", flow_ref)
    if access.allows("read_embargoed", flow_ref):
        return View(None, confidential)
    if not pending(conn, now):
        # nothing under embargo: the latest versions are the visible ones (and the reads take
        # the current-rows index alone). `conn` reads one snapshot (storage.engine.read_snapshot),
        # so a release made pending meanwhile cannot slip between this check and the query.
        return View(None, confidential, sees_embargoed=False)
    principal = access.principal
    own: tuple[int, ...] = ()
    if principal is not None and principal.role == "provider" and principal.provider:
        own = tuple(pending(conn, now, principal.provider))
    return View(now, confidential, own, sees_embargoed=False)


def audited_reads(
    conn: Connection, view_: View, restricted: bool, carries_confidentiality: bool, now: datetime
) -> list[str]:
    """Which audited kinds of read a query through `view_` is: "read.confidential" when it may
    return what the public cannot see (the dataflow is restricted, or its structure carries
    CONF_STATUS), "read.embargoed" when it may return versions not yet released."""
    kinds = []
    if view_.confidential and (restricted or carries_confidentiality):
        kinds.append("read.confidential")
    if view_.pending or (view_.sees_embargoed and pending(conn, now)):
        kinds.append("read.embargoed")
    return kinds


# -- management ----------------------------------------------------------------------------------


def _grantee(text: str) -> str:
    kind, _, name = text.partition(":")
    if kind not in ("user", "group", "role") or not name:
        raise Invalid(f"Grantee {text!r}: expected user:NAME, group:NAME or role:ROLE")
    if kind == "role" and name not in ("anonymous", "partner", "provider", "admin"):
        raise Invalid(f"Unknown role {name!r}; expected anonymous, partner, provider or admin")
    return text


def grant(
    engine: Engine, actor: Actor, grantee: str, dataflow: str, action: str, now: datetime
) -> int:
    if action not in ACTIONS:
        raise Invalid(f"Unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if not dataflow.strip():
        raise Invalid("A grant needs a dataflow pattern (e.g. * or DSM:DF_ASYLUM*)")
    try:
        with engine.begin() as conn:
            pk = store.add(conn, _grantee(grantee), dataflow, action, now, actor.name)
            detail = {"grantee": grantee, "action": action}
            record(conn, actor, "grant.add", dataflow, "ok", {**detail, "id": pk})
    except IntegrityError as exc:
        raise Conflict(f"{grantee} already has {action} on {dataflow}") from exc
    return pk


def revoke_grant(engine: Engine, actor: Actor, grant_id: int) -> dict:
    with engine.begin() as conn:
        removed = store.remove(conn, grant_id)
        if removed is None:
            raise NotFound(f"No grant {grant_id}")
        record(conn, actor, "grant.remove", removed["dataflow"], "ok", {**removed, "id": grant_id})
    return removed


def grants(engine: Engine, grantee: str | None = None) -> list[dict]:
    with engine.connect() as conn:
        return store.listing(conn, grantee)


def restrict(engine: Engine, actor: Actor, dataflow: str, now: datetime) -> bool:
    with engine.begin() as conn:
        added = store.restrict(conn, dataflow, now, actor.name)
        if added:
            record(conn, actor, "restriction.add", dataflow, "ok")
    return added


def unrestrict(engine: Engine, actor: Actor, dataflow: str) -> None:
    with engine.begin() as conn:
        if not store.unrestrict(conn, dataflow):
            raise NotFound(f"{dataflow} is not restricted")
        record(conn, actor, "restriction.remove", dataflow, "ok")


def restrictions(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return store.restrictions_listing(conn)
