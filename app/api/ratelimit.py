"""Rate limits as plain ASGI middleware (it never touches a body), and the cap on uploads in
progress per data provider. Both count in the shared `Counters` store.

Requests are counted in fixed one-minute windows: under a SHA-256 of the bearer token when there is
one (the token itself is neither kept nor logged), else under the client address. Over the limit
the answer is 429 with Retry-After (seconds until the window ends) and an SDMX error message.
Fixed windows cost one counter write per request; the price is that a client can send up to twice
its limit across a window edge, which is fine for stopping abuse.

The limit is checked before authentication, so a made-up token would open a fresh count of its
own. To keep an address from escaping its limit with random tokens, each 401 answer to a token
request counts against the address, and token requests from an address with as many failures as
the anonymous limit are refused until the window ends.
"""

import hashlib
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.requests import Request

from app.api.errors import dsm_error_response
from app.api.middleware import ASGIApp, Message, Receive, Scope, Send
from app.clock import Clock
from app.errors import TooManyRequests
from app.services.counters import Counters

WINDOW = 60  # seconds
UPLOAD_SLOT_TTL = 3600  # seconds a slot outlives its last taker (a crashed process's slot ends)


def _exempt(scope: Scope) -> bool:
    path = scope.get("path", "")
    return scope["method"] == "OPTIONS" or path.startswith("/health/") or path == "/metrics"


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class RateLimit:
    """At most `per_token` requests a minute per bearer token and `anonymous` per client address
    without one (0: no limit). `clock` is the app's, so tests move time instead of waiting."""

    def __init__(
        self, app: ASGIApp, counters: Counters, per_token: int, anonymous: int, clock: Clock
    ) -> None:
        self.app = app
        self.counters = counters
        self.per_token = per_token
        self.anonymous = anonymous
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (self.per_token or self.anonymous) or _exempt(scope):
            await self.app(scope, receive, send)  # no limits (both 0): nothing to count or add
            return
        now = self.clock.now().timestamp()
        window = int(now // WINDOW)
        retry_after = max(1, math.ceil((window + 1) * WINDOW - now))
        client = scope.get("client")
        address = client[0] if client else "unknown"
        failures = f"rl:failed:{address}:{window}"
        token = _bearer_token(scope)
        if token is None:
            key, limit, who = f"rl:ip:{address}:{window}", self.anonymous, f"from {address}"
        else:
            digest = hashlib.sha256(token.encode()).hexdigest()
            key, limit, who = f"rl:token:{digest}:{window}", self.per_token, "with this token"
            if self.anonymous and await self.counters.count(failures) >= self.anonymous:
                detail = (
                    f"{self.anonymous} requests from {address} in this minute had a token that "
                    f"was refused; send again in {retry_after} s"
                )
                await self._refuse(scope, receive, send, detail, retry_after, {})
                return
        headers: dict[str, str] = {}
        if limit:
            used = await self.counters.hit(key, WINDOW)
            headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"}
            if used > limit:
                detail = (
                    f"More than {limit} requests in a minute {who}; send again in {retry_after} s"
                )
                await self._refuse(scope, receive, send, detail, retry_after, headers)
                return
            headers["X-RateLimit-Remaining"] = str(limit - used)
        status = 0
        extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
        if token is not None and status == 401 and self.anonymous:
            await self.counters.hit(failures, WINDOW)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        detail: str,
        retry_after: int,
        headers: dict[str, str],
    ) -> None:
        error = TooManyRequests(detail, retry_after=retry_after)
        response = dsm_error_response(Request(scope), error, headers)
        await response(scope, receive, send)


class UploadSlots:
    """At most `cap` data submissions of one owner (a data provider, or an admin user) in
    progress at once, across every server process sharing the counters (0: no cap)."""

    def __init__(self, counters: Counters, cap: int) -> None:
        self.counters = counters
        self.cap = cap

    @asynccontextmanager
    async def hold(self, owner: str) -> AsyncIterator[bool]:
        """Take a slot for the block, yielding False (and taking nothing) when all are taken.
        The slot is given back however the block ends, also when the request is cancelled."""
        key = f"uploads:{owner}"
        taken = not self.cap or await self.counters.acquire(key, self.cap, UPLOAD_SLOT_TTL)
        try:
            yield taken
        finally:
            if taken and self.cap:
                with anyio.CancelScope(shield=True):
                    await self.counters.release(key)

    async def in_progress(self, owner: str) -> int:
        return await self.counters.count(f"uploads:{owner}")
