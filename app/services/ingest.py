"""Data submission: a message in, validated against its structure, applied to the versioned store
in one transaction, and a complete report out. Every message becomes a submission record.

    body (spooled, hashed, size-capped; gzip expanded with a ceiling)
      -> reader (by media type or first bytes) -> events
      -> validator (per chunk) -> staging table (per dataset)
      -> set-based checks (duplicates, series attributes) -> apply -> counts
    errors anywhere: roll back everything, record a rejected submission with its findings.
A dry run takes the same path and rolls back at the end, so its counts are what would happen.
"""

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from app.auth.access import Access
from app.auth.tokens import Principal
from app.errors import BadRequest, Conflict, DsmError, Forbidden, NotFound
from app.model.actions import Operation, operation_for
from app.model.data import (
    Chunk,
    DatasetStart,
    GroupAttributes,
    MessageError,
    MessageStart,
    StructureKind,
)
from app.model.dsd import CompiledFlow
from app.readers.registry import find as find_reader
from app.services import access as policy
from app.services.audit import Actor, record
from app.services.received import HEAD_BYTES, PIECE, Kept, Received, Spool, open_body
from app.storage import observations as store
from app.storage import submissions as history
from app.storage import versions
from app.validation.checks import bad_character
from app.validation.findings import Findings, Location, expected_list
from app.validation.validator import Validator

log = logging.getLogger("dsm.ingest")


@dataclass
class Outcome:
    """The report of one submission (docs/submission-report.schema.json)."""

    id: int
    status: str
    http_status: int
    counts: store.Counts
    findings: Findings
    dataflow: str | None = None
    format: str | None = None
    operations: list[str] = field(default_factory=list)
    release_at: datetime | None = None

    def report(self) -> dict:
        return {
            "id": self.id,
            "status": self.status,
            "dataflow": self.dataflow,
            "format": self.format,
            "actions": self.operations,
            "release_at": self.release_at.isoformat() if self.release_at else None,
            "counts": self.counts.__dict__,
            "findings": self.findings.as_list(),
            "total_findings": self.findings.total,
            "truncated": self.findings.truncated,
        }


@dataclass
class _Dataset:
    start: DatasetStart
    flow: CompiledFlow
    op: Operation
    tables: store.FlowTables
    writer: versions.DatasetWriter | None  # None for a Delete dataset
    rows: int = 0
    groups: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)


