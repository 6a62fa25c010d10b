"""The one write path: a unit of work in one transaction, its events published after the commit."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.events import Event
from services.runtime import Runtime

# services/webhooks.py sets it on a connection whose transaction wrote webhook deliveries.
OUTBOX_WRITTEN = "webhooks.outbox_written"

T = TypeVar("T")
Work = Callable[[AsyncConnection], Awaitable[tuple[T, list[Event]]]]


async def write(rt: Runtime, work: Work[T]) -> T:
    """Run `work` in a transaction and, once it committed, publish the events it returned.

    Row locks order the writers of one conversation, but not two requests that carry the same
    idempotency key into different rows: the unique key catches the later one, whose
    transaction is rolled back and whose work runs once more, finding and comparing the row
    that won. Events go out only after the commit, so no one hears of a change that did not
    happen; a process dying between the two costs live delivery only (clients resume from
    the database). Webhook deliveries are rows of the transaction itself (services/webhooks.py):
    after the commit this process's dispatcher is woken to send them.
    """
    for attempt in range(2):
        try:
            async with rt.engine.begin() as conn:
                conn.info.pop(OUTBOX_WRITTEN, None)  # the pooled connection's dict outlives a rolled-back use
                result, published = await work(conn)
                outbox_written = conn.info.pop(OUTBOX_WRITTEN, False)
            break
        except IntegrityError:
            if attempt:
                raise
    if outbox_written:
        rt.webhooks_due.set()
    await rt.publish(published)
    return result
