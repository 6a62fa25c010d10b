"""Conversations: opening one (the single conversation per pair), locking it, and the viewer's folders (star, archive, read)."""

from functools import lru_cache

from sqlalchemy import ColumnElement, bindparam, exists, func, insert, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import ErrorCode, RuleViolation, not_found
from core.viewer import CREATOR, SELLER, Viewer
from models import Creator, Shop
from models.database import insert_ignoring_conflicts
from models.tables import block_t, conversation_t, creator_t, message_t, shop_block_t, shop_t, state_t
from models.types import utcnow
from services import events, transactions
from services.runtime import Runtime

# What a sender is told while a block holds. The other party's block comes first: lifting one's own
# block would not let the message through.
BLOCKED_BY_CREATOR = "This creator is not accepting messages from your shop."
BLOCKED_BY_SHOP = "This shop has blocked you, so you cannot message it."
UNBLOCK_CREATOR = "You have blocked this creator; unblock the creator first."
UNBLOCK_SHOP = "Unblock the shop first."


def block_flags(shop_id: ColumnElement[int] | int, creator_id: ColumnElement[int] | int) -> tuple:
    """Two columns for a pair (columns or bound parameters): `blocked`, the shop blocks the creator,
    and `blocked_by_creator`, the creator blocks the shop."""
    return (exists().where(block_t.c.shop_id == shop_id, block_t.c.creator_id == creator_id).label("blocked"),
            exists().where(shop_block_t.c.shop_id == shop_id, shop_block_t.c.creator_id == creator_id)
            .label("blocked_by_creator"))


def refuse_if_blocked(sender_role: str, blocked: bool, blocked_by_creator: bool,
                      by_shop: str = BLOCKED_BY_SHOP) -> None:
    """BLOCKED for a seller's or a creator's message while either block holds (`by_shop`: what a
    creator is told while the shop blocks it)."""
    if not (blocked or blocked_by_creator):
        return
    if sender_role == SELLER:
        raise RuleViolation(ErrorCode.BLOCKED, BLOCKED_BY_CREATOR if blocked_by_creator else UNBLOCK_CREATOR)
    raise RuleViolation(ErrorCode.BLOCKED, by_shop if blocked else UNBLOCK_SHOP)


@lru_cache(maxsize=4)
def _locking_select(by_pair: bool, with_key: bool):
    """The conversation row to lock, with what every send checks, in the same round trip:
    both block flags (`block_flags`), the shop's status, and the message an idempotency key
    was already used for (read at the statement's start: a racing retry that commits while we
    wait for the lock is caught by the unique key instead, and the caller retries).
    Built once per shape; the values are bound parameters.

    The flags too are read as of the statement's start, not after the lock wait: a send that
    waited for a block's transaction sees the block only in its next statement, so
    `messages.append_message` reads them again (PostgreSQL's READ COMMITTED: a locking read
    sees the newest version of the locked row, but other tables as of its snapshot)."""
    c = conversation_t.c
    shop_status = select(shop_t.c.status).where(shop_t.c.id == c.shop_id).scalar_subquery()
    previous = (select(message_t.c.id).where(message_t.c.sender_key == bindparam("sender_key"),
                                             message_t.c.client_message_id == bindparam("client_message_id"))
                .scalar_subquery() if with_key else null())
    match = ((c.shop_id == bindparam("shop"), c.creator_id == bindparam("creator")) if by_pair
             else (c.id == bindparam("conversation"),))
    return (select(conversation_t, *block_flags(c.shop_id, c.creator_id), shop_status.label("shop_status"),
                   previous.label("previous_id")).where(*match).with_for_update(of=conversation_t))


async def serialise_pair(conn: AsyncConnection, shop_id: int, creator_id: int) -> None:
    """Until commit, the pair's conversation opening and block changes take turns.

    Why: a block of a pair without a conversation has no row to lock, and an opening inserts a
    row the blocker cannot see before it commits, so each could miss the other and a first message
    land after the block committed. A transaction-scoped advisory lock on (shop, creator) orders
    them: whichever comes second reads the other's committed rows in its next statement. It is
    taken before any row lock of the pair and by no one holding one, so it cannot deadlock.
    PostgreSQL only: SQLite's BEGIN IMMEDIATE already runs one writer at a time.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_advisory_xact_lock(shop_id, creator_id)))


async def _lock(conn: AsyncConnection, params: dict, sender_key: str | None, client_message_id: str | None):
    with_key = client_message_id is not None
    if with_key:
        params.update(sender_key=sender_key, client_message_id=client_message_id)
    return (await conn.execute(_locking_select("shop" in params, with_key), params)).first()


async def lock_conversation(conn: AsyncConnection, conversation_id: int, sender_key: str | None = None,
                            client_message_id: str | None = None):
    """The conversation row, locked until commit (see `_locking_select` for its extra columns).

    Every write to a conversation takes this lock first, so its messages get ids in commit
    order and the per-conversation counters (five before a reply) are read and bumped atomically.
    """
    return await _lock(conn, {"conversation": conversation_id}, sender_key, client_message_id)


async def lock_pair(conn: AsyncConnection, shop_id: int, creator_id: int, sender_key: str | None = None,
                    client_message_id: str | None = None):
    """The pair's conversation, locked as `lock_conversation` does, or None if there is none."""
    return await _lock(conn, {"shop": shop_id, "creator": creator_id}, sender_key, client_message_id)


