"""Bulk messages: one message to up to 100 creators, every rule applied per creator."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.config import Settings
from core.errors import ErrorCode, RateLimited, RuleViolation, invalid, not_found
from core.viewer import SELLER, Viewer
from models.tables import message_t
from services import events, transactions
from services.content import Content
from services.conversations import get_creator, open_conversation
from services.messages import append_message, check_may_send, read_by_other_side
from services.runtime import Runtime

# Creators one bulk send may reach.
BULK_LIMIT = 100


@dataclass(frozen=True)
class BulkOutcome:
    creator_id: int
    message: Row[Any] | None = None
    error: RuleViolation | None = None
    read_by_other_side: bool = False  # the creator has read the message (one sent earlier under the batch key)


async def send_bulk(
    rt: Runtime, viewer: Viewer, creator_ids: list[int], content: Content, batch_id: str
) -> list[BulkOutcome]:
    """Per-creator outcomes, in the order given; one creator's failure does not stop the others.

    A batch-wide refusal (too many creators, a reused batch key) raises instead.
    """
    if not 1 <= len(creator_ids) <= BULK_LIMIT or len(set(creator_ids)) != len(creator_ids):
        raise invalid(f"Give 1 to {BULK_LIMIT} different creators.", ["input", "creatorIds"])
    await _take_recipients(rt, viewer, len(creator_ids))
    await _check_batch_key(rt, viewer, content, batch_id)
    return [await _send_one(rt, viewer, creator_id, content, batch_id) for creator_id in creator_ids]


async def _take_recipients(rt: Runtime, viewer: Viewer, count: int) -> None:
    """One token of the principal's bulk bucket per recipient, all or none: a bulk send is as many
    messages as it has creators, so it must not cost what one message costs."""
    verdict = await rt.rate_limits.take(viewer.principal, "bulk", count)
    if not verdict.allowed:
        raise RuleViolation(ErrorCode.RATE_LIMITED, RateLimited(verdict.retry_after).message)


async def _check_batch_key(rt: Runtime, viewer: Viewer, content: Content, batch_id: str) -> None:
    async with rt.reader.connect() as conn:
        earlier = (
            await conn.execute(
                select(message_t)
                .where(message_t.c.sender_key == viewer.principal, message_t.c.client_batch_id == batch_id)
                .limit(1)
            )
        ).first()
    if earlier is not None and not content.matches(earlier):
        raise invalid(
            "This clientBatchId was already used for another message; use a new key.", ["input", "clientBatchId"]
        )


async def _send_one(rt: Runtime, viewer: Viewer, creator_id: int, content: Content, batch_id: str) -> BulkOutcome:
    """One creator's own transaction: a refusal for this creator does not stop the others."""
    try:
        message, read = await transactions.write(
            rt, lambda conn: _deliver(conn, rt.settings, viewer, creator_id, content, batch_id)
        )
    except RuleViolation as error:
        return BulkOutcome(creator_id, error=error)
    return BulkOutcome(creator_id, message=message, read_by_other_side=read)


async def _deliver(
    conn: AsyncConnection, settings: Settings, viewer: Viewer, creator_id: int, content: Content, batch_id: str
) -> tuple[tuple[Row[Any], bool], list[events.Event]]:
    """((message, read by the creator), events) for one creator of the batch: the message sent earlier
    under the batch key, if any."""
    if await get_creator(conn, creator_id) is None:
        raise not_found("The creator", ["input", "creatorIds"])
    conversation, _ = await open_conversation(conn, viewer.own_shop_id, creator_id, "BULK_MESSAGE", SELLER)
    earlier = (
        await conn.execute(
            select(message_t).where(
                message_t.c.sender_key == viewer.principal,
                message_t.c.client_batch_id == batch_id,
                message_t.c.conversation_id == conversation.id,
            )
        )
    ).first()
    if earlier is not None:
        return (earlier, await read_by_other_side(conn, viewer, earlier)), []
    await check_may_send(conn, settings, viewer, conversation, content)
    message = await append_message(
        conn, conversation, SELLER, content, sender_key=viewer.principal, client_batch_id=batch_id
    )
    return (message, False), [events.message_added(conversation, message)]
