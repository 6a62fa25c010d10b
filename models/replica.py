"""Reads from a streaming replica, without giving up read-your-writes.

A mutation's response carries the primary's WAL position after it (`position`); a client that sends
it back with a query is read from the replica only once the replica has replayed that far, and from
the primary otherwise. Reads go to the primary too while the replica lags by more than the allowed
time or cannot be reached. Everything else (transactions, rule checks, subscriptions' replay) never
comes here: it reads the primary.

How far behind the replica is: every POLL_SECONDS the primary's current WAL position is noted with
the time, and the replica's replay position read; the lag is the age of the oldest noted position
the replica has not replayed yet (none: no lag, even when the primary is idle and no transaction
has replayed for an hour).
"""

import asyncio
import logging
import time
from collections import deque

from sqlalchemy import text

from models.availability import is_unavailable
from models.database import GatedEngine

log = logging.getLogger("inbox.replica")

# A mutation's response header (and `extensions.walPosition`); a query's request header that sends it back.
WAL_POSITION_HEADER = "Inbox-WAL-Position"
READ_AFTER_HEADER = "Inbox-Read-After"
POLL_SECONDS = 0.05
_MAX_SAMPLES = 20_000  # beyond, the replica is far past any lag allowed: the oldest samples are kept
_PRIMARY_POSITION = text("SELECT pg_current_wal_lsn()::text")
_REPLAYED = text("SELECT pg_last_wal_replay_lsn()::text")


def parse_position(value: str) -> int:
    """A WAL position ("16/B374D848", as PostgreSQL writes it) as a number; ValueError if malformed."""
    high, low = value.strip().split("/")
    if not (0 < len(high) <= 8 and 0 < len(low) <= 8):
        raise ValueError(value)
    return (int(high, 16) << 32) + int(low, 16)


class ReplicaReads:
    """Chooses, for each query, between the primary's reader and the replica's."""

    def __init__(self, primary: GatedEngine, replica: GatedEngine, max_lag_seconds: float) -> None:
        self.primary, self.replica = primary, replica
        self.max_lag_seconds = max_lag_seconds
        self.replayed: int | None = None  # the replica's replay position; None: unreachable (or not a replica)
        self.lag_seconds = float("inf")
        self._samples: deque[tuple[float, int]] = deque()  # (monotonic time, primary's position), in order
        self._task: asyncio.Task[None] | None = None
        self._told_not_a_replica = False  # warned once, not every poll

    def reader_after(self, position: int | None) -> GatedEngine:
        """The replica's reader if it keeps up and has replayed `position` (a client's last write), else
        the primary's."""
        replayed = self.replayed
        if replayed is None or self.lag_seconds > self.max_lag_seconds:
            return self.primary
        if position is not None and position > replayed:
            return self.primary
        return self.replica

    async def position(self) -> str:
        """The primary's WAL position now: after a mutation's commits, what its response carries."""
        async with self.primary.connect() as conn:
            return str((await conn.execute(_PRIMARY_POSITION)).scalar_one())

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="replica-watch")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.replica.dispose()

    async def _watch(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception as error:  # noqa: BLE001 - the replica is unused until a poll succeeds
                self.replayed = None
                if not is_unavailable(error):  # a database away is expected; anything else is logged
                    log.exception("replica watch failed")
            await asyncio.sleep(POLL_SECONDS)

    async def poll(self) -> None:
        """Note the primary's position, read the replica's, and work out the lag."""
        now = time.monotonic()
        async with self.primary.connect() as conn:
            primary = parse_position((await conn.execute(_PRIMARY_POSITION)).scalar_one())
        if (not self._samples or self._samples[-1][1] < primary) and len(self._samples) < _MAX_SAMPLES:
            self._samples.append((now, primary))
        async with asyncio.timeout(1.0), self.replica.connect() as conn:  # TimeoutError: unavailable
            replayed = (await conn.execute(_REPLAYED)).scalar_one()
        if replayed is None:  # not in recovery: not a replica
            if not self._told_not_a_replica:
                log.warning("INBOX_DATABASE_REPLICA_URL is not a streaming replica; reading the primary")
                self._told_not_a_replica = True
            self.replayed = None
            return
        self.replayed = parse_position(replayed)
        while self._samples and self._samples[0][1] <= self.replayed:
            self._samples.popleft()
        self.lag_seconds = now - self._samples[0][0] if self._samples else 0.0
