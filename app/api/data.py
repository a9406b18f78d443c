"""SDMX REST data queries: v1 `/rest/data/{flowRef}/{key}/{providerRef}` and v2
`/rest/v2/data/{context}/{agencyID}/{resourceID}/{version}/{key}`. Parse, prepare, stream."""

import functools
from collections.abc import Iterator
from dataclasses import replace
from hashlib import sha1
from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Connection

from app.api.caching import Cached, ResponseCache, Spill, http_date, not_modified
from app.api.deps import ClockDep, PrincipalDep, StructuresDep, audit_reads
from app.errors import BadRequest, NotAcceptable, NotFound
from app.formats.media import MediaType
from app.model.data_query import DataQuery, parse_v1, parse_v2
from app.model.query import Api, QuerySyntaxError
from app.services.data import prepare, release
from app.storage.engine import read_snapshot
from app.storage.submissions import next_release
from app.writers.data import WRITERS, write_many
from app.writers.negotiate import Offer, content_type, negotiate, pick_language

router = APIRouter(tags=["data"])

_CSV = "application/vnd.sdmx.data+csv"
_FORMAT_ALIASES = {
    "genericdata": "application/vnd.sdmx.genericdata+xml;version=2.1",
    "structurespecificdata": "application/vnd.sdmx.structurespecificdata+xml;version=2.1",
    "generictimeseriesdata": "application/vnd.sdmx.generictimeseriesdata+xml;version=2.1",
    "structurespecifictimeseriesdata": "application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1",
    "sdmx-ml-2.1": "application/vnd.sdmx.genericdata+xml;version=2.1",
    "sdmx-ml-3.0": "application/vnd.sdmx.data+xml;version=3.0.0",
    "csv": f"{_CSV};version=2.0.0",
    "sdmx-csv-1.0": f"{_CSV};version=1.0.0",
    "sdmx-csv-2.0": f"{_CSV};version=2.0.0",
    "csvfile": f"{_CSV};version=1.0.0",
    "jsondata": "application/vnd.sdmx.data+json;version=1.0.0",
    "sdmx-json-1.0": "application/vnd.sdmx.data+json;version=1.0.0",
    "sdmx-json-2.0": "application/vnd.sdmx.data+json;version=2.0.0",
}


@functools.cache
def _offer(api: Api) -> Offer:
    types = list(WRITERS)
    by_value = {t.value: t for t in types}

    def pick(value: str, fallback: MediaType) -> MediaType:
        return by_value.get(value, fallback)

    default = MediaType.DATA_ML_21_GENERIC if api == "v1" else MediaType.DATA_ML_30
    json_type = pick(
        f"application/vnd.sdmx.data+json;version={'1.0.0' if api == 'v1' else '2.0.0'}", default
    )
    aliases = {k: by_value[v] for k, v in _FORMAT_ALIASES.items() if v in by_value}
    aliases.update({"xml": default, "json": json_type})
    return Offer(types, default, default, json_type, aliases)


def _csv_options(request: Request, media_type: MediaType) -> dict[str, str]:
    """SDMX-CSV options: media-type parameters of the Accept header, or query parameters."""
    options: dict[str, str] = {}
    if not media_type.value.startswith(_CSV):
        return options
    for part in request.headers.get("accept", "").split(","):
        if part.strip().startswith(_CSV):
            for param in part.split(";")[1:]:
                name, _, value = param.strip().partition("=")
                if name in ("labels", "timeFormat", "keys"):
                    options[name] = value.strip('"')
    for name in ("labels", "timeFormat", "keys"):
        if name in request.query_params:
            options[name] = request.query_params[name]
    allowed = {
        "labels": ("id", "name", "both"),
        "timeFormat": ("original", "normalized"),
        "keys": ("none", "obs", "series", "both"),
    }
    for name, value in options.items():
        if value not in allowed[name]:
            raise BadRequest(
                f"SDMX-CSV {name}={value!r}; expected one of {', '.join(allowed[name])}"
            )
    return options


