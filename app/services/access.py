"""Who may see and do what: a principal's `Access` (grants and restricted dataflows) and the
`View` of a dataflow's data it reads through. Also the management of grants and restrictions,
each change audited in its transaction.

Reads take their `Access` from `Grants`, an in-memory copy of the two small tables: reloaded
when older than a second, and at once in the process that changed them (so a change applies to
the next request there, and within a second in every other server process). Writes (data
submissions) load them inside their own transaction."""

import threading
import time
import weakref
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


class Grants:
    """The grants and restricted dataflows, kept in memory for reads (see the module docstring)."""

    MAX_AGE = 1.0  # seconds

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._loaded = float("-inf")
        # (generation, rules by grantee, restricted patterns), replaced as one: the generation
        # moves when a reload finds other grants or restrictions
        self._state: tuple[int, dict[str, tuple[tuple[str, str], ...]], tuple[str, ...]]
        self._state = (0, {}, ())
        self._lock = threading.Lock()
        _caches.add(self)

    @property
    def generation(self) -> int:
        return self._state[0]

    def access(self, principal: Principal | None) -> Access:
        """What `principal` may do, with the generation of the grants it was read from."""
        if principal is not None and principal.is_admin:
            return Access(principal, (), (), self.generation)
        if time.monotonic() - self._loaded > self.MAX_AGE:
            self._reload()
        generation, by_grantee, restricted = self._state
        rules = tuple(rule for name in grantees(principal) for rule in by_grantee.get(name, ()))
        return Access(principal, rules, restricted, generation)

    def changed(self) -> None:
        """Grants or restrictions changed in this process: read them again on the next request."""
        self._loaded = float("-inf")

    def _reload(self) -> None:
        with self._lock:
            if time.monotonic() - self._loaded <= self.MAX_AGE:
                return
            started = time.monotonic()
            with self.engine.connect() as conn:
                rules: dict[str, list[tuple[str, str]]] = {}
                for grantee, pattern, action in store.all_rules(conn):
                    rules.setdefault(grantee, []).append((pattern, action))
                restricted = tuple(store.restricted(conn))
            loaded = {k: tuple(v) for k, v in rules.items()}
            generation, old_rules, old_restricted = self._state
            if (loaded, restricted) != (old_rules, old_restricted):
                self._state = (generation + 1, loaded, restricted)
            self._loaded = started


_caches: "weakref.WeakSet[Grants]" = weakref.WeakSet()


def _changed(engine: Engine) -> None:
    """Grants or restrictions of `engine`'s database changed: every cache of it in this process
    reads them again on its next request."""
    for cache in list(_caches):
        if cache.engine.url == engine.url:
            cache.changed()


def pending(conn: Connection, now: datetime, provider: str | None = None) -> list[int]:
    """Accepted submissions whose release time is still ahead (a provider's own, if given)."""
    return history.pending_ids(conn, now, provider)


def view(conn: Connection, access: Access, flow_ref: str, now: datetime) -> View:
    """The view `access` reads `flow_ref` through; Unauthorized/Forbidden without read."""
    latest = latest_view(access, flow_ref)
    if latest.sees_embargoed or not pending(conn, now):
        return latest
    return embargo_view(conn, access, latest, now)


def latest_view(access: Access, flow_ref: str) -> View:
    """The view of the latest versions (what `access` reads while no release is pending, and
    always with read_embargoed); Unauthorized/Forbidden without read."""
    if not access.allows("read", flow_ref):
        if access.principal is None:
            raise Unauthorized(f"Reading {flow_ref} needs a bearer token")
        raise Forbidden(f"User {access.principal.name!r} may not read {flow_ref}")
    confidential = access.allows("read_confidential", flow_ref)
    return View(None, confidential, sees_embargoed=access.allows("read_embargoed", flow_ref))


def embargo_view(conn: Connection, access: Access, latest: View, now: datetime) -> View:
    """The view of a principal without read_embargoed while some release is pending: the
    versions valid at `now`, and a provider's own pending submissions. `conn` reads one
    snapshot (storage.engine.read_snapshot), so a release made pending meanwhile cannot slip
    between the check that one is pending and the query."""
    principal = access.principal
    own: tuple[int, ...] = ()
    if principal is not None and principal.role == "provider" and principal.provider:
        own = tuple(pending(conn, now, principal.provider))
    return View(now, latest.confidential, own, sees_embargoed=False)


def audited_reads(
    view_: View, restricted: bool, carries_confidentiality: bool, any_pending: bool
) -> list[str]:
    """Which audited kinds of read a query through `view_` is: "read.confidential" when it may
    return what the public cannot see (the dataflow is restricted, or its structure carries
    CONF_STATUS), "read.embargoed" when it may return versions not yet released (some release is
    pending: `any_pending`)."""
    kinds = []
    if view_.confidential and (restricted or carries_confidentiality):
        kinds.append("read.confidential")
    if view_.pending or (view_.sees_embargoed and any_pending):
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
    _changed(engine)
    return pk


def revoke_grant(engine: Engine, actor: Actor, grant_id: int) -> dict:
    with engine.begin() as conn:
        removed = store.remove(conn, grant_id)
        if removed is None:
            raise NotFound(f"No grant {grant_id}")
        record(conn, actor, "grant.remove", removed["dataflow"], "ok", {**removed, "id": grant_id})
    _changed(engine)
    return removed


def grants(engine: Engine, grantee: str | None = None) -> list[dict]:
    with engine.connect() as conn:
        return store.listing(conn, grantee)


def restrict(engine: Engine, actor: Actor, dataflow: str, now: datetime) -> bool:
    with engine.begin() as conn:
        added = store.restrict(conn, dataflow, now, actor.name)
        if added:
            record(conn, actor, "restriction.add", dataflow, "ok")
    _changed(engine)
    return added


def unrestrict(engine: Engine, actor: Actor, dataflow: str) -> None:
    with engine.begin() as conn:
        if not store.unrestrict(conn, dataflow):
            raise NotFound(f"{dataflow} is not restricted")
        record(conn, actor, "restriction.remove", dataflow, "ok")
    _changed(engine)


def restrictions(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return store.restrictions_listing(conn)
