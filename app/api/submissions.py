"""Data submission (`POST /rest/v2/data/`, the SDMX REST maintenance draft) and the submission
history under `/api/submissions`."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import (
    AdminDep,
    ClockDep,
    EngineDep,
    PrincipalDep,
    SettingsDep,
    StructuresDep,
    UploadsDep,
    actor,
)
from app.auth.tokens import Principal
from app.errors import (
    BadRequest,
    DsmError,
    Forbidden,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unauthorized,
)
from app.services import ingest
from app.services.audit import Actor
from app.services.received import Received, Spool
from app.services.structures import Structures

router = APIRouter(tags=["data submission"])

_RESPONSES = {
    200: {"description": "Accepted without change, or a dry run: the report"},
    201: {"description": "Accepted and stored: the report"},
    400: {"description": "Malformed message (with its position)"},
    401: {"description": "No or bad token"},
    403: {"description": "Outside the provider's scope, or not allowed to write"},
    404: {"description": "Unknown structure"},
    409: {"description": "A version it would replace is under embargo, or the store is busy"},
    413: {"description": "Too large"},
    422: {"description": "Invalid content: the report lists every finding; nothing stored"},
    429: {
        "description": "Too many submissions of this provider in progress (Retry-After), or over "
        "the rate limit"
    },
}


def _writer(principal: Principal | None) -> Principal:
    """Who submits; whether it may write each dataflow is the write grant's (checked per
    dataset, and a refusal is recorded in the history)."""
    if principal is None:
        raise Unauthorized("Submitting data needs a bearer token")
    return principal


def parse_release(text: str | None) -> datetime | None:
    """`releaseAt`: an ISO 8601 date-time with a UTC offset (or Z)."""
    if text is None or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise BadRequest(f"releaseAt {text!r} is not an ISO 8601 date-time") from exc
    if moment.tzinfo is None:
        raise BadRequest(f"releaseAt {text!r} needs a UTC offset, e.g. 2026-12-01T09:00:00+00:00")
    return moment


async def _spool(request: Request, limit: int) -> Received:
    """The request body (or its one multipart file) in a temporary file, which is deleted again
    when reading fails (the client went away, too large, malformed)."""
    spool = Spool(limit)
    try:
        return await _fill(request, spool)
    except BaseException:
        spool.close()
        raise


async def _fill(request: Request, spool: Spool) -> Received:
    content_type = request.headers.get("content-type", "")
    gzipped = request.headers.get("content-encoding", "").lower() == "gzip"
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10, max_part_size=spool.limit) as form:
            upload = next((v for v in form.values() if hasattr(v, "read")), None)
            if upload is None:
                raise BadRequest("The multipart upload holds no file part")
            while piece := await upload.read(1024 * 1024):
                spool.write(piece)
            name = (upload.filename or "").lower()
            received = spool.finish(gzipped or name.endswith(".gz"))
            received.media_type = upload.content_type  # type: ignore[attr-defined]
            return received
    async for piece in request.stream():
        spool.write(piece)
    if spool.size == 0:
        raise BadRequest("Empty request body; send an SDMX data message")
    received = spool.finish(gzipped)
    received.media_type = content_type  # type: ignore[attr-defined]
    return received


@router.post("/rest/v2/data", responses=_RESPONSES, summary="Submit a data message")
async def submit(
    request: Request,
    structures: StructuresDep,
    settings: SettingsDep,
    uploads: UploadsDep,
    principal: PrincipalDep,
    clock: ClockDep,
    dataflow: Annotated[
        str | None,
        Query(description="AGENCY:ID(VERSION), needed when the message names only a DSD"),
    ] = None,
    dryRun: Annotated[bool, Query(description="Validate and report, store nothing")] = False,  # noqa: N803
    releaseAt: Annotated[  # noqa: N803
        str | None,
        Query(
            description="Embargo: an ISO 8601 date-time with offset; the data become visible "
            "then (before: only to the provider and holders of read_embargoed)"
        ),
    ] = None,
) -> Response:
    """Validate a data message (SDMX-ML 2.1/3.0, SDMX-CSV 1.0/2.0/2.1, SDMX-JSON 1.0/2.0; body or
    multipart file; gzip accepted) and store it as one transaction."""
    writer = _writer(principal)
    release_at = parse_release(releaseAt)
    who = actor(request, writer)
    owner = writer.provider or writer.name
    async with uploads.hold(owner) as admitted:
        if not admitted:
            busy = TooManyRequests(
                f"{owner} has {uploads.cap} submission(s) in progress, the most allowed at once; "
                "send this one again when one has finished",
                retry_after=1,
            )
            return await _refused(structures, writer, busy, who)
        try:
            received = await _spool(request, settings.max_body_bytes)
        except TooLarge as exc:
            return await _refused(structures, writer, exc, who)
        try:
            # in a worker thread: a long message must not stop the server answering others
            outcome = await run_in_threadpool(
                ingest.submit,
                structures.engine,
                structures.flows(),
                writer,
                received,
                media_type=getattr(received, "media_type", None),
                dataflow=dataflow,
                dry_run=dryRun,
                expanded_limit=settings.max_expanded_bytes,
                release_at=release_at,
                now=clock.now,
                actor=who,
            )
        finally:
            received.close()
    return _report(outcome)


async def _refused(
    structures: Structures, writer: Principal, error: DsmError, who: Actor
) -> JSONResponse:
    """Record a message refused before it was read, and report it."""
    refused = await run_in_threadpool(ingest.refuse, structures.engine, writer, error, None, who)
    retry = isinstance(error, TooManyRequests)
    return _report(refused, {"Retry-After": str(error.retry_after)} if retry else None)


def _report(outcome: ingest.Outcome, headers: dict[str, str] | None = None) -> JSONResponse:
    """A submission's report, pointing at its place in the history."""
    headers = dict(headers or {})
    if outcome.id:
        headers["Location"] = f"/api/submissions/{outcome.id}"
    return JSONResponse(outcome.report(), status_code=outcome.http_status, headers=headers)


def _visible(principal: Principal | None) -> Principal | None:
    """The principal whose own submissions are listed; None = all (admin)."""
    if principal is None:
        raise Unauthorized("The submission history needs a bearer token")
    if principal.is_admin:
        return None
    if principal.role != "provider":
        raise Forbidden("Only providers and admins have a submission history")
    return principal


@router.get("/api/submissions", summary="The submission history (own, or all for an admin)")
def listing(
    engine: EngineDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict]:
    return ingest.history_list(engine, _visible(principal), limit, offset)


@router.get("/api/submissions/{submission}", summary="One submission and its report")
def one(submission: int, engine: EngineDep, principal: PrincipalDep) -> dict:
    own = _visible(principal)
    found = ingest.history_get(engine, submission)
    if found is None or (own is not None and found["principal"] != own.name):
        raise NotFound(f"No submission {submission}")
    return found


@router.post(
    "/api/submissions/{submission}/revert",
    status_code=201,
    summary="Revert a submission (admin): a new submission restoring the state before it",
)
def revert(
    request: Request,
    submission: int,
    structures: StructuresDep,
    principal: AdminDep,
    clock: ClockDep,
) -> JSONResponse:
    return _report(
        ingest.revert(
            structures.engine,
            structures.flows(),
            principal,
            submission,
            clock.now(),
            actor(request, principal),
        )
    )
