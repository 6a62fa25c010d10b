"""The live delivery of a viewer's subscriptions: broker events in, what the viewer may see out.

Broker events are only hints that a conversation changed; the database is the source of
truth. For each conversation the stream remembers the newest message it delivered and,
on a hint, reads every newer message in id order. So messages of one conversation always
arrive in order and once, even when their events arrive late, twice or not at all.

Typing indicators are the exception: ephemeral, never stored, they are the events themselves."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Row, Select, and_, bindparam, select

from core.errors import (
    ErrorCode,
    RuleViolation,
    ShopInactive,
    SlowConsumerError,
    not_found,
)
from core.indicators import Change
from core.viewer import Viewer
from models.tables import conversation_t, shop_t, state_t
from services import blocks, catalog, events, inbox, messages
from services.events import creator_channel, shop_channel, typing_channel
from services.inbox import MessageRecord, message_record
from services.runtime import Runtime
from subscriptions import RESYNC, SYSTEM_CHANNEL, SlowConsumer


def viewer_channels(viewer: Viewer, typing: bool = False) -> list[str]:
    """The viewer's own channel (or its typing channel); sellers also hear shop status changes on the
    system channel."""
    own = shop_channel(viewer.own_shop_id) if viewer.is_seller else creator_channel(viewer.own_creator_id)
    if typing:
        own = typing_channel(own)
    return [own, SYSTEM_CHANNEL] if viewer.is_seller else [own]


async def _events(rt: Runtime, viewer: Viewer, typing: bool = False) -> AsyncIterator[dict[str, Any]]:
    """The viewer's broker events (or its typing events); ends the stream when the seller's shop
    becomes inactive. Refused (TooManySubscriptions) when the principal holds as many subscriptions
    as allowed."""
    try:
        settings = rt.settings
        # Without Redis, an import in another process cannot tell us a shop closed: sellers poll.
        # (asyncio.timeout, not wait_for: no extra task per idle subscription; no timer for creators.)
        poll_seconds = settings.shop_status_check_seconds if viewer.is_seller else None
        # One of the principal's subscriptions (capped across its sockets) for as long as the stream lives.
        channels = viewer_channels(viewer, typing)
        async with (
            rt.sockets.subscription(viewer.principal),
            rt.broker.subscribe(channels, maxsize=settings.subscription_queue_size) as sub,
        ):
            yield RESYNC  # subscribed: the caller may now read the database without a gap
            while True:
                try:
                    async with asyncio.timeout(poll_seconds):
                        event = await anext(sub)
                except TimeoutError:
                    await _check_shop(rt, viewer)
                    continue
                except StopAsyncIteration:
                    return
                if event.get("type") == "shop_status":
                    if event["shop_id"] == viewer.shop_id:
                        await _check_shop(rt, viewer)
                    continue
                yield event
    except SlowConsumer:
        raise SlowConsumerError("The subscription fell too far behind; resubscribe with `after`.") from None


async def _check_shop(rt: Runtime, viewer: Viewer) -> None:
    if viewer.is_seller:
        if await catalog.shop_status(rt.reader, viewer.own_shop_id) != "ACTIVE":
            raise ShopInactive("The shop is no longer active; its sellers lost access to messages.")


async def message_rows(
    rt: Runtime, viewer: Viewer, conversation_id: int | None, after: int | None
) -> AsyncIterator[Row[Any] | MessageRecord]:
    """Message rows for `messageAdded`: the replay after the cursor, then live, gap-free."""
    delivered: dict[int, int] = {}  # conversation id -> newest message id delivered
    floor = after
    async for event in _events(rt, viewer):
        rows: Sequence[Row[Any] | MessageRecord]
        if event.get("type") == RESYNC["type"]:
            if floor is None:  # no cursor: start from what exists when the subscription began
                floor = await _newest_message_id(rt)
                continue
            rows = await _read_after(rt, viewer, floor, conversation_id)
        elif event.get("type") == "message" and conversation_id in (None, event["conversation_id"]):
            assert floor is not None, "_events yields RESYNC first"
            last = delivered.get(event["conversation_id"], floor)
            if event["message_id"] <= last:
                continue  # already delivered (a late or repeated event)
            if _follows(event, last, event["conversation_id"] in delivered):
                rows = [message_record(event["message"])]
            else:  # something in between is missing: the database has it
                rows = await _read_after(rt, viewer, last, event["conversation_id"])
        else:
            continue
        for row in rows:
            if row.id > delivered.get(row.conversation_id, floor):
                delivered[row.conversation_id] = row.id
                yield row


def _follows(event: dict[str, Any], last: int, seen: bool) -> bool:
    """Whether the event's message comes right after what the stream delivered in its conversation:
    the message before it is the last one delivered, or none, or older than the stream's start."""
    previous = event.get("previous_id")
    if previous is None:
        return True
    return previous == last if seen else previous <= last


