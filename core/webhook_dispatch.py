"""The webhook dispatcher: one per server process, sending the outbox's due deliveries.

Claiming a delivery is one UPDATE that adds one to `attempts` and moves `next_attempt_at` a lease
ahead; on PostgreSQL its rows are picked with FOR UPDATE SKIP LOCKED, so processes share the work
and each attempt belongs to the one process that claimed it. The outcome is recorded only where
`attempts` still is the claim's: an attempt whose process died is made again once its lease ran
out, with the same eventId and body (at least once), and a late outcome of a lost lease is
dropped. An attempt is not started once its lease is nearly over, so two processes never send the
same attempt.

It wakes when this process commits deliveries (`wake`), at PostgreSQL's NOTIFY from the others,
when the next retry is due, and at least every `webhook_poll_seconds` on PostgreSQL.
"""

import asyncio
import functools
import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from datetime import timedelta
from typing import Any

import asyncpg
import standardwebhooks
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.config import Settings
from core.webhook_http import Outcome, WebhookClient
from models.database import create_engine
from models.tables import webhook_delivery_t, webhook_endpoint_t
from models.types import utcnow

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "inbox_webhooks"
# Seconds after the first, second, ... failed attempt (then every 12 hours), each with ±20 % jitter.
RETRY_DELAYS = (5, 30, 120, 600, 3600, 6 * 3600)
LATER_DELAY = 12 * 3600
RETRY_WINDOW = timedelta(days=3)  # from `retry_since`; then FAILED, and the endpoint disabled
KEEP_DELIVERIES = timedelta(days=30)
PRUNE_EVERY_SECONDS = 3600

e, d = webhook_endpoint_t.c, webhook_delivery_t.c


def retry_delay(attempts: int, scale: float = 1.0) -> float:
    """Seconds before the next attempt of a delivery whose `attempts`-th attempt failed."""
    base = RETRY_DELAYS[attempts - 1] if attempts <= len(RETRY_DELAYS) else LATER_DELAY
    return base * random.uniform(0.8, 1.2) * scale


async def fail_pending(conn: AsyncConnection, endpoint_id: int, reason: str) -> None:
    """An endpoint that stops receiving (disabled, deleted) ends its pending deliveries as FAILED."""
    await conn.execute(
        update(webhook_delivery_t)
        .where(d.endpoint_id == endpoint_id, d.status == "PENDING")
        .values(status="FAILED", next_attempt_at=None, last_error=reason)
    )


def _claim_statement() -> Any:
    """Due deliveries, at most `per_endpoint` of each endpoint not busy here and `limit` in all, oldest
    due first, claimed: attempts + 1, next_attempt_at = the lease's end."""
    ranked_rows = webhook_delivery_t.alias("ranked_rows")
    ranked = (
        select(
            ranked_rows.c.id,
            ranked_rows.c.next_attempt_at,
            func.row_number()
            .over(partition_by=ranked_rows.c.endpoint_id, order_by=(ranked_rows.c.next_attempt_at, ranked_rows.c.id))
            .label("rank"),
        )
        .where(
            ranked_rows.c.status == "PENDING",
            ranked_rows.c.next_attempt_at <= bindparam("now"),
            ranked_rows.c.endpoint_id.not_in(bindparam("busy", expanding=True)),
        )
        .subquery()
    )
    candidates = (
        select(ranked.c.id)
        .where(ranked.c.rank <= bindparam("per_endpoint"))
        .order_by(ranked.c.next_attempt_at)
        .limit(bindparam("limit"))
    )
    locked_rows = webhook_delivery_t.alias("locked_rows")
    # Why SKIP LOCKED: a row another process is claiming is its, not worth waiting for. The conditions
    # are checked again on the locked row, so a row claimed and committed meanwhile is not due any more.
    locked = (
        select(locked_rows.c.id)
        .where(
            locked_rows.c.id.in_(candidates),
            locked_rows.c.status == "PENDING",
            locked_rows.c.next_attempt_at <= bindparam("now"),
        )
        .with_for_update(skip_locked=True)
    )
    return (
        update(webhook_delivery_t)
        .where(d.id.in_(locked.scalar_subquery()))
        .values(attempts=d.attempts + 1, next_attempt_at=bindparam("lease_end"))
        .returning(d.id, d.endpoint_id, d.event_id, d.body, d.attempts, d.retry_since)
    )


_CLAIM = _claim_statement()
_NEXT_DUE = select(func.min(d.next_attempt_at)).where(
    d.status == "PENDING", d.endpoint_id.not_in(bindparam("busy", expanding=True))
)