async def find_conversation(conn: AsyncConnection, shop_id: int, creator_id: int):
    return (await conn.execute(select(conversation_t).where(
        conversation_t.c.shop_id == shop_id, conversation_t.c.creator_id == creator_id))).first()


async def open_conversation(conn: AsyncConnection, shop_id: int, creator_id: int, entrance: str,
                            opened_by: str, sender_key: str | None = None,
                            client_message_id: str | None = None) -> tuple[object, bool]:
    """(locked conversation, opened now) for the pair, opening it if there is none.

    An existing conversation costs one round trip. Otherwise the opening takes its turn with the
    pair's block changes (`serialise_pair`), and ON CONFLICT DO NOTHING makes two racing opens
    wait on the unique pair: exactly one inserts, the other finds its row. The entrance is
    recorded only by the one that opens. The row's block flags are read after the turn was taken.
    """
    existing = await lock_pair(conn, shop_id, creator_id, sender_key, client_message_id)
    if existing is not None:
        return existing, False
    await serialise_pair(conn, shop_id, creator_id)
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
    return locked, inserted is not None


async def get_shop(conn: AsyncConnection, shop_id: int):
    return (await conn.execute(select(shop_t).where(Shop.id == shop_id))).first()


async def get_creator(conn: AsyncConnection, creator_id: int):
    return (await conn.execute(select(creator_t).where(Creator.id == creator_id))).first()


FLAGS = {"star": ("starred", True), "unstar": ("starred", False),
         "archive": ("archived", True), "unarchive": ("archived", False)}


async def start_conversation(rt: Runtime, viewer: Viewer, creator_id: int, entrance: str) -> int:
    """Find or open the seller's conversation with a creator; opening uses no outreach quota."""
    return await transactions.write(rt, lambda conn: _start(conn, viewer, creator_id, entrance))


async def _start(conn: AsyncConnection, viewer: Viewer, creator_id: int, entrance: str):
    existing = await find_conversation(conn, viewer.shop_id, creator_id)
    if existing is not None:
        return existing.id, []
    if await get_creator(conn, creator_id) is None:
        raise not_found("The creator", ["input", "creatorId"])
    conversation, opened = await open_conversation(conn, viewer.shop_id, creator_id, entrance, SELLER)
    if not opened:  # a racing start opened it: found, as an existing one is
        return conversation.id, []
    # The flags were read after the opening took its turn (`serialise_pair`); refusing rolls the opening back.
    refuse_if_blocked(SELLER, conversation.blocked, conversation.blocked_by_creator)
    return conversation.id, [events.conversation_changed(conversation, creator=False)]


async def _visible_conversation(conn: AsyncConnection, viewer: Viewer, conversation_id: int):
    """The locked conversation, if the viewer may see it."""
    conversation = await lock_conversation(conn, conversation_id)
    if conversation is not None and viewer.owns(conversation.shop_id, conversation.creator_id):
        visible = (await conn.execute(select(state_t.c.visible).where(
            state_t.c.conversation_id == conversation_id, state_t.c.side == viewer.side))).scalar()
        if visible:
            return conversation
    raise not_found("The conversation", ["input", "conversationId"])


def _own_state(conversation_id: int, viewer: Viewer):
    return update(state_t).where(state_t.c.conversation_id == conversation_id, state_t.c.side == viewer.side)


async def set_flag(rt: Runtime, viewer: Viewer, conversation_id: int, action: str) -> int:
    """Star, unstar, archive or unarchive on the viewer's side; a repeat changes nothing."""
    return await transactions.write(rt, lambda conn: _set_flag(conn, viewer, conversation_id, *FLAGS[action]))


async def _set_flag(conn: AsyncConnection, viewer: Viewer, conversation_id: int, column: str, value: bool):
    conversation = await _visible_conversation(conn, viewer, conversation_id)
    changed = (await conn.execute(_own_state(conversation_id, viewer)
                                  .where(state_t.c[column] != value).values({column: value}))).rowcount
    return conversation_id, [_own_side_changed(conversation, viewer)] if changed else []


async def mark_read(rt: Runtime, viewer: Viewer, conversation_id: int, up_to: int | None) -> int:
    """Move the viewer's read position forward to `up_to` (default: the newest message)."""
    return await transactions.write(rt, lambda conn: _mark_read(conn, viewer, conversation_id, up_to))


async def _mark_read(conn: AsyncConnection, viewer: Viewer, conversation_id: int, up_to: int | None):
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


def _own_side_changed(conversation, viewer: Viewer) -> events.Event:
    """Only the viewer's side changed: tell the viewer's other tabs."""
    return events.conversation_changed(conversation, seller=viewer.is_seller, creator=not viewer.is_seller)