class _Run:
    """One submission being read and applied inside one transaction."""

    def __init__(
        self,
        conn: Connection,
        flows: dict,
        principal: Principal,
        dataflow: str | None,
        findings: Findings,
        submission: int,
        at: datetime,
        now: datetime,
    ) -> None:
        self.conn, self.flows, self.principal = conn, flows, principal
        self.access: Access = policy.load(conn, principal)
        self.override = dataflow
        self.findings, self.submission = findings, submission
        self.at, self.now = at, now  # when the versions become visible; the time of writing
        self.counts = store.Counts()
        self.reader_name = ""
        self.header: MessageStart | None = None
        self.dataset: _Dataset | None = None
        self.validator: Validator | None = None
        self.first_flow: CompiledFlow | None = None
        self.operations: list[str] = []
        self.touched: dict[str, store.FlowTables] = {}  # the tables written, by name

    # -- resolving the structure ----------------------------------------------------------------
    def flow_for(self, start: DatasetStart) -> CompiledFlow:
        if self.override:
            return self._lookup(StructureKind.DATAFLOW, *_parse_flow(self.override))
        ref = start.structure
        if ref is None:
            raise NotFound("The message names no structure; add ?dataflow=AGENCY:ID(VERSION)")
        if ref.kind == StructureKind.DATASTRUCTURE:
            users = [
                f
                for f in self.flows.values()
                if f.dsd[1] == ref.id and (ref.agency in (None, f.dsd[0]))
            ]
            if len(users) != 1:
                raise NotFound(
                    f"The message names only the DSD {ref.id}; add ?dataflow= "
                    f"(one of {', '.join(f.ref for f in users) or 'no dataflow'})"
                )
            return users[0]
        return self._lookup(ref.kind, ref.agency, ref.id, ref.version)

    def _lookup(
        self, kind: StructureKind, agency: str | None, ident: str, version: str | None
    ) -> CompiledFlow:
        if kind == StructureKind.PROVISIONAGREEMENT:
            raise NotFound(f"Provision agreement {ident}: name the dataflow with ?dataflow=")
        matches = [
            f
            for (a, i, v), f in self.flows.items()
            if i == ident and agency in (None, a) and version in (None, v, "latest")
        ]
        if not matches:
            raise NotFound(f"Unknown dataflow {agency or '*'}:{ident}({version or 'latest'})")
        return max(matches, key=lambda f: f.version)

    def scope(self, flow: CompiledFlow) -> dict[str, frozenset[str]] | None:
        """The keys the principal may write in `flow` (None: any), or Forbidden."""
        if not self.access.allows("write", flow.ref):
            raise Forbidden(
                f"User {self.principal.name!r} ({self.principal.role}) may not write {flow.ref}"
            )
        if self.access.allows("admin", flow.ref):
            return None
        if not self.principal.provider:
            raise Forbidden(f"User {self.principal.name!r} is not a data provider")
        scope = flow.provider_scopes.get(self.principal.provider)
        if scope is None:
            raise Forbidden(
                f"Data provider {self.principal.provider} has no provision agreement for {flow.ref}"
            )
        return scope

    def read(self, events: Iterable[object], dry_run: bool) -> None:
        """Handle a message's events, then end its last dataset. If that fails, what the
        dataset being written has in flight (an open COPY) is abandoned first, so that the
        transaction can be rolled back (`finish_dataset` leaves a failed dataset current)."""
        try:
            for event in events:
                self.handle(event, dry_run)
            self.finish_dataset(dry_run)
        except BaseException as exc:
            if self.dataset is not None and self.dataset.writer is not None:
                self.dataset.writer.close(exc)
            raise

    # -- events ---------------------------------------------------------------------------------
    def handle(self, event: object, dry_run: bool) -> None:
        if isinstance(event, Chunk):
            self._chunk(event)
        elif isinstance(event, DatasetStart):
            self.finish_dataset(dry_run)
            self._start(event)
        elif isinstance(event, MessageStart):
            self.header, self.reader_name = event, event.format
        elif isinstance(event, GroupAttributes):
            self._group(event)

    def _start(self, start: DatasetStart) -> None:
        flow = self.flow_for(start)
        op = operation_for(self.reader_name, start.action)
        self.first_flow = self.first_flow or flow
        if op.value not in self.operations:
            self.operations.append(op.value)
        scope = self.scope(flow)
        self.validator = Validator(flow, scope, self.findings)
        self.validator.dataset(start, op)
        tables = store.tables_for(flow)
        store.ensure(self.conn, tables)
        writer = (
            None
            if op == Operation.DELETE
            else versions.DatasetWriter(
                self.conn,
                tables,
                flow.ref,
                submission=self.submission,
                at=self.at,
                provider=self.principal.provider,
            )
        )
        self.dataset = _Dataset(start, flow, op, tables, writer)

    def _chunk(self, chunk: Chunk) -> None:
        dataset = self.dataset
        if dataset is None or self.validator is None:
            raise MessageError("Observations before any dataset")
        checked = self.validator.chunk(chunk, dataset.op)
        if not self.findings.has_errors:
            if dataset.writer is None:
                versions.stage_deletions(self.conn, dataset.tables, checked.columns, dataset.rows)
            else:
                runs = chunk.runs if chunk.shared.issuperset(dataset.flow.dimensions) else None
                trouble = dataset.writer.add(checked.columns, len(chunk), runs)
                self._report(trouble, checked, dataset.tables)
        dataset.rows += len(chunk)

    def _report(self, trouble: versions.Trouble, chunk: Chunk, tables: store.FlowTables) -> None:
        """Findings for the rows a chunk repeats or contradicts (seen while staging it)."""
        columns = chunk.columns
        for row in trouble.duplicates:
            key = ".".join(columns[d][row] or "" for d in tables.dimensions)
            period = columns[tables.time][row]
            self.findings.error(
                "duplicate-observation",
                f"Observation {key} {period} is given more than once in one dataset",
                position=chunk.positions[row],
                series_key=key,
                component=tables.time,
                value=period,
            )
        for row, attribute in trouble.inconsistent:
            key = ".".join(columns[d][row] or "" for d in tables.dimensions)
            self.findings.error(
                "inconsistent-attribute",
                f"Series {key} has more than one value of {attribute}",
                position=chunk.positions[row],
                series_key=key,
                component=attribute,
                value=columns[attribute][row],
            )

    def _group(self, group: GroupAttributes) -> None:
        """Group attributes apply to every series matching the group's (partial) key; they are
        kept until the dataset's observations are applied (groups are few), then merged in."""
        if self.dataset is None:
            raise MessageError("Group before any dataset", group.position)
        flow = self.dataset.flow
        values = {**group.key, **group.attributes}
        key = {d: values.pop(d) for d in flow.dimensions if d in values}
        for name, value in (*key.items(), *values.items()):  # matched and stored in SQL
            character = bad_character(value or "")
            if character is not None:
                location = Location(group.position or None, None, name, value)
                self.findings.add("invalid-character", location, character=character)
        for name, value in values.items():
            component = flow.components.get(name)
            location = Location(
                group.position or None,
                ".".join(key.get(d, "") for d in flow.dimensions),
                name,
                value,
            )
            if component is None or component.role != "attribute":
                continue  # e.g. the group's own id; not a component value
            if component.codes is not None and value not in component.codes:
                self.findings.add(
                    "unknown-code", location, flow=flow.ref, expected=expected_list(component.codes)
                )
        attributes = {
            k: v
            for k, v in values.items()
            if k in flow.components and flow.components[k].role == "attribute"
        }
        if attributes:
            self.dataset.groups.append((key, attributes))

    def finish_dataset(self, dry_run: bool) -> None:
        dataset = self.dataset
        writer = dataset.writer if dataset is not None else None
        if writer is not None:
            writer.settle()  # the COPY's own errors surface here, not in a savepoint below
        self._finish(dataset)
        if writer is not None:
            writer.close()
        self.dataset = None

    def _finish(self, dataset: _Dataset | None) -> None:
        dataset_values = self.validator.finish() if dataset and self.validator else {}
        if dataset is None or self.findings.has_errors:
            return
        writer = dataset.writer
        if writer is not None and writer.reopened:  # a series came back: check the whole stage
            self._stage_checks(writer)
        if self.findings.has_errors:
            return
        provider = self.principal.provider
        versions.set_dataset_attributes(
            self.conn,
            dataset.flow.ref,
            dataset_values,
            submission=self.submission,
            at=self.at,
            provider=provider,
        )
        try:
            # a savepoint, so that PostgreSQL can go on after a unique violation
            with (
                self.conn.begin_nested()
                if self.conn.dialect.name == "postgresql"
                else nullcontext()
            ):
                counts = self._apply(dataset)
        except IntegrityError:
            # The current-key index refused two versions of one key (a series given without
            # observations and with them in one dataset, say): report what the stage repeats.
            if writer is not None:
                self._stage_checks(writer)
            if not self.findings.has_errors:
                raise
            return
        held = versions.embargoed_closed(
            self.conn, dataset.tables, self.submission, self.at, self.now
        )
        if held is not None:
            raise Conflict(
                f"Observation {held[0]} has a version under embargo until {held[1]}: it can "
                "change once that release happens or is cancelled"
            )
        self.counts.add(counts)
        self.touched[dataset.tables.name] = dataset.tables

    def _apply(self, dataset: _Dataset) -> store.Counts:
        writer, provider = dataset.writer, self.principal.provider
        if writer is None:
            if dataset.rows == 0:  # an empty Delete: all of it
                versions.stage_deletions(self.conn, dataset.tables, {}, 0)
            return versions.apply_deletions(
                self.conn,
                dataset.tables,
                dataflow=dataset.flow.ref,
                submission=self.submission,
                at=self.at,
                provider=provider,
                scope=self.validator.scope if self.validator else None,
            )
        for key, attributes in dataset.groups:
            writer.apply_group(key, attributes)
        return writer.apply(dataset.op)

    def _stage_checks(self, writer: versions.DatasetWriter) -> None:
        for key, count in writer.stage_duplicates(100):
            self.findings.error(
                "duplicate-observation",
                f"Observation {key} is given {count} times in one dataset",
                series_key=key,
            )
        for key, attribute in writer.stage_contradictions(100):
            self.findings.error(
                "inconsistent-attribute",
                f"Series {key} has more than one value of {attribute}",
                series_key=key,
                component=attribute,
            )