class Dispatcher:
    """Sends due deliveries for as long as the app runs: `start` and `close` in server.py's lifetime."""

    def __init__(self, settings: Settings, wake: asyncio.Event) -> None:
        self._settings = settings
        self._wake = wake
        # An engine of its own: its statements are nobody's request (and never wait behind them).
        self._engine: AsyncEngine = create_engine(settings.database_url, pool_size=2, pooler=settings.db_pooler)
        self._client = WebhookClient(
            settings.webhook_allow_private, settings.webhook_timeout_seconds, settings.webhook_concurrency
        )
        self._listen_dsn = _listen_dsn(settings)
        self._listener: asyncpg.Connection | None = None
        self._in_flight: dict[asyncio.Task[None], Any] = {}  # each attempt's task and its claim
        self._per_endpoint: Counter[int] = Counter()
        self._slots: dict[int, asyncio.Semaphore] = {}
        self._saturated = False
        self._pruned_at = 0.0
        self._task: asyncio.Task[None] | None = None
        # Set by close, which also cancels the loop: a CI run hung once with close waiting for a loop
        # that went on after its cancellation (Python 3.11's asyncio.wait_for swallows a cancellation
        # that arrives as its awaitable completes, gh-86296; the wait below no longer uses it).
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stop; attempts cut short are due again at once (for another process, or the next start)."""
        self._closing = True
        self._wake.set()
        cut_short = list(self._in_flight.values())
        tasks = [task for task in [self._task, *self._in_flight] if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._release(cut_short)
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()
        await self._client.close()
        await self._engine.dispose()

    async def _release(self, claims: list[Any]) -> None:
        """Make claims due now rather than at their lease's end (a request may have gone out: at least once)."""
        if not claims:
            return
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(webhook_delivery_t)
                    .where(d.id == bindparam("claim"), d.attempts == bindparam("attempt"), d.status == "PENDING")
                    .values(next_attempt_at=utcnow()),
                    [{"claim": claim.id, "attempt": claim.attempts} for claim in claims],
                )
        except (OSError, TimeoutError, DBAPIError) as error:  # their leases end by themselves
            log.warning("webhook dispatch: could not release %d attempts (%s)", len(claims), error)

    async def _run(self) -> None:
        while not self._closing:
            self._wake.clear()  # before the round: a commit during it wakes the next one
            try:
                await self._listen()
                wait = await self._round()
                await self._prune()
            except (OSError, TimeoutError, DBAPIError) as error:
                log.warning("webhook dispatch: the database is unavailable (%s); trying again", error)
                wait = self._settings.webhook_poll_seconds
            except Exception:  # noqa: BLE001 - a bug: logged, and the dispatcher goes on
                log.exception("webhook dispatch round failed")
                wait = self._settings.webhook_poll_seconds
            if not self._settings.is_sqlite:
                # Other processes' commits wake us by NOTIFY, but a notification is lost when the
                # listening connection is; polling bounds how long that can delay a delivery.
                wait = (
                    min(wait, self._settings.webhook_poll_seconds)
                    if wait is not None
                    else self._settings.webhook_poll_seconds
                )
            with suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def _listen(self) -> None:
        """LISTEN on a connection of its own (PostgreSQL), opened again if it was lost."""
        if self._listen_dsn is None or (self._listener is not None and not self._listener.is_closed()):
            return
        self._listener = None
        try:
            listener = await asyncpg.connect(self._listen_dsn, timeout=5)
            await listener.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
        except (OSError, TimeoutError, asyncpg.PostgresError) as error:
            log.warning("webhook dispatch: cannot LISTEN (%s); polling", error)
            return
        self._listener = listener

    async def _round(self) -> float | None:
        """Claim and start what is due; seconds until the next retry is due (0: more may be due now)."""
        free = self._settings.webhook_concurrency - len(self._in_flight)
        bound = self._settings.webhook_endpoint_concurrency
        busy = [endpoint for endpoint, count in self._per_endpoint.items() if count >= bound]
        self._saturated = free <= 0
        if free <= 0:
            return None  # an attempt ending wakes the next round
        now = utcnow()
        lease_end = now + timedelta(seconds=self._settings.webhook_lease_seconds)
        async with self._engine.begin() as conn:
            claims = (
                await conn.execute(
                    _CLAIM, {"now": now, "busy": busy, "per_endpoint": bound, "limit": free, "lease_end": lease_end}
                )
            ).all()
        if claims:
            await self._start_attempts(claims)
            return 0.0 if len(claims) == free else await self._next_due(busy)
        return await self._next_due(busy)

    async def _next_due(self, busy: list[int]) -> float | None:
        async with self._engine.connect() as conn:
            due = (await conn.execute(_NEXT_DUE, {"busy": busy})).scalar()
        return None if due is None else max(0.0, (due - utcnow()).total_seconds())

    async def _start_attempts(self, claims: Sequence[Any]) -> None:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(webhook_endpoint_t).where(e.id.in_({c.endpoint_id for c in claims})))
            endpoints = {row.id: row for row in rows}
        claimed_at = time.monotonic()
        for claim in claims:
            self._per_endpoint[claim.endpoint_id] += 1
            task = asyncio.create_task(self._attempt(claim, endpoints[claim.endpoint_id], claimed_at))
            self._in_flight[task] = claim
            task.add_done_callback(functools.partial(self._ended, endpoint_id=claim.endpoint_id))

    def _ended(self, task: asyncio.Task[None], *, endpoint_id: int) -> None:
        self._in_flight.pop(task, None)
        self._per_endpoint[endpoint_id] -= 1
        if self._per_endpoint[endpoint_id] <= 0:
            del self._per_endpoint[endpoint_id]
            self._slots.pop(endpoint_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook attempt failed", exc_info=task.exception())
        if self._saturated or self._per_endpoint.get(endpoint_id, 0) == self._settings.webhook_endpoint_concurrency - 1:
            self._wake.set()  # a slot is free: claim again

    async def _attempt(self, claim: Any, endpoint: Any, claimed_at: float) -> None:
        """Send one claimed delivery (at most `webhook_endpoint_concurrency` at once per endpoint) and record it."""
        if not endpoint.is_enabled or endpoint.deleted_at is not None:
            return  # disabled after the claim: its deliveries were failed with it
        slots = self._slots.setdefault(endpoint.id, asyncio.Semaphore(self._settings.webhook_endpoint_concurrency))
        async with slots:
            # Why: past this point the attempt might outlive its lease, and another process would make it too.
            settings = self._settings
            if time.monotonic() - claimed_at > settings.webhook_lease_seconds - settings.webhook_timeout_seconds - 1:
                return  # left for the lease to end; claimed again then
            outcome = await self._client.post(endpoint.url, claim.body.encode(), self._headers(claim, endpoint))
        try:
            await self._record(claim, outcome)
        except (OSError, TimeoutError, DBAPIError) as error:  # the attempt is made again when its lease ends
            log.warning("webhook dispatch: could not record delivery %s (%s)", claim.id, error)

    def _headers(self, claim: Any, endpoint: Any) -> dict[str, str]:
        """Standard Webhooks headers: the event's id, this attempt's time, a v1 signature per live secret."""
        now = utcnow()
        secrets = [endpoint.secret]
        if (
            endpoint.previous_secret
            and endpoint.previous_secret_expires_at
            and endpoint.previous_secret_expires_at > now
        ):
            secrets.append(endpoint.previous_secret)
        signatures = [standardwebhooks.Webhook(secret).sign(claim.event_id, now, claim.body) for secret in secrets]
        return {
            "webhook-id": claim.event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": " ".join(signatures),
            "User-Agent": "inbox-webhooks/1",
        }

    async def _record(self, claim: Any, outcome: Outcome) -> None:
        now = utcnow()
        values: dict[str, Any] = {"last_status_code": outcome.status, "last_error": outcome.error}
        disable: str | None = None
        if outcome.status is not None and 200 <= outcome.status < 300:
            values.update(status="DELIVERED", next_attempt_at=None, delivered_at=now)
        elif outcome.status == 410:
            values.update(status="FAILED", next_attempt_at=None)
            disable = "The receiver answered 410 Gone."
        else:
            scale = self._settings.webhook_retry_scale
            retry_at = now + timedelta(seconds=retry_delay(claim.attempts, scale))
            if retry_at > claim.retry_since + RETRY_WINDOW * scale:
                values.update(status="FAILED", next_attempt_at=None)
                disable = f"Deliveries failed for three days; the last attempt: {outcome.error}"[:500]
            else:
                values.update(next_attempt_at=retry_at)
        async with self._engine.begin() as conn:
            recorded = await conn.execute(
                update(webhook_delivery_t)
                .where(d.id == claim.id, d.attempts == claim.attempts, d.status == "PENDING")
                .values(**values)
            )
            if recorded.rowcount and disable is not None:
                await conn.execute(
                    update(webhook_endpoint_t)
                    .where(e.id == claim.endpoint_id, e.is_enabled.is_(True))
                    .values(is_enabled=False, disabled_reason=disable)
                )
                await fail_pending(conn, claim.endpoint_id, "The endpoint was disabled: " + disable)
        if values.get("next_attempt_at") is not None:
            self._wake.set()  # the next round sleeps until this retry, not until the lease it replaced

    async def _prune(self) -> None:
        """Deliveries are kept KEEP_DELIVERIES; checked hourly, in batches that hold no lock for long."""
        if time.monotonic() - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = time.monotonic()
        cutoff = utcnow() - KEEP_DELIVERIES
        old = select(d.id).where(d.created_at < cutoff).limit(5000).scalar_subquery()
        while True:
            async with self._engine.begin() as conn:
                if not (await conn.execute(delete(webhook_delivery_t).where(d.id.in_(old)))).rowcount:
                    return


def _listen_dsn(settings: Settings) -> str | None:
    """Where to LISTEN: the database itself, never a pooler in transaction mode (a LISTEN there holds
    a server connection for a moment only). None (polling only): SQLite, or PgBouncer without
    INBOX_DATABASE_LISTEN_URL."""
    url = settings.database_listen_url or (None if settings.is_sqlite or settings.db_pooler else settings.database_url)
    if url is None:
        return None
    return make_url(url).set(drivername="postgresql", query={}).render_as_string(hide_password=False)
