"""Conversations: opening one (the single conversation per pair), locking it, and the viewer's folders (star,
archive, read)."""

from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Select, Update, bindparam, exists, func, insert, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import ErrorCode, RuleViolation, not_found
from core.viewer import CREATOR, SELLER, Viewer
from models.database import insert_ignoring_conflicts
from models.tables import block_t, conversation_t, creator_t, message_t, shop_t, state_t
from models.types import utcnow
from services import events, transactions
from services.runtime import Runtime


@lru_cache(maxsize=4)
def _locking_select(by_pair: bool, with_key: bool) -> Select[Any]:
    """The conversation row to lock, with what every send checks, in the same round trip:
    whether the shop blocks the creator, the shop's status, and the message an idempotency key
    was already used for (read at the statement's start: a racing retry that commits while we
    wait for the lock is caught by the unique key instead, and the caller retries).
    Built once per shape; the values are bound parameters."""
    c = conversation_t.c
    blocked = exists().where(block_t.c.shop_id == c.shop_id, block_t.c.creator_id == c.creator_id)
    shop_status = select(shop_t.c.status).where(shop_t.c.id == c.shop_id).scalar_subquery()
    previous = (select(message_t.c.id).where(message_t.c.sender_key == bindparam("sender_key"),
                                             message_t.c.client_message_id == bindparam("client_message_id"))
                .scalar_subquery() if with_key else null())
    match = ((c.shop_id == bindparam("shop"), c.creator_id == bindparam("creator")) if by_pair
             else (c.id == bindparam("conversation"),))
    return (select(conversation_t, blocked.label("blocked"), shop_status.label("shop_status"),
                   previous.label("previous_id")).where(*match).with_for_update(of=conversation_t))


async def _lock(conn: AsyncConnection, params: dict[str, Any], sender_key: str | None,
                client_message_id: str | None) -> Row[Any] | None:
    with_key = client_message_id is not None
    if with_key:
        params.update(sender_key=sender_key, client_message_id=client_message_id)
    return (await conn.execute(_locking_select("shop" in params, with_key), params)).first()


async def lock_conversation(conn: AsyncConnection, conversation_id: int, sender_key: str | None = None,
                            client_message_id: str | None = None) -> Row[Any] | None:
    """The conversation row, locked until commit (see `_locking_select` for its extra columns).

    Every write to a conversation takes this lock first, so its messages get ids in commit
    order and the per-conversation counters (five before a reply) are read and bumped atomically.
    """
    return await _lock(conn, {"conversation": conversation_id}, sender_key, client_message_id)


async def lock_pair(conn: AsyncConnection, shop_id: int, creator_id: int, sender_key: str | None = None,
                    client_message_id: str | None = None) -> Row[Any] | None:
    """The pair's conversation, locked as `lock_conversation` does, or None if there is none."""
    return await _lock(conn, {"shop": shop_id, "creator": creator_id}, sender_key, client_message_id)


async def find_conversation(conn: AsyncConnection, shop_id: int, creator_id: int) -> Row[Any] | None:
    return (await conn.execute(select(conversation_t).where(
        conversation_t.c.shop_id == shop_id, conversation_t.c.creator_id == creator_id))).first()


async def open_conversation(conn: AsyncConnection, shop_id: int, creator_id: int, entrance: str,
                            opened_by: str, sender_key: str | None = None,
                            client_message_id: str | None = None) -> tuple[Row[Any], bool]:
    """(locked conversation, opened now) for the pair, opening it if there is none.

    An existing conversation costs one round trip. Otherwise ON CONFLICT DO NOTHING makes two
    racing opens wait on the unique pair: exactly one inserts, the other finds its row. The
    entrance is recorded only by the one that opens.
    """
    existing = await lock_pair(conn, shop_id, creator_id, sender_key, client_message_id)
    if existing is not None:
        return existing, False
    now = utcnow()
    inserted = (await conn.execute(insert_ignoring_conflicts(
        conn, conversation_t, shop_id=shop_id, creator_id=creator_id, entrance=entrance, created_at=now,
        last_activity_at=now, creator_has_replied=False, seller_message_count=0,
    ).returning(conversation_t.c.id))).scalar()
    if inserted is not None:
        # A creator does not see a conversation a seller opened until its first message.
        await conn.execute(insert(state_t), [
            dict(conversation_id=inserted, side=SELLER, owner_id=shop_id, creator_id=creator_id, visible=True,
                 last_activity_at=now),
            dict(conversation_id=inserted, side=CREATOR, owner_id=creator_id, creator_id=creator_id,
                 visible=opened_by == CREATOR, last_activity_at=now),
        ])
    locked = await lock_pair(conn, shop_id, creator_id, sender_key, client_message_id)
    assert locked is not None, "inserted above, or by the open it raced"
    return locked, inserted is not None


async def is_blocked(conn: AsyncConnection, shop_id: int, creator_id: int) -> bool:
    return (await conn.execute(select(block_t.c.creator_id).where(
        block_t.c.shop_id == shop_id, block_t.c.creator_id == creator_id))).first() is not None


