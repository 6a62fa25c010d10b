"""The WebSockets and live subscriptions held, by process and by principal, and their caps.

Three caps: open sockets per process (`max_websockets`, checked before the upgrade), sockets per
principal (`ws_max_sockets_per_principal`, checked once the socket authenticated) and live
subscriptions per principal across all its sockets (`max_subscriptions_per_principal`).

Each process counts what it holds. With Redis the per-principal counts span every process: a
sorted set per principal and kind (`inbox:ws:<kind>:<principal>`) holds one id per socket or
subscription, scored by when its lease ends (Redis time). The holding process renews its leases
every third of LEASE_SECONDS, so a dead process's ids age out within LEASE_SECONDS. If Redis
cannot be reached the shared count is skipped (fail open, as the rate limiter does) and each
process still holds its own count to the cap.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from core.config import Settings
from core.errors import ErrorCode, InboxError
from core.redis_client import REDIS_UNAVAILABLE, SHARED_TIMEOUTS, redis_client

log = logging.getLogger("inbox.sockets")

SOCKETS, SUBSCRIPTIONS = "sockets", "subscriptions"
LEASE_SECONDS = 30.0

# KEYS[1] the principal's set; ARGV cap, lease in ms, id. Drops ended leases, then adds the id
# unless the set is full, in one step: racing processes cannot overshoot. 1 if added, else 0.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS[1] the principal's set; ARGV lease in ms, then the ids this process holds in it. Renews
# their leases, re-adding ids that aged out while Redis was unreachable (held is held).
_RENEW = """
local t = redis.call('TIME')
local ends = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], ends, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


class TooManySubscriptions(InboxError):
    code = ErrorCode.RATE_LIMITED


@dataclass(frozen=True, slots=True)
class SocketLease:
    """An authenticated socket's place among its principal's, and when its token expires."""

    principal: str
    id: str
    token_expires_at: float  # Unix time, the token's `exp`

    def seconds_left(self) -> float:
        return self.token_expires_at - time.time()


class SocketRegistry:
    """The sockets and subscriptions one process holds, and the caps on them."""

    def __init__(self, settings: Settings, lease_seconds: float = LEASE_SECONDS):
        self.settings = settings
        self.lease_seconds = lease_seconds
        self.open_sockets = 0
        self._held: dict[tuple[str, str], set[str]] = {}  # (kind, principal) -> ids held here
        self._redis: Redis | None = None
        self._renewer: asyncio.Task[None] | None = None
        if settings.redis_url:
            self._redis = redis_client(settings.redis_url, settings.redis_cluster, **SHARED_TIMEOUTS)
            self._acquire_script = self._redis.register_script(_ACQUIRE)
            self._renew_script = self._redis.register_script(_RENEW)

    def open(self) -> bool:
        """Count a socket about to be opened; False (and not counted) when the process is full."""
        if self.open_sockets >= self.settings.max_websockets:
            return False
        self.open_sockets += 1
        return True

    def closed(self) -> None:
        """Forget a socket that `open` counted."""
        self.open_sockets -= 1

    async def admit_socket(self, principal: str, token_expires_at: float) -> SocketLease | None:
        """The lease of the principal's new socket, or None when it holds as many as allowed."""
        socket_id = await self._acquire(SOCKETS, principal, self.settings.ws_max_sockets_per_principal)
        return None if socket_id is None else SocketLease(principal, socket_id, token_expires_at)

    async def release_socket(self, lease: SocketLease) -> None:
        await self._release(SOCKETS, lease.principal, lease.id)

    @asynccontextmanager
    async def subscription(self, principal: str) -> AsyncIterator[None]:
        """Hold one of the principal's subscriptions for the block; TooManySubscriptions when full."""
        cap = self.settings.max_subscriptions_per_principal
        subscription_id = await self._acquire(SUBSCRIPTIONS, principal, cap)
        if subscription_id is None:
            raise TooManySubscriptions(
                f"Too many live subscriptions: at most {cap} at once across all your "
                "connections; end one before starting another."
            )
        try:
            yield
        finally:
            await self._release(SUBSCRIPTIONS, principal, subscription_id)

    async def _acquire(self, kind: str, principal: str, cap: int) -> str | None:
        held = self._held.setdefault((kind, principal), set())
        if len(held) >= cap:
            return None
        entry = uuid.uuid4().hex
        # Taken before the shared check awaits, so that acquisitions racing in this process count it.
        held.add(entry)
        if not await self._acquire_shared(kind, principal, cap, entry):
            self._forget(kind, principal, entry)
            return None
        return entry

    async def _acquire_shared(self, kind: str, principal: str, cap: int, entry: str) -> bool:
        if self._redis is None:
            return True
        try:
            return bool(
                await self._acquire_script(
                    keys=[_key(kind, principal)], args=[cap, int(self.lease_seconds * 1000), entry]
                )
            )
        except REDIS_UNAVAILABLE as error:
            log.warning("socket registry: Redis unavailable, counting this process only: %s", error)
            return True

    async def _release(self, kind: str, principal: str, entry: str) -> None:
        self._forget(kind, principal, entry)  # first: no longer renewed, even if Redis fails below
        if self._redis is None:
            return
        try:
            await self._redis.zrem(_key(kind, principal), entry)
        except REDIS_UNAVAILABLE:
            pass  # not renewed any more: its lease ends on its own

    def _forget(self, kind: str, principal: str, entry: str) -> None:
        held = self._held.get((kind, principal))
        if held is not None:
            held.discard(entry)
            if not held:  # no empty sets left behind for principals that are gone
                del self._held[kind, principal]

    async def start(self) -> None:
        if self._redis is not None:
            self._renewer = asyncio.create_task(self._renew_forever())

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
        if self._redis is not None:
            await self._redis.aclose()

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            await self.renew()

    async def renew(self) -> None:
        """Extend the leases of everything this process holds."""
        held = [(_key(kind, principal), list(ids)) for (kind, principal), ids in self._held.items()]
        if not held or self._redis is None:
            return
        lease_ms = int(self.lease_seconds * 1000)
        try:
            if self.settings.redis_cluster:
                # A cluster's pipeline cannot carry scripts: one call per principal, all at once.
                await asyncio.gather(*(self._renew_script(keys=[key], args=[lease_ms, *ids]) for key, ids in held))
                return
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, ids in held:
                    await self._renew_script(keys=[key], args=[lease_ms, *ids], client=pipe)
                await pipe.execute()
        except REDIS_UNAVAILABLE as error:
            log.warning("socket registry: could not renew leases: %s", error)


def _key(kind: str, principal: str) -> str:
    return f"inbox:ws:{kind}:{principal}"
