"""HTTP caching: conditional requests against an ETag and a Last-Modified time, and the
server's cache of whole data answers (in memory, and in files for the larger ones)."""

import logging
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import IO, Final

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from app.clock import Clock
from app.storage.engine import ChangeToken

log = logging.getLogger(__name__)
FILE_CHUNK: Final = 1 << 20  # bytes read at a time from a kept file
FOLDER_PREFIX: Final = "dsm-answers-"  # + the process id + "-" + a random part


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
    """One whole answer, with what it was computed from. A larger answer's body is a file of
    the cache's folder (`path`)."""

    body: bytes
    media_type: str
    headers: dict[str, str]  # ETag, Last-Modified, Cache-Control, Vary
    modified: datetime
    token: str  # the database's change token, read before the answer's snapshot
    stamp: tuple[int, ...]  # the in-memory state it was computed with (structures, grants)
    since: datetime  # the time it was computed for
    expires: datetime | None  # the next release from embargo, when the data changes unwritten
    path: Path | None = None  # the body, kept in a file (then `body` is empty)
    size: int = 0  # bytes of the body

    def answer(self, request: Request) -> Response | None:
        """The answer to `request`; None when its file is gone (dropped since it was found)."""
        if not_modified(request, self.headers["ETag"], self.modified):
            return Response(status_code=304, headers=self.headers)
        if self.path is None:
            return Response(self.body, media_type=self.media_type, headers=self.headers)
        try:
            file = self.path.open("rb")  # open, it stays readable if dropped meanwhile
        except FileNotFoundError:
            return None
        headers = {**self.headers, "Content-Length": str(self.size)}
        return StreamingResponse(_read(file), media_type=self.media_type, headers=headers)


def _read(file: IO[bytes]) -> Iterator[bytes]:
    with file:
        while chunk := file.read(FILE_CHUNK):
            yield chunk


DATA_PATHS = ("/rest/data/", "/rest/v2/data/")  # the answers that are cached


class _Lru:
    """Entries by key, least recently used first out beyond `limit` bytes; `dropped` is told
    of every entry that leaves."""

    def __init__(self, limit: int, dropped: Callable[[Cached], None]) -> None:
        self.limit, self.dropped = limit, dropped
        self.entries: OrderedDict[tuple[object, ...], Cached] = OrderedDict()
        self.size = 0

    def get(self, key: tuple[object, ...]) -> Cached | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def put(self, key: tuple[object, ...], entry: Cached) -> None:
        if entry.size > self.limit:
            self.dropped(entry)
            return
        self.drop(key)
        self.entries[key] = entry
        self.size += entry.size
        while self.size > self.limit:
            _, gone = self.entries.popitem(last=False)
            self.size -= gone.size
            self.dropped(gone)

    def drop(self, key: tuple[object, ...], entry: Cached | None = None) -> None:
        """Drop the entry of `key` (only if it is `entry`, when given)."""
        found = self.entries.get(key)
        if found is not None and (entry is None or found is entry):
            del self.entries[key]
            self.size -= found.size
            self.dropped(found)

    def clear(self) -> None:
        for key in list(self.entries):
            self.drop(key)