async def get_shop(conn: AsyncConnection, shop_id: int) -> Row[Any] | None:
    return (await conn.execute(select(shop_t).where(shop_t.c.id == shop_id))).first()


async def get_creator(conn: AsyncConnection, creator_id: int) -> Row[Any] | None:
    return (await conn.execute(select(creator_t).where(creator_t.c.id == creator_id))).first()


FLAGS = {"star": ("starred", True), "unstar": ("starred", False),
         "archive": ("archived", True), "unarchive": ("archived", False)}


async def start_conversation(rt: Runtime, viewer: Viewer, creator_id: int, entrance: str) -> int:
    """Find or open the seller's conversation with a creator; opening uses no outreach quota."""
    return await transactions.write(rt, lambda conn: _start(conn, viewer, creator_id, entrance))


async def _start(conn: AsyncConnection, viewer: Viewer, creator_id: int,
                 entrance: str) -> tuple[int, list[events.Event]]:
    existing = await find_conversation(conn, viewer.own_shop_id, creator_id)
    if existing is not None:
        return existing.id, []
    if await get_creator(conn, creator_id) is None:
        raise not_found("The creator", ["input", "creatorId"])
    if await is_blocked(conn, viewer.own_shop_id, creator_id):
        raise RuleViolation(ErrorCode.BLOCKED, "You have blocked this creator; unblock the creator first.")
    conversation, opened = await open_conversation(conn, viewer.own_shop_id, creator_id, entrance, SELLER)
    return conversation.id, [events.conversation_changed(conversation, creator=False)] if opened else []


async def _visible_conversation(conn: AsyncConnection, viewer: Viewer, conversation_id: int) -> Row[Any]:
    """The locked conversation, if the viewer may see it."""
    conversation = await lock_conversation(conn, conversation_id)
    if conversation is not None and viewer.owns(conversation.shop_id, conversation.creator_id):
        visible = (await conn.execute(select(state_t.c.visible).where(
            state_t.c.conversation_id == conversation_id, state_t.c.side == viewer.side))).scalar()
        if visible:
            return conversation
    raise not_found("The conversation", ["input", "conversationId"])


def _own_state(conversation_id: int, viewer: Viewer) -> Update:
    return update(state_t).where(state_t.c.conversation_id == conversation_id, state_t.c.side == viewer.side)


async def set_flag(rt: Runtime, viewer: Viewer, conversation_id: int, action: str) -> int:
    """Star, unstar, archive or unarchive on the viewer's side; a repeat changes nothing."""
    return await transactions.write(rt, lambda conn: _set_flag(conn, viewer, conversation_id, *FLAGS[action]))


async def _set_flag(conn: AsyncConnection, viewer: Viewer, conversation_id: int, column: str,
                    value: bool) -> tuple[int, list[events.Event]]:
    conversation = await _visible_conversation(conn, viewer, conversation_id)
    changed = (await conn.execute(_own_state(conversation_id, viewer)
                                  .where(state_t.c[column] != value).values({column: value}))).rowcount
    return conversation_id, [_own_side_changed(conversation, viewer)] if changed else []


async def mark_read(rt: Runtime, viewer: Viewer, conversation_id: int, up_to: int | None) -> int:
    """Move the viewer's read position forward to `up_to` (default: the newest message)."""
    return await transactions.write(rt, lambda conn: _mark_read(conn, viewer, conversation_id, up_to))


async def _mark_read(conn: AsyncConnection, viewer: Viewer, conversation_id: int,
                     up_to: int | None) -> tuple[int, list[events.Event]]:
    conversation = await _visible_conversation(conn, viewer, conversation_id)
    if up_to is None:
        up_to = conversation.last_message_id or 0
    elif not await _message_in(conn, conversation_id, up_to):
        raise not_found("The message", ["input", "upToMessageId"])
    unread = select(func.count()).select_from(message_t).where(
        message_t.c.conversation_id == conversation_id, message_t.c.id > up_to,
        message_t.c.sender_role == viewer.other_side).scalar_subquery()
    # The position only moves forward: an older message id changes nothing.
    changed = (await conn.execute(_own_state(conversation_id, viewer)
                                  .where(state_t.c.last_read_message_id < up_to)
                                  .values(last_read_message_id=up_to, unread_count=unread))).rowcount
    return conversation_id, [_own_side_changed(conversation, viewer)] if changed else []


async def _message_in(conn: AsyncConnection, conversation_id: int, message_id: int) -> bool:
    return (await conn.execute(select(message_t.c.id).where(
        message_t.c.id == message_id, message_t.c.conversation_id == conversation_id))).first() is not None


def _own_side_changed(conversation: Row[Any], viewer: Viewer) -> events.Event:
    """Only the viewer's side changed: tell the viewer's other tabs."""
    return events.conversation_changed(conversation, seller=viewer.is_seller, creator=not viewer.is_seller)