def _parse_flow(text_: str) -> tuple[str | None, str, str | None]:
    """`AGENCY:ID(VERSION)`, `AGENCY,ID,VERSION`, `AGENCY,ID` or `ID`."""
    text_ = text_.strip()
    if ":" in text_ or "(" in text_:
        agency, _, rest = text_.rpartition(":")
        ident, _, version = rest.partition("(")
        return agency or None, ident, version.rstrip(")") or None
    parts = text_.split(",")
    if len(parts) == 1:
        return None, parts[0], None
    return parts[0] or None, parts[1], (parts[2] if len(parts) > 2 else None)


def submit(
    engine: Engine,
    flows: dict,
    principal: Principal,
    received: Received,
    *,
    media_type: str | None,
    dataflow: str | None = None,
    dry_run: bool = False,
    expanded_limit: int,
    finding_cap: int = 1000,
    progress: Callable[[int], None] | None = None,
    lock_timeout: float = 30,
    release_at: datetime | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    actor: Actor | None = None,
) -> Outcome:
    """Validate and apply one message; always leaves a submission record behind (and an audit
    record in the same transaction). With `release_at`, the versions it writes become visible at
    that time (an embargo), not when it commits."""
    findings = Findings(cap=finding_cap)
    created = now()
    actor = actor or Actor(principal)
    outcome: Outcome | None = None
    error: DsmError | None = None
    changed = 0
    kept = Kept(received)  # compressing while the message is read
    try:
        if release_at is not None and release_at <= created:
            raise BadRequest(f"releaseAt {release_at.isoformat()} is not in the future")
        with engine.begin() as conn:
            writer_lock(conn, lock_timeout)
            submission = history.open(conn, created, principal, received.sha256, received.size)
            written = now()
            run = _Run(
                conn,
                flows,
                principal,
                dataflow,
                findings,
                submission,
                release_at or written,
                written,
            )
            body = open_body(received, expanded_limit, progress)
            reader = find_reader(media_type, body.peek(HEAD_BYTES)[:HEAD_BYTES])
            run.reader_name = reader.name
            run.read(reader.read(body), dry_run)
            flow_ref = run.first_flow.ref if run.first_flow else None
            if findings.has_errors or dry_run:
                status = "rejected" if findings.has_errors else "dry-run"
                http = (403 if findings.has_scope_errors else 422) if findings.has_errors else 200
                counts = run.counts if not findings.has_errors else store.Counts()
                outcome = Outcome(
                    0,
                    status,
                    http,
                    counts,
                    findings,
                    flow_ref,
                    reader.name,
                    run.operations,
                    release_at,
                )
                conn.rollback()
            else:
                changed = run.counts.inserted + run.counts.updated + run.counts.deleted
                outcome = Outcome(
                    submission,
                    "accepted",
                    201 if changed else 200,
                    run.counts,
                    findings,
                    flow_ref,
                    reader.name,
                    run.operations,
                    release_at,
                )
                history.close(conn, submission, outcome, run.at)
                history.keep_message(conn, submission, kept.finish(), PIECE)
                _audit(conn, actor, outcome)
        if outcome is not None and outcome.status == "accepted":
            store.analyze(engine, run.touched.values(), changed)
    except OperationalError as exc:
        if not _is_lock_timeout(exc):
            raise
        error = Conflict(
            "Another submission is being written and did not finish in time; send the message again"
        )
        findings.error("busy", error.detail)
    except MessageError as exc:
        findings.error("malformed-message", exc.message, position=exc.position or None)
        error = BadRequest(str(exc))
    except DsmError as exc:
        findings.error(_code(exc), exc.detail)
        error = exc
    finally:
        kept.close()
    if outcome is None or outcome.status != "accepted":
        status = outcome.status if outcome else "rejected"
        http = outcome.http_status if outcome else (error.status if error else 500)
        counts = outcome.counts if outcome else store.Counts()
        outcome = Outcome(
            0,
            status,
            http,
            counts,
            findings,
            outcome.dataflow if outcome else dataflow,
            outcome.format if outcome else None,
            outcome.operations if outcome else [],
            release_at,
        )
        try:
            with engine.begin() as conn:
                outcome.id = history.record(
                    conn, created, principal, received.sha256, received.size, outcome
                )
                _audit(conn, actor, outcome)
        except OperationalError as exc:  # the database cannot take even the record (locked)
            if not _is_lock_timeout(exc):
                raise
            log.warning("submission of %s rejected and not recorded: %s", received.sha256, exc)
    return outcome


