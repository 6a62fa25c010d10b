"""The subscription streams: broker events in, rows the viewer may see out, nothing lost.

Broker events are only hints that a conversation changed; the database is the source of
truth. For each conversation the stream remembers the newest message it delivered and,
on a hint, reads every newer message in id order. So messages of one conversation always
arrive in order and once, even when their events arrive late, twice or not at all.
"""

import asyncio
from collections.abc import AsyncIterator

from resolvers.context import Context
from services import history
from services.inbox import message_record
from services.errors import InboxError, ShopInactive
from services.events import creator_channel, shop_channel
from subscriptions import RESYNC, SYSTEM_CHANNEL, SlowConsumer


class SlowConsumerError(InboxError):
    code = "SLOW_CONSUMER"


def viewer_channels(ctx: Context) -> list[str]:
    """The viewer's own channel; sellers also hear shop status changes on the system channel."""
    viewer = ctx.viewer
    if viewer.is_seller:
        return [shop_channel(viewer.shop_id), SYSTEM_CHANNEL]
    return [creator_channel(viewer.creator_id)]


async def _events(ctx: Context) -> AsyncIterator[dict]:
    """The viewer's broker events; ends the stream when the seller's shop becomes inactive.
    Refused (TooManySubscriptions) when the principal holds as many subscriptions as allowed."""
    viewer = ctx.viewer
    try:
        settings = ctx.settings
        # Without Redis, an import in another process cannot tell us a shop closed: sellers poll.
        # (asyncio.timeout, not wait_for: no extra task per idle subscription; no timer for creators.)
        poll_seconds = settings.shop_status_check_seconds if viewer.is_seller else None
        # One of the principal's subscriptions (capped across its sockets) for as long as the stream lives.
        async with (ctx.app.sockets.subscription(viewer.principal),
                    ctx.app.broker.subscribe(viewer_channels(ctx), maxsize=settings.subscription_queue_size) as sub):
            yield RESYNC  # subscribed: the caller may now read the database without a gap
            while True:
                try:
                    async with asyncio.timeout(poll_seconds):
                        event = await anext(sub)
                except TimeoutError:
                    await _check_shop(ctx)
                    continue
                except StopAsyncIteration:
                    return
                if event.get("type") == "shop_status":
                    if event["shop_id"] == viewer.shop_id:
                        await _check_shop(ctx)
                    continue
                yield event
    except SlowConsumer:
        raise SlowConsumerError("The subscription fell too far behind; resubscribe with `after`.") from None


async def _check_shop(ctx: Context) -> None:
    if ctx.viewer.is_seller:
        if await history.shop_status(ctx.reader, ctx.viewer.shop_id) != "ACTIVE":
            raise ShopInactive("The shop is no longer active; its sellers lost access to messages.")


async def message_rows(ctx: Context, conversation_id: int | None, after: int | None) -> AsyncIterator:
    """Message rows for `messageAdded`: the replay after the cursor, then live, gap-free."""
    delivered: dict[int, int] = {}  # conversation id -> newest message id delivered
    floor = after
    async for event in _events(ctx):
        if event.get("type") == RESYNC["type"]:
            if floor is None:  # no cursor: start from what exists when the subscription began
                floor = await _newest_message_id(ctx)
                continue
            rows = await _read_after(ctx, floor, conversation_id)
        elif event.get("type") == "message" and conversation_id in (None, event["conversation_id"]):
            last = delivered.get(event["conversation_id"], floor)
            if event["message_id"] <= last:
                continue  # already delivered (a late or repeated event)
            if _follows(event, last, event["conversation_id"] in delivered):
                rows = [message_record(event["message"])]
            else:  # something in between is missing: the database has it
                rows = await _read_after(ctx, last, event["conversation_id"])
        else:
            continue
        for row in rows:
            if row.id > delivered.get(row.conversation_id, floor):
                delivered[row.conversation_id] = row.id
                yield row


def _follows(event: dict, last: int, seen: bool) -> bool:
    """Whether the event's message comes right after what the stream delivered in its conversation:
    the message before it is the last one delivered, or none, or older than the stream's start."""
    previous = event.get("previous_id")
    if previous is None:
        return True
    return previous == last if seen else previous <= last


async def _newest_message_id(ctx: Context) -> int:
    # A function of its own: a connection bound in the generator's frame would live as long as the stream.
    async with ctx.connect() as conn:
        return await history.newest_message_id(conn)


async def _read_after(ctx: Context, after: int, conversation_id: int | None) -> list:
    """Every visible message after `after` (in one conversation, or all), read in batches."""
    rows, batch = [], None
    async with ctx.connect() as conn:
        while batch is None or len(batch) == 500:
            batch = await history.visible_messages_after(conn, ctx.viewer, after, conversation_id)
            rows.extend(batch)
            after = batch[-1].id if batch else after
    return rows


async def conversation_ids(ctx: Context) -> AsyncIterator[int]:
    """Ids of the viewer's conversations as they change, for `conversationUpdated`."""
    async for event in _events(ctx):
        if event.get("type") in ("message", "conversation"):
            yield event["conversation_id"]
