"""Counters shared by every server process: requests per rate-limit window and uploads in progress.

One small interface, two stores. `MemoryCounters` keeps a dict in the process, which is right for a
single server process; `RedisCounters` keeps them in Redis, where every worker process (and host)
pointing at the same Redis sees the same counts. Every count lives under a key with a lifetime, so
nothing a crashed process held stays forever.

Redis being down must not take the server down with it: `RedisCounters` then logs a warning,
counts in the process (each process on its own, as without Redis) and tries Redis again after
`RETRY_SECONDS`. A slot taken in Redis and given back during an outage stays taken in Redis until
its lifetime ends.
"""

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger("dsm.counters")

RETRY_SECONDS = 10.0  # after Redis failed, count in memory this long before trying it again
REDIS_TIMEOUT = 1.0  # seconds to connect to Redis or wait for an answer

T = TypeVar("T")


class Counters(ABC):
    """Named counters with a lifetime (keys are relative: a store may add a prefix)."""

    @abstractmethod
    async def hit(self, key: str, ttl: int) -> int:
        """Add one to `key`, keep it at least `ttl` seconds more, and return the new count."""

    @abstractmethod
    async def count(self, key: str) -> int:
        """The count of `key`: 0 when it is absent or its lifetime has ended."""

    @abstractmethod
    async def acquire(self, key: str, cap: int, ttl: int) -> bool:
        """Add one to `key` unless it is already at `cap`; True when added. Only a successful
        acquire renews the lifetime (`ttl` seconds), so a slot leaked by a crash runs out even
        while refused attempts continue."""

    @abstractmethod
    async def release(self, key: str) -> None:
        """Take one off `key`, never going below zero."""

    async def close(self) -> None:  # noqa: B027 (nothing to free in memory)
        """Free the store's connections."""


class MemoryCounters(Counters):
    """Counters in a dict of this process. Expired keys are pruned at most every `PRUNE_SECONDS`,
    so old rate-limit windows do not pile up. A threading lock, not an asyncio one: nothing awaits
    while holding it, and the same store may serve code running in worker threads."""

    PRUNE_SECONDS = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[str, tuple[int, float]] = {}  # key: (count, end of life)
        self._lock = threading.Lock()
        self._pruned = clock()

    def __len__(self) -> int:
        return len(self._values)

    async def hit(self, key: str, ttl: int) -> int:
        now = self._clock()
        with self._lock:
            self._prune(now)
            value = self._live(key, now) + 1
            self._values[key] = (value, now + ttl)
            return value

    async def count(self, key: str) -> int:
        with self._lock:
            return self._live(key, self._clock())

    async def acquire(self, key: str, cap: int, ttl: int) -> bool:
        now = self._clock()
        with self._lock:
            self._prune(now)
            value = self._live(key, now)
            if value >= cap:
                return False
            self._values[key] = (value + 1, now + ttl)
            return True

    async def release(self, key: str) -> None:
        with self._lock:
            value, ends = self._values.get(key, (0, 0.0))
            if value <= 1:
                self._values.pop(key, None)
            else:
                self._values[key] = (value - 1, ends)

    def _live(self, key: str, now: float) -> int:
        value, ends = self._values.get(key, (0, 0.0))
        return value if ends > now else 0

    def _prune(self, now: float) -> None:
        if now - self._pruned < self.PRUNE_SECONDS:
            return
        self._pruned = now
        for key in [k for k, (_, ends) in self._values.items() if ends <= now]:
            del self._values[key]


# Each script runs atomically in Redis: no other process sees a half-done change.
_ACQUIRE = """
local held = tonumber(redis.call('GET', KEYS[1]) or '0')
if held >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('DECR', KEYS[1]) <= 0 then redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisCounters(Counters):
    """Counters in Redis under `prefix`, falling back to `MemoryCounters` while Redis fails."""

    def __init__(
        self, url: str, prefix: str = "dsm:", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.prefix = prefix
        self._clock = clock
        self._redis = redis.Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
            retry=Retry(
                NoBackoff(), 1
            ),  # once at once (a stale pooled connection), not for seconds
        )
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release = self._redis.register_script(_RELEASE)
        self.fallback = MemoryCounters(clock)
        self._down_until: float | None = None  # set while Redis is considered unreachable

    async def hit(self, key: str, ttl: int) -> int:
        async def on_redis() -> int:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(self.prefix + key)
                pipe.expire(self.prefix + key, ttl)
                value, _ = await pipe.execute()
            return int(value)

        return await self._use(on_redis, lambda: self.fallback.hit(key, ttl))

    async def count(self, key: str) -> int:
        async def on_redis() -> int:
            return int(await self._redis.get(self.prefix + key) or 0)

        return await self._use(on_redis, lambda: self.fallback.count(key))

    async def acquire(self, key: str, cap: int, ttl: int) -> bool:
        async def on_redis() -> bool:
            return bool(await self._acquire(keys=[self.prefix + key], args=[cap, ttl]))

        return await self._use(on_redis, lambda: self.fallback.acquire(key, cap, ttl))

    async def release(self, key: str) -> None:
        async def on_redis() -> None:
            await self._release(keys=[self.prefix + key])

        await self._use(on_redis, lambda: self.fallback.release(key))

    async def close(self) -> None:
        await self._redis.aclose()

    async def _use(
        self, on_redis: Callable[[], Awaitable[T]], in_memory: Callable[[], Awaitable[T]]
    ) -> T:
        if self._down_until is not None and self._clock() < self._down_until:
            return await in_memory()
        try:
            result = await on_redis()
        except (RedisError, OSError) as exc:
            if self._down_until is None:
                log.warning(
                    "Redis unreachable (%s): counting rate limits and uploads in this process "
                    "only, trying Redis again every %.0f s",
                    exc,
                    RETRY_SECONDS,
                )
            self._down_until = self._clock() + RETRY_SECONDS
            return await in_memory()
        if self._down_until is not None:
            log.warning("Redis reachable again: counting in Redis")
            self._down_until = None
        return result


def open_counters(redis_url: str | None, prefix: str = "dsm:") -> Counters:
    """The counter store of the settings: Redis when a URL is given, else memory."""
    return RedisCounters(redis_url, prefix) if redis_url else MemoryCounters()