def _audit(conn: Connection, actor: Actor, outcome: Outcome) -> None:
    detail = {
        "id": outcome.id,
        "status": outcome.http_status,
        "counts": outcome.counts.__dict__,
        "findings": outcome.findings.total,
        "release_at": outcome.release_at,
    }
    record(conn, actor, "submission", outcome.dataflow, outcome.status, detail)


def writer_lock(conn: Connection, timeout_seconds: float) -> None:
    """Queue behind any other write: submissions are serialised per database. SQLite has one
    writer and waits for it (the engine's busy timeout); PostgreSQL takes an advisory lock.
    Waiting longer than the timeout is a 409 (see `_is_lock_timeout`)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL lock_timeout = '{int(timeout_seconds * 1000)}ms'"))
        conn.execute(text("SELECT pg_advisory_xact_lock(4242)"))


def _is_lock_timeout(exc: OperationalError) -> bool:
    text_ = str(exc.orig).lower()
    return (
        "database is locked" in text_ or "lock timeout" in text_ or "canceling statement" in text_
    )


def _code(exc: DsmError) -> str:
    return {
        404: "unknown-structure",
        403: "forbidden",
        409: "conflict",
        413: "too-large",
        429: "too-many-uploads",
    }.get(exc.status, "rejected")


def report_json(outcome: Outcome) -> bytes:
    return json.dumps(outcome.report(), ensure_ascii=False).encode()


def revert(
    engine: Engine,
    flows: dict,
    principal: Principal,
    submission: int,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> Outcome:
    """A new submission that restores, for every key `submission` touched, the state before it
    (unless a later submission has changed that key since: then the later state stays)."""
    created = now or datetime.now(UTC)
    with engine.begin() as conn:
        found = history.get(conn, submission)
        if found is None:
            raise NotFound(f"No submission {submission}")
        if found["status"] != "accepted":
            raise Conflict(f"Submission {submission} is {found['status']}: nothing to revert")
        if found["visible_from"] and datetime.fromisoformat(found["visible_from"]) > created:
            raise Conflict(
                f"Submission {submission} is under embargo until {found['visible_from']}: "
                "cancel the release instead (DELETE /api/releases/{id})"
            )
        writer_lock(conn, 30)
        digest = hashlib.sha256(f"revert:{submission}".encode()).hexdigest()
        new = history.open(conn, created, principal, digest, 0)
        counts = store.Counts()
        for tables in store.existing_tables(conn, flows.values()):
            counts.add(versions.revert(conn, tables, submission, new, created, principal.provider))
            held = versions.embargoed_closed(conn, tables, new, created, created)
            if held is not None:
                raise Conflict(
                    f"Observation {held[0]} has a version under embargo until {held[1]}: revert "
                    "once that release happens or is cancelled"
                )
        changed = counts.inserted + counts.updated + counts.deleted
        outcome = Outcome(
            new,
            "accepted",
            201 if changed else 200,
            counts,
            Findings(),
            found["dataflow"],
            "revert",
            ["revert"],
        )
        history.close(conn, new, outcome, created, reverts=submission)
        _audit(conn, actor or Actor(principal), outcome)
    return outcome


def refuse(
    engine: Engine,
    principal: Principal,
    error: DsmError,
    spool: Spool | None,
    actor: Actor | None = None,
) -> Outcome:
    """Record a message refused before it could be read (e.g. larger than the limit) and report it
    like any other rejection."""
    findings = Findings()
    findings.error(_code(error), error.detail)
    outcome = Outcome(0, "rejected", error.status, store.Counts(), findings)
    digest = spool.digest.hexdigest() if spool else hashlib.sha256().hexdigest()
    try:
        with engine.begin() as conn:
            outcome.id = history.record(
                conn, datetime.now(UTC), principal, digest, spool.size if spool else 0, outcome
            )
            _audit(conn, actor or Actor(principal), outcome)
    except OperationalError as exc:  # a long submission holds the (SQLite) writer lock
        if not _is_lock_timeout(exc):
            raise
        log.warning("refused submission of %s not recorded: %s", principal.name, exc)
    return outcome


def history_list(
    engine: Engine, principal: Principal | None, limit: int, offset: int
) -> list[dict]:
    """The submission history, newest first: `principal`'s own, or all when None (an admin)."""
    with engine.connect() as conn:
        return history.listing(conn, principal, limit, offset)


def history_get(engine: Engine, submission: int) -> dict | None:
    """One submission with its report, or None."""
    with engine.connect() as conn:
        return history.get(conn, submission)
