"""HTTP caching: conditional requests against an ETag and a Last-Modified time, and the
server's cache of whole data answers."""

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from app.clock import Clock
from app.storage.engine import ChangeToken


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def not_modified(request: Request, tag: str, stamp: datetime) -> bool:
    """True when the request's If-None-Match (or, without it, If-Modified-Since) says the client
    has this version. If-Modified-Since may be an HTTP-date or RFC 3339; an unreadable one is
    ignored, as HTTP says."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip() for t in if_none_match.split(",")}
        return "*" in tags or tag in tags or tag.removeprefix("W/") in tags
    since = request.headers.get("if-modified-since")
    if not since:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        try:
            when = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return stamp.replace(microsecond=0) <= when


@dataclass(frozen=True)
class Cached:
    """One whole answer, with what it was computed from."""

    body: bytes
    media_type: str
    headers: dict[str, str]  # ETag, Last-Modified, Cache-Control, Vary
    modified: datetime
    token: str  # the database's change token, read before the answer's snapshot
    stamp: tuple[int, ...]  # the in-memory state it was computed with (structures, grants)
    since: datetime  # the time it was computed for
    expires: datetime | None  # the next release from embargo, when the data changes unwritten

    def answer(self, request: Request) -> Response:
        if not_modified(request, self.headers["ETag"], self.modified):
            return Response(status_code=304, headers=self.headers)
        return Response(self.body, media_type=self.media_type, headers=self.headers)


DATA_PATHS = ("/rest/data/", "/rest/v2/data/")  # the answers that are cached


class ResponseCache:
    """Whole answers of anonymous data queries, by URL and the headers they vary on, kept while
    they are provably current: the database's change token has not moved (no commit by anyone,
    any process, since the answer's snapshot), the in-memory state the answer was computed
    with (`stamp`: structure revision, grant generation) is still the one in use, and no
    embargo has ended since. Least recently used answers go first beyond `max_bytes`; 0 turns
    the cache off. Filled by the data handlers, served by `CachedAnswers`."""

    def __init__(
        self, engine: Engine, max_bytes: int, stamp: Callable[[], tuple[int, ...]], clock: Clock
    ) -> None:
        self.max_bytes = max_bytes
        self.token = ChangeToken(engine)
        self.stamp = stamp
        self.clock = clock
        self._entries: OrderedDict[tuple[object, ...], Cached] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def key(self, scope: Scope) -> tuple[object, ...] | None:
        """The cache key of an anonymous request: its URL and the headers the answer varies
        on (None: not to be cached)."""
        if self.max_bytes <= 0:
            return None
        host = accept = language = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                return None
            if name == b"accept":
                accept = value
            elif name == b"accept-language":
                language = value
            elif name == b"host":
                host = value
        path = scope.get("root_path", "") + scope["path"]
        return (scope.get("scheme"), host, path, scope["query_string"], accept, language)

    def get(self, key: tuple[object, ...]) -> Cached | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            return None
        now = self.clock.now()
        if (
            entry.stamp != self.stamp()
            or now < entry.since  # a clock set back: a release may lie in between
            or (entry.expires is not None and now >= entry.expires)
            or self.token.read() != entry.token
        ):
            self._drop(key, entry)
            return None
        return entry

    def put(self, key: tuple[object, ...], entry: Cached) -> None:
        size = len(entry.body)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old.body)
            self._entries[key] = entry
            self._size += size
            while self._size > self.max_bytes:
                _, gone = self._entries.popitem(last=False)
                self._size -= len(gone.body)

    def _drop(self, key: tuple[object, ...], entry: Cached) -> None:
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]
                self._size -= len(entry.body)

    def close(self) -> None:
        self.token.close()


class CachedAnswers:
    """ASGI middleware, innermost of ours (request context, CORS, rate limits and gzip still
    apply): a GET of a data path answered from the response cache, on the event loop, before
    routing and dependencies; everything else goes on to the app."""

    def __init__(self, app: ASGIApp, cache: ResponseCache) -> None:
        self.app, self.cache = app, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(DATA_PATHS)
        ):
            key = self.cache.key(scope)
            hit = self.cache.get(key) if key is not None else None
            if hit is not None:
                await hit.answer(Request(scope))(scope, receive, send)
                return
        await self.app(scope, receive, send)