class ResponseCache:
    """Whole answers of anonymous data queries, by URL and the headers they vary on, kept while
    they are provably current: the database's change token has not moved (no commit by anyone,
    any process, since the answer's snapshot), the in-memory state the answer was computed
    with (`stamp`: structure revision, grant generation) is still the one in use, and no
    embargo has ended since. Answers up to the data handlers' SMALL size are kept in memory
    (`max_bytes`), larger ones in files of a folder of this process's own under `directory`
    (`max_disk_bytes`), written as they are streamed (`Spill`); least recently used answers go
    first beyond either size, 0 turns that part off. Filled by the data handlers, served by
    `CachedAnswers`."""

    def __init__(
        self,
        engine: Engine,
        max_bytes: int,
        stamp: Callable[[], tuple[int, ...]],
        clock: Clock,
        max_disk_bytes: int = 0,
        directory: str | None = None,
    ) -> None:
        self.max_bytes, self.max_disk_bytes = max_bytes, max_disk_bytes
        self.token = ChangeToken(engine)
        self.stamp = stamp
        self.clock = clock
        self._memory = _Lru(max_bytes, lambda _: None)
        self._files = _Lru(max_disk_bytes, _unlink)
        self._lock = threading.Lock()
        self._directory = directory or None
        self._folder: Path | None = None  # made at the first file kept
        self._writing = 0  # bytes in files still being written (`Spill`)

    def key(self, scope: Scope) -> tuple[object, ...] | None:
        """The cache key of an anonymous request: its URL and the headers the answer varies
        on (None: not to be cached)."""
        if self.max_bytes <= 0 and self.max_disk_bytes <= 0:
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
            entry = self._memory.get(key) or self._files.get(key)
        if entry is None:
            return None
        now = self.clock.now()
        if (
            entry.stamp != self.stamp()
            or now < entry.since  # a clock set back: a release may lie in between
            or (entry.expires is not None and now >= entry.expires)
            or self.token.read() != entry.token
        ):
            with self._lock:
                self._memory.drop(key, entry)
                self._files.drop(key, entry)
            return None
        return entry

    def put(self, key: tuple[object, ...], entry: Cached) -> None:
        """Keep an answer: in memory if its body is bytes, else its file (now the cache's)."""
        with self._lock:
            if entry.path is None:
                self._files.drop(key)
                self._memory.put(key, replace(entry, size=len(entry.body)))
            else:
                self._memory.drop(key)
                self._files.put(key, entry)

    def spill(self, key: tuple[object, ...], entry: Cached) -> "Spill | None":
        """A file to write a streamed answer to as it is sent, kept as `entry`'s body if the
        stream ends whole (None: answers are not kept in files)."""
        if self.max_disk_bytes <= 0:
            return None
        try:
            with self._lock:
                if self._folder is None:
                    parent = Path(self._directory or tempfile.gettempdir())
                    _remove_orphans(parent)
                    self._folder = Path(
                        tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-", dir=parent)
                    )
                folder = self._folder
            # the Spill owns and closes it
            file = tempfile.NamedTemporaryFile(dir=folder, prefix="answer-", delete=False)  # noqa: SIM115
        except OSError as exc:
            log.warning("response cache: cannot make a file for an answer: %s", exc)
            return None
        return Spill(self, key, entry, file)

    def reserve(self, size: int) -> bool:
        """Room for `size` more bytes of files being written: those in progress together stay
        within `max_disk_bytes` (as the kept ones do), so the disk holds at most twice it."""
        with self._lock:
            if self._writing + size > self.max_disk_bytes:
                return False
            self._writing += size
            return True

    def release(self, size: int) -> None:
        with self._lock:
            self._writing -= size

    def close(self) -> None:
        self.token.close()
        with self._lock:
            self._memory.clear()
            self._files.clear()
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)
                self._folder = None


def _remove_orphans(parent: Path) -> None:
    """Remove the answer folders under `parent` of server processes that are gone (killed
    before they could remove their own): each folder's name holds its process id."""
    for folder in parent.glob(f"{FOLDER_PREFIX}*-*"):
        pid = folder.name.removeprefix(FOLDER_PREFIX).partition("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # alive, another user's
            continue


def _unlink(entry: Cached) -> None:
    if entry.path is not None:
        entry.path.unlink(missing_ok=True)


class Spill:
    """A streamed answer written to a file chunk by chunk as it is sent (`write`), and kept in
    the cache once the whole of it is written (`keep`). Beyond the room for files being written
    (`ResponseCache.reserve`: this one is larger than the cache's file size, or others take the
    room), or on a write error (a full disk), the file is given up and the answer goes on
    unkept; `discard` (a stream that stopped early) gives it up too."""

    def __init__(
        self, cache: ResponseCache, key: tuple[object, ...], entry: Cached, file: IO[bytes]
    ) -> None:
        self.cache, self.key, self.entry = cache, key, entry
        self.file: IO[bytes] | None = file
        self.size = 0

    def write(self, chunk: bytes) -> None:
        if self.file is None:
            return
        if not self.cache.reserve(len(chunk)):
            self.discard()
            return
        self.size += len(chunk)
        try:
            self.file.write(chunk)
        except OSError as exc:
            log.warning("response cache: an answer's file cannot be written: %s", exc)
            self.discard()

    def keep(self) -> None:
        name = self._close()
        if name is not None:
            kept = replace(self.entry, body=b"", path=Path(name), size=self.size)
            self.cache.put(self.key, kept)

    def discard(self) -> None:
        name = self._close()
        if name is not None:
            os.unlink(name)

    def _close(self) -> str | None:
        """Stop writing: the file closed, its room given back. Its name (None: no file left,
        already closed or given up because it could not be written)."""
        if self.file is None:
            return None
        file, self.file = self.file, None
        self.cache.release(self.size)
        try:
            file.close()
        except OSError as exc:
            log.warning("response cache: an answer's file cannot be written: %s", exc)
            os.unlink(file.name)
            return None
        return file.name


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
            response = hit.answer(Request(scope)) if hit is not None else None
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