async def _newest_message_id(rt: Runtime) -> int:
    # A function of its own: a connection bound in the generator's frame would live as long as the stream.
    async with rt.reader.connect() as conn:
        return await messages.newest_message_id(conn)


async def _read_after(rt: Runtime, viewer: Viewer, after: int, conversation_id: int | None) -> list[Row[Any]]:
    """Every visible message after `after` (in one conversation, or all), read in batches."""
    rows: list[Row[Any]] = []
    batch: Sequence[Row[Any]] | None = None
    async with rt.reader.connect() as conn:
        while batch is None or len(batch) == 500:
            batch = await messages.visible_messages_after(conn, viewer, after, conversation_id)
            rows.extend(batch)
            after = batch[-1].id if batch else after
    return rows


async def conversation_ids(rt: Runtime, viewer: Viewer) -> AsyncIterator[list[int]]:
    """Ids of the viewer's conversations as they change, for `conversationUpdated`: those of one
    event at a time (one conversation, or a batch of those marked read together)."""
    async for event in _events(rt, viewer):
        kind = event.get("type")
        if kind in ("message", "conversation"):
            yield [event["conversation_id"]]
        elif kind == "conversations":
            yield event["conversation_ids"]


async def typing_events(rt: Runtime, viewer: Viewer, conversation_id: int | None) -> AsyncIterator[dict]:
    """The other sides' typing events in the viewer's conversations (or in one), for `typing`."""
    async for event in _events(rt, viewer, typing=True):
        if event.get("type") == "typing" and conversation_id in (None, event["conversation_id"]):
            yield event


def _typing_target() -> Select:
    """The conversation if the viewer's side sees it, with what a report checks: the shop's status,
    a block either way, and whether the other side sees the conversation yet."""
    c, own, other = conversation_t.c, state_t.alias("own"), state_t.alias("other")
    shop_status = select(shop_t.c.status).where(shop_t.c.id == c.shop_id).scalar_subquery()
    return (
        select(
            c.id,
            c.shop_id,
            c.creator_id,
            shop_status.label("shop_status"),
            blocks.blocked_either_way(c.shop_id, c.creator_id).label("blocked"),
            other.c.visible.label("other_sees"),
        )
        .select_from(conversation_t)
        .join(own, and_(own.c.conversation_id == c.id, own.c.side == bindparam("side")))
        .join(other, and_(other.c.conversation_id == c.id, other.c.side != bindparam("side")))
        .where(c.id == bindparam("conversation"), inbox.owned(own.c), own.c.visible)
    )


_TYPING_TARGET = _typing_target()


async def report_typing(rt: Runtime, viewer: Viewer, conversation_id: int, is_typing: bool) -> None:
    """Tell the other side that the viewer's side is typing (or stopped); nothing is stored.
    A repeat within 2 s is accepted and not told again (the typing gate, in `Runtime.publish`)."""
    params = {"conversation": conversation_id, "side": viewer.side, "owner": viewer.owner_id}
    async with rt.reader.connect() as conn:
        target = (await conn.execute(_TYPING_TARGET, params)).first()
    if target is None:
        raise not_found("The conversation", ["input", "conversationId"])
    if not viewer.is_seller and target.shop_status != "ACTIVE":
        raise RuleViolation(ErrorCode.FORBIDDEN, "This shop can no longer receive creator messages.")
    if target.blocked:
        raise RuleViolation(ErrorCode.BLOCKED, "Typing is not shared while this conversation is blocked.")
    if target.other_sees:  # a creator sees a conversation a seller opened only from its first message
        await rt.publish([events.typing(target, viewer.role, Change.START if is_typing else Change.STOP)])
