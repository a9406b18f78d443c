"""Recording who did what: changes are audited in the transaction of the change (`record`), reads
of confidential or embargoed data through a background writer that never blocks a query
(`AuditSink`). Secrets and message bodies are never passed here."""

import json
import logging
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from app.auth.tokens import Principal
from app.storage import audit as store

log = logging.getLogger("dsm.audit")


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where (the client's address; None from the command line)."""

    principal: Principal | None
    client: str | None = None

    @property
    def name(self) -> str | None:
        return self.principal.name if self.principal else None

    @property
    def role(self) -> str:
        return self.principal.role if self.principal else "anonymous"


SYSTEM = Actor(Principal("dsm", "admin"))  # DSM itself: seeding the bundled structures


def _row(actor: Actor, action: str, target: str | None, outcome: str, detail: dict | None) -> dict:
    return {
        "at": datetime.now(UTC),
        "principal": actor.name,
        "role": actor.role,
        "action": action,
        "target": (target or "")[:500] or None,
        "outcome": outcome,
        "client": actor.client,
        "detail": json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
    }


def record(
    conn: Connection,
    actor: Actor,
    action: str,
    target: str | None,
    outcome: str,
    detail: dict | None = None,
) -> None:
    """Audit a change inside the transaction that makes it (both land, or neither)."""
    store.add(conn, [_row(actor, action, target, outcome, detail)])


def record_now(
    engine: Engine,
    actor: Actor,
    action: str,
    target: str | None,
    outcome: str,
    detail: dict | None = None,
) -> None:
    """Audit something that changed nothing (a refused attempt) in its own transaction."""
    with engine.begin() as conn:
        record(conn, actor, action, target, outcome, detail)


class AuditSink:
    """Reads to audit, written by one background thread in batches: a query only puts a record
    on a queue. `close()` writes what is left (at shutdown); `flush()` waits until the queue is
    written (tests)."""

    BATCH = 500

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: queue.Queue[dict | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="dsm-audit", daemon=True)
        self._thread.start()

    def read(
        self, actor: Actor, action: str, target: str | None, detail: dict | None = None
    ) -> None:
        self._queue.put(_row(actor, action, target, "ok", detail))

    def flush(self) -> None:
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch, done = ([first] if first is not None else []), first is None
            while not done and len(batch) < self.BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    done = True
                else:
                    batch.append(item)
            try:
                with self.engine.begin() as conn:
                    store.add(conn, batch)
            except Exception:  # the database is away: say so, never break the reader
                log.exception("could not write %d audit records", len(batch))
            finally:
                for _ in range(len(batch) + (1 if done else 0)):
                    self._queue.task_done()
            if done:
                return