def _refuse_unwritable(query: DataQuery, media_type: MediaType) -> None:
    """406 where a format cannot carry what the request needs."""
    if media_type.value.startswith(_CSV):
        if query.include_history:
            raise NotAcceptable(
                "SDMX-CSV cannot carry the validity of historical versions; ask for "
                "SDMX-ML (application/vnd.sdmx.structurespecificdata+xml;version=2.1 "
                "or application/vnd.sdmx.data+xml;version=3.0.0) or SDMX-JSON"
            )
        if query.updated_after and media_type.version == "1.0.0":
            raise NotAcceptable(
                "SDMX-CSV 1.0 cannot express deletions, which updatedAfter may "
                "return; ask for SDMX-CSV 2.0, SDMX-ML or SDMX-JSON"
            )
    time_series = (MediaType.DATA_ML_21_SS_TS, MediaType.DATA_ML_21_GENERIC_TS)
    if media_type in time_series and query.dimension_at_observation != "TIME_PERIOD":
        raise NotAcceptable(
            "Time-series formats need dimensionAtObservation=TIME_PERIOD; ask "
            "for the non-time-series SDMX-ML 2.1 formats"
        )


class _Stream:
    """The response body: the writer's chunks, and the connection they are read on, given back
    to the pool when the body ends, fails, or is never read (a client gone before the first
    byte: a generator's `finally` would not run then). With a `spill`, the chunks are also
    written to the response cache's file, kept only if the body was read to its end."""

    def __init__(self, conn: Connection, chunks: Iterator[bytes], spill: Spill | None) -> None:
        self.conn, self.chunks, self.spill = conn, chunks, spill

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.chunks:
                if self.spill is not None:
                    self.spill.write(chunk)
                yield chunk
            if self.spill is not None:
                self.spill.keep()
        finally:
            self.close()

    @property
    def closed(self) -> bool:
        return self.conn.closed

    def close(self) -> None:
        """End the writer, then give the connection back. In that order: a writer left in the
        middle of the store's export (a client gone) may hold the connection, a COPY or the
        SDMX-ML reading thread, and psycopg keeps the connection's lock through a COPY, so a
        rollback before its end would wait forever."""
        try:
            _close(self.chunks)
        finally:
            if self.spill is not None:
                self.spill.discard()  # nothing once kept
            if not self.conn.closed:
                release(self.conn)

    def __del__(self) -> None:
        self.close()


class _ClosingResponse(StreamingResponse):
    """Gives the connection back as soon as the response is over, however it ended: a client
    that hangs up before the first byte must not keep a pooled connection until GC. A body
    that did not end by itself is closed in a worker thread (ending an export and rolling back
    are database round trips; the event loop serves every other request meanwhile)."""

    def __init__(self, stream: _Stream, **kwargs: object) -> None:
        super().__init__(stream, **kwargs)  # type: ignore[arg-type]
        self.stream = stream

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self.stream.closed:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self.stream.close)


def _answer(  # type: ignore[no-untyped-def]
    request: Request,
    structures: StructuresDep,
    principal: PrincipalDep,
    clock: ClockDep,
    api: Api,
    parse,
) -> Response:
    cache: ResponseCache = request.app.state.responses
    revision = structures.revision  # before the work: it is computed with this or newer
    key = cache.key(request.scope) if principal is None else None
    params = dict(request.query_params)
    try:
        query = parse(params)
    except QuerySyntaxError as exc:
        raise BadRequest(str(exc)) from exc
    media_type = negotiate(_offer(api), request.headers.get("accept"), params.get("format"))
    _refuse_unwritable(query, media_type)
    csv_options = _csv_options(request, media_type)
    lang = pick_language(request.headers.get("accept-language"))
    access = request.app.state.grants.access(principal)
    stamp = (revision, access.generation)  # as the cache's `stamp()` (app.main) composes it
    token = cache.token.read() if key is not None else None  # before the snapshot
    conn = read_snapshot(structures.engine)
    now = clock.now()
    try:
        prepared = prepare(
            structures,
            conn,
            query,
            access,
            now,
            lang,
            csv_options,
            request.app.state.settings.max_response_observations,
        )
    except BaseException:
        release(conn)
        raise
    flows = ",".join(r.flow.ref for r in prepared.responses)
    audit_reads(request, access, prepared.audit, flows)
    fingerprint = f"{request.url.path}?{request.url.query}|{media_type}|{lang}|{prepared.version}"
    tag = f'W/"{sha1(fingerprint.encode()).hexdigest()[:24]}"'
    headers = {
        "ETag": tag,
        "Last-Modified": http_date(prepared.modified),
        "Cache-Control": "no-cache",
        "Vary": "Accept, Accept-Language, Authorization",
    }
    if prepared.empty:
        release(conn)
        if api == "v2":
            return Response(status_code=204, headers=headers)
        raise NotFound("No results: no data match the query")
    if not_modified(request, tag, prepared.modified):
        release(conn)
        return Response(status_code=304, headers=headers)
    try:
        keep = None  # the answer as the cache would keep it, once its body is known
        if key is not None and token is not None and not prepared.audit:
            expires = next_release(conn, now)
            keep = Cached(
                b"",
                content_type(media_type),
                headers,
                prepared.modified,
                token,
                stamp,
                now,
                expires,
            )
        whole, chunks = _whole_if_small(write_many(media_type, prepared.responses))
    except BaseException:
        release(conn)
        raise
    if whole is not None:  # small: one response, without the streaming's thread hops
        release(conn)
        if key is not None and keep is not None:
            cache.put(key, replace(keep, body=whole))
        return Response(whole, media_type=content_type(media_type), headers=headers)
    spill = cache.spill(key, keep) if key is not None and keep is not None else None
    return _ClosingResponse(
        _Stream(conn, chunks, spill), media_type=content_type(media_type), headers=headers
    )


