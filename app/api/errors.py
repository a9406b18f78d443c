"""The one exception handler: every error leaves DSM as an SDMX error message whose format follows
the request (JSON when the client asked for JSON, SDMX-ML 3.0 on /rest/v2/, else SDMX-ML 2.1).
Middleware that answers before any route (the rate limit) builds its error with
`dsm_error_response` too, so there is still one error shape."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.errors import BadRequest, DsmError, NotFound, TooManyRequests, Unauthorized
from app.writers.messages import error_json, error_xml

log = logging.getLogger("dsm.errors")

_STATUS_TITLES = {404: "No results found", 405: "Method not allowed", 400: "Syntax error"}
_STATUS_CODES = {404: 100, 400: 140, 401: 110, 403: 150, 413: 130}


def error_response(
    request: Request,
    status: int,
    code: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> Response:
    accept = request.headers.get("accept", "").lower()
    if "json" in accept and "xml" not in accept.split("json")[0]:
        body, media = error_json(code, title, detail), "application/json; charset=utf-8"
    else:
        v30 = request.url.path.startswith("/rest/v2/")
        body, media = error_xml(code, detail, v30=v30), "application/xml; charset=utf-8"
    return Response(body, status_code=status, media_type=media, headers=headers)


def dsm_error_response(
    request: Request, exc: DsmError, headers: dict[str, str] | None = None
) -> Response:
    """The error message of one of DSM's exceptions, with the headers its outcome calls for."""
    headers = dict(headers or {})
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status >= 500:
        log.error("request failed: %s", exc.detail)
    return error_response(request, exc.status, exc.code, exc.title, exc.detail, headers or None)


async def _dsm_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DsmError)
    return dsm_error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        detail = f"No resource at {request.url.path}" if exc.detail == "Not Found" else exc.detail
        return error_response(request, 404, NotFound.code, NotFound.title, detail)
    code = _STATUS_CODES.get(exc.status_code, exc.status_code)
    title = _STATUS_TITLES.get(exc.status_code, str(exc.detail))
    return error_response(
        request, exc.status_code, code, title, str(exc.detail), dict(exc.headers or {})
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg')}")
    return error_response(request, 400, BadRequest.code, BadRequest.title, "; ".join(parts))


CLIENT_GONE = 499  # nginx's "client closed request": in the access log and the metrics


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client went away while its request was read (an upload cut off): no one is left to
    answer, and the server did nothing wrong (no 500, no stack trace in the log)."""
    log.info("client gone while %s %s was read", request.method, request.url.path)
    return Response(status_code=CLIENT_GONE)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(
        request,
        500,
        500,
        "Internal Server Error",
        "Internal server error; the request id in X-Request-ID locates it in the log",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(DsmError, _dsm_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)
