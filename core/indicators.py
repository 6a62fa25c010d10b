"""Which typing reports are told to the other side: the gate in front of every typing event.

Per conversation and side, a report is broadcast unless the same report (typing, or stopped) was
broadcast within REPEAT_SECONDS; a sent message ends the indicator only if one may still be showing
(a start reported within LIFETIME_SECONDS and not stopped since). So a client may report on every
keystroke and the other side hears of it once per REPEAT_SECONDS.

In-process by default; with Redis every process shares the same keys (SET NX PX, in one script per
report), so reports spread over processes are deduplicated too. If Redis cannot be reached the
report goes out (fail open, as the rate limiter does): a duplicate indicator is harmless.
"""

import logging
import time
from enum import Enum

from core.redis_client import REDIS_UNAVAILABLE, SHARED_TIMEOUTS, redis_client

log = logging.getLogger("inbox.indicators")

REPEAT_SECONDS = 2.0  # the same report within this is accepted but not broadcast again
LIFETIME_SECONDS = 6.0  # an indicator's expiresAt: this long after the report, unless renewed


class Change(Enum):
    """What a side did: started typing, stopped without sending, or sent its message."""

    START = "start"
    STOP = "stop"
    SENT = "sent"


class MemoryIndicators:
    """The gate of one process: keys with their expiry, as the Redis gate holds them.

    A sweep drops expired keys whenever the table has doubled since the last one (at least
    SWEEP_AT_LEAST entries): O(1) per report amortised, and no timer."""

    SWEEP_AT_LEAST = 1024

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}  # key -> time.monotonic() it expires at
        self._sweep_at = self.SWEEP_AT_LEAST

    def __len__(self) -> int:
        return len(self._expiry)

    async def admit(self, key: str, change: Change) -> bool:
        """Whether this change of `key` (a conversation's side) is broadcast; records it either way."""
        now = time.monotonic()
        on, off, live = _keys(key)
        if change is Change.START:
            admitted = self._set_if_absent(on, now, REPEAT_SECONDS)
            self._expiry.pop(off, None)
            self._expiry[live] = now + LIFETIME_SECONDS
        elif change is Change.STOP:
            admitted = self._set_if_absent(off, now, REPEAT_SECONDS)
            self._expiry.pop(on, None)
            self._expiry.pop(live, None)
        else:
            admitted = self._expiry.pop(live, 0.0) > now
            self._expiry.pop(on, None)
            self._expiry[off] = now + REPEAT_SECONDS
        if len(self._expiry) >= self._sweep_at:
            self._expiry = {k: expires for k, expires in self._expiry.items() if expires > now}
            self._sweep_at = max(self.SWEEP_AT_LEAST, 2 * len(self._expiry))
        return admitted

    def _set_if_absent(self, key: str, now: float, seconds: float) -> bool:
        if self._expiry.get(key, 0.0) > now:
            return False
        self._expiry[key] = now + seconds
        return True

    async def close(self) -> None:
        """Nothing to release (the Redis gate closes its connection)."""


# KEYS on, off, live (one hash slot); ARGV the change, REPEAT_SECONDS and LIFETIME_SECONDS in ms. 1 if the
# change is broadcast. A script, not a MULTI: as atomic, and a cluster client runs a MULTI's commands one
# thread and event loop each (redis-py 8.1's asyncio ClusterPipeline), blocking the process meanwhile.
_ADMIT = """
if ARGV[1] == 'start' then
  local told = redis.call('SET', KEYS[1], 1, 'NX', 'PX', ARGV[2])
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[3], 1, 'PX', ARGV[3])
  return told and 1 or 0
elseif ARGV[1] == 'stop' then
  local told = redis.call('SET', KEYS[2], 1, 'NX', 'PX', ARGV[2])
  redis.call('DEL', KEYS[1], KEYS[3])
  return told and 1 or 0
end
local showing = redis.call('DEL', KEYS[3])
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], 1, 'PX', ARGV[2])
return showing
"""


class RedisIndicators:
    """The gate shared by every process through Redis."""

    def __init__(self, url: str, cluster: bool = False) -> None:
        self._redis = redis_client(url, cluster, **SHARED_TIMEOUTS)
        self._admit = self._redis.register_script(_ADMIT)

    async def admit(self, key: str, change: Change) -> bool:
        keys = [f"inbox:typing:{name}" for name in _keys(key)]
        args = [change.value, int(REPEAT_SECONDS * 1000), int(LIFETIME_SECONDS * 1000)]
        try:
            # One script: the three keys of a side change together, whichever process reports.
            told = await self._admit(keys=keys, args=args)
        except REDIS_UNAVAILABLE as error:
            log.warning("typing gate unavailable, broadcasting the report: %s", error)
            return True
        return bool(told)

    async def close(self) -> None:
        await self._redis.aclose()


def _keys(key: str) -> tuple[str, str, str]:
    """The side's keys: a start and a stop broadcast within REPEAT_SECONDS, an indicator that may
    be showing. The braces make them one Redis Cluster hash slot, as a script needs."""
    return f"{{{key}}}:on", f"{{{key}}}:off", f"{{{key}}}:live"


def create_indicators(redis_url: str | None, cluster: bool = False) -> MemoryIndicators | RedisIndicators:
    return RedisIndicators(redis_url, cluster) if redis_url else MemoryIndicators()