SMALL = 256 * 1024  # bytes: an answer the writer finishes within this is sent in one piece


def _whole_if_small(chunks: Iterator[bytes]) -> tuple[bytes | None, Iterator[bytes]]:
    """(the whole body, nothing) if the writer finishes within SMALL bytes; otherwise (None,
    every chunk, those read so far first: closing it closes the writer)."""
    read: list[bytes] = []
    size = 0
    for chunk in chunks:
        read.append(chunk)
        size += len(chunk)
        if size > SMALL:
            return None, _continued(read, chunks)
    return b"".join(read), iter(())


def _continued(read: list[bytes], chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from read
        yield from chunks
    finally:
        _close(chunks)  # also when closed while still in `read`


def _close(chunks: Iterator[bytes]) -> None:
    """End a writer's chunks (a generator: any export it holds open ends with it)."""
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


_RESPONSES = {
    200: {"description": "Data"},
    204: {"description": "No data (v2)"},
    304: {"description": "Not modified"},
    400: {"description": "Syntax error"},
    404: {"description": "No such dataflow, or no results (v1)"},
    406: {"description": "Not acceptable"},
    413: {"description": "Too large"},
    501: {"description": "Not implemented"},
}

FlowRef = Annotated[str, Path(description="ID, AGENCY,ID or AGENCY,ID,VERSION")]


@router.get(
    "/rest/data/{flowRef}",
    responses=_RESPONSES,
    summary="Data (v1), all keys",
    response_class=Response,
)
@router.get(
    "/rest/data/{flowRef}/{key}", responses=_RESPONSES, summary="Data (v1)", response_class=Response
)
@router.get(
    "/rest/data/{flowRef}/{key}/{providerRef}",
    responses=_RESPONSES,
    summary="Data (v1) from some providers",
    response_class=Response,
)
def data_v1(
    request: Request,
    structures: StructuresDep,
    principal: PrincipalDep,
    clock: ClockDep,
    flowRef: FlowRef,  # noqa: N803
    key: str | None = None,
    providerRef: str | None = None,
) -> Response:  # noqa: N803
    return _answer(
        request,
        structures,
        principal,
        clock,
        "v1",
        lambda p: parse_v1(flowRef, key, providerRef, p),
    )


@router.get(
    "/rest/v2/data/{context}/{agencyID}/{resourceID}/{version}/{key}",
    responses=_RESPONSES,
    summary="Data (v2)",
    response_class=Response,
)
@router.get(
    "/rest/v2/data/{context}/{agencyID}/{resourceID}/{version}",
    responses=_RESPONSES,
    summary="Data (v2), all keys",
    response_class=Response,
)
@router.get(
    "/rest/v2/data/{context}/{agencyID}/{resourceID}",
    responses=_RESPONSES,
    summary="Data (v2), latest version",
    response_class=Response,
)
def data_v2(
    request: Request,
    structures: StructuresDep,
    principal: PrincipalDep,
    clock: ClockDep,
    context: str,
    agencyID: str,  # noqa: N803
    resourceID: str,
    version: str = "~",
    key: str | None = None,
) -> Response:  # noqa: N803
    return _answer(
        request,
        structures,
        principal,
        clock,
        "v2",
        lambda p: parse_v2(context, agencyID, resourceID, version, key, p),
    )
