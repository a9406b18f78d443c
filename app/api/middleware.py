"""Request context as plain ASGI middleware (it never buffers a streamed body): a request id, one
structured (JSON) log line per request, Prometheus metrics, the URL-length limit (414), and one
trailing slash ignored (SDMX clients add one after a key or a version); HEAD answered as GET
without the body."""

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from prometheus_client import CollectorRegistry, Counter, Histogram

from app.writers.messages import error_xml

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("dsm.access")


class Metrics:
    """The Prometheus collectors of one app (a registry per app keeps tests independent)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dsm_http_requests",
            "HTTP requests answered",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "dsm_http_request_duration_seconds",
            "Time to answer an HTTP request (until the last byte)",
            ("method", "route"),
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def record(self, method: str, route: str, status: str, seconds: float) -> None:
        """Count one answer and its duration. The labelled children are looked up once per
        (method, route, status): `labels()` builds and locks on every call, a dict does not
        (routes are templates and methods and statuses few, so the dict stays small)."""
        children = self._children.get((method, route, status))
        if children is None:
            children = (
                self.requests.labels(method, route, status),
                self.duration.labels(method, route),
            )
            self._children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_url_length: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_url_length = max_url_length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if len(path) > 1 and path.endswith("/"):  # `/rest/dataflow/DSM/` = `/rest/dataflow/DSM`
            scope = dict(scope, path=path.rstrip("/") or "/")
        request_id = ""
        for name, value in scope.get("headers") or ():
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:100]  # the last one, as before
        request_id = request_id or uuid.uuid4().hex
        started = time.perf_counter()
        status = 500
        sent = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        target = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
        try:
            if len(target) > self.max_url_length:
                await self._too_long(send_wrapper, len(target))
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.record(scope["method"], route, str(status), elapsed)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(
                    json.dumps(
                        {
                            "event": "request",
                            "request_id": request_id,
                            "method": scope["method"],
                            "path": scope.get("path"),
                            "query": scope.get("query_string", b"").decode("latin-1"),
                            "status": status,
                            "bytes": sent,
                            "duration_ms": round(elapsed * 1000, 2),
                            "client": client[0] if client else None,
                        }
                    )
                )

    async def _too_long(self, send: Send, length: int) -> None:
        body = error_xml(
            140,
            f"Request URL of {length} characters is longer than the limit of {self.max_url_length}",
        )
        await send(
            {
                "type": "http.response.start",
                "status": 414,
                "headers": [
                    (b"content-type", b"application/xml; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class HeadAsGet:
    """HEAD answered as GET without its body (RFC 9110, 9.3.2): the same status and headers, so
    a client can read an answer's ETag, Last-Modified or Content-Type without downloading it.
    A streamed answer is not computed to its end: once its first body part is ready the request
    ends as if the client had gone, which closes the writer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        done = anyio.Event()

        async def receive_until_done() -> Message:
            if done.is_set():
                return {"type": "http.disconnect"}
            message: Message = {"type": "http.disconnect"}
            async with anyio.create_task_group() as tasks:

                async def from_client() -> None:
                    nonlocal message
                    message = await receive()
                    tasks.cancel_scope.cancel()

                async def until_done() -> None:
                    await done.wait()
                    tasks.cancel_scope.cancel()

                tasks.start_soon(from_client)
                tasks.start_soon(until_done)
            return message

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body" and not done.is_set():
                done.set()
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        inner = dict(scope, method="GET")
        try:
            await self.app(inner, receive_until_done, headers_only)
        finally:
            if "route" in inner:  # the metrics count HEAD under the route it took
                scope["route"] = inner["route"]
