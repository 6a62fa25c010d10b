"""Token buckets per principal: queries, mutations, bulk recipients, typing reports and image uploads.

In-process by default; with Redis every process draws from the same bucket, through one
atomic script. If Redis cannot be reached the request is let through (fail open): a
broker outage must not take the API down with it.
"""

import logging
import time
from dataclasses import dataclass

from core.redis_client import REDIS_UNAVAILABLE, SHARED_TIMEOUTS, redis_client

log = logging.getLogger("inbox.ratelimit")


@dataclass(frozen=True)
class Bucket:
    capacity: int
    per_second: float


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float = 0.0


def _refill(tokens: float, elapsed: float, bucket: Bucket) -> float:
    return min(bucket.capacity, tokens + elapsed * bucket.per_second)


class MemoryLimiter:
    """Buckets of one process.

    A bucket that has refilled is the same as no bucket, so a sweep drops every bucket full by
    now; it runs whenever the table has doubled since the last sweep (at least SWEEP_AT_LEAST
    entries), which costs O(1) per take amortised and keeps the table within twice the buckets
    still refilling.
    """

    SWEEP_AT_LEAST = 1024

    def __init__(self) -> None:
        # key -> (tokens, updated, full_at): full_at is when the bucket will have refilled.
        self._state: dict[str, tuple[float, float, float]] = {}
        self._sweep_at = self.SWEEP_AT_LEAST

    def __len__(self) -> int:
        return len(self._state)

    async def take(self, key: str, bucket: Bucket, cost: int = 1) -> Verdict:
        now = time.monotonic()
        state = self._state.get(key)
        tokens = bucket.capacity if state is None else _refill(state[0], now - state[1], bucket)
        allowed = tokens >= cost
        if allowed:
            tokens -= cost
        self._state[key] = (tokens, now, now + (bucket.capacity - tokens) / bucket.per_second)
        if len(self._state) >= self._sweep_at:
            self._sweep(now)
        return Verdict(True) if allowed else Verdict(False, (cost - tokens) / bucket.per_second)

    def _sweep(self, now: float) -> None:
        self._state = {key: state for key, state in self._state.items() if state[2] > now}
        self._sweep_at = max(self.SWEEP_AT_LEAST, 2 * len(self._state))


# KEYS[1] bucket; ARGV capacity, per_second, cost. Returns {allowed, retry_after_ms}.
_TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local capacity, rate, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1]) or capacity
local updated = tonumber(state[2]) or t
tokens = math.min(capacity, tokens + (t - updated) * rate)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'updated', t)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, retry}
"""


class RedisLimiter:
    """Buckets shared by every process through Redis."""

    def __init__(self, url: str, cluster: bool = False):
        self._redis = redis_client(url, cluster, **SHARED_TIMEOUTS)
        self._take = self._redis.register_script(_TAKE)

    async def take(self, key: str, bucket: Bucket, cost: int = 1) -> Verdict:
        try:
            allowed, retry_ms = await self._take(
                keys=[f"inbox:rate:{key}"], args=[bucket.capacity, bucket.per_second, cost]
            )
        except REDIS_UNAVAILABLE as error:
            log.warning("rate limiter unavailable, letting the request through: %s", error)
            return Verdict(True)
        return Verdict(bool(allowed), retry_ms / 1000)

    async def close(self) -> None:
        await self._redis.aclose()


class RateLimits:
    """The buckets of every principal: a token per query, a token per mutation, a token per
    recipient of a bulk send (which also pays its mutation token), and a token per typing report
    (instead of a mutation token: a client reporting as its user types must not use up its sends), and a
    token per image upload (on top of its mutation token; INBOX_UPLOADS_PER_HOUR)."""

    def __init__(
        self,
        backend: MemoryLimiter | RedisLimiter,
        queries: Bucket,
        mutations: Bucket,
        bulk_recipients: Bucket,
        typing: Bucket,
        uploads: Bucket,
    ) -> None:
        self.backend = backend
        self.buckets = {
            "query": queries,
            "mutation": mutations,
            "bulk": bulk_recipients,
            "typing": typing,
            "upload": uploads,
        }

    async def take(self, principal: str, kind: str, cost: int = 1) -> Verdict:
        """Take `cost` tokens at once, or none (a bulk send is refused whole, never cut short)."""
        return await self.backend.take(f"{principal}:{kind}", self.buckets[kind], cost)

    async def close(self) -> None:
        if hasattr(self.backend, "close"):
            await self.backend.close()


def create_rate_limits(
    redis_url: str | None,
    queries: Bucket,
    mutations: Bucket,
    bulk_recipients: Bucket,
    typing: Bucket,
    uploads: Bucket,
    cluster: bool = False,
) -> RateLimits:
    limiter = RedisLimiter(redis_url, cluster) if redis_url else MemoryLimiter()
    return RateLimits(limiter, queries, mutations, bulk_recipients, typing, uploads)
