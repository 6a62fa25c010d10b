"""Conversations: opening one (the single conversation per pair), locking it, and the viewer's folders
(star, archive, read: one conversation, many, or a whole folder)."""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import ErrorCode, RuleViolation, invalid, not_found
from core.viewer import CREATOR, SELLER, Viewer
from models.database import insert_ignoring_conflicts
from models.tables import (
    block_t,
    conversation_t,
    creator_t,
    message_t,
    shop_block_t,
    shop_t,
    state_t,
)
from models.types import UtcDateTime, utcnow
from services import events, inbox, transactions, webhooks
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
    return (
        exists().where(block_t.c.shop_id == shop_id, block_t.c.creator_id == creator_id).label("blocked"),
        exists()
        .where(shop_block_t.c.shop_id == shop_id, shop_block_t.c.creator_id == creator_id)
        .label("blocked_by_creator"),
    )


def refuse_if_blocked(
    sender_role: str, blocked: bool, blocked_by_creator: bool, by_shop: str = BLOCKED_BY_SHOP
) -> None:
    """BLOCKED for a seller's or a creator's message while either block holds (`by_shop`: what a
    creator is told while the shop blocks it)."""
    if not (blocked or blocked_by_creator):
        return
    if sender_role == SELLER:
        raise RuleViolation(ErrorCode.BLOCKED, BLOCKED_BY_CREATOR if blocked_by_creator else UNBLOCK_CREATOR)
    raise RuleViolation(ErrorCode.BLOCKED, by_shop if blocked else UNBLOCK_SHOP)


@lru_cache(maxsize=4)
def _locking_select(by_pair: bool, with_key: bool) -> Select[Any]:
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
    previous = (
        select(message_t.c.id)
        .where(
            message_t.c.sender_key == bindparam("sender_key"),
            message_t.c.client_message_id == bindparam("client_message_id"),
        )
        .scalar_subquery()
        if with_key
        else null()
    )
    match = (
        (c.shop_id == bindparam("shop"), c.creator_id == bindparam("creator"))
        if by_pair
        else (c.id == bindparam("conversation"),)
    )
    return (
        select(
            conversation_t,
            *block_flags(c.shop_id, c.creator_id),
            shop_status.label("shop_status"),
            previous.label("previous_id"),
        )
        .where(*match)
        .with_for_update(of=conversation_t)
    )


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


async def _lock(
    conn: AsyncConnection, params: dict[str, Any], sender_key: str | None, client_message_id: str | None
) -> Row[Any] | None:
    with_key = client_message_id is not None
    if with_key:
        params.update(sender_key=sender_key, client_message_id=client_message_id)
    return (await conn.execute(_locking_select("shop" in params, with_key), params)).first()


async def lock_conversation(
    conn: AsyncConnection, conversation_id: int, sender_key: str | None = None, client_message_id: str | None = None
) -> Row[Any] | None:
    """The conversation row, locked until commit (see `_locking_select` for its extra columns).

    Every write to a conversation takes this lock first, so its messages get ids in commit
    order and the per-conversation counters (five before a reply) are read and bumped atomically.
    """
    return await _lock(conn, {"conversation": conversation_id}, sender_key, client_message_id)


async def lock_pair(
    conn: AsyncConnection,
    shop_id: int,
    creator_id: int,
    sender_key: str | None = None,
    client_message_id: str | None = None,
) -> Row[Any] | None:
    """The pair's conversation, locked as `lock_conversation` does, or None if there is none."""
    return await _lock(conn, {"shop": shop_id, "creator": creator_id}, sender_key, client_message_id)


async def find_conversation(conn: AsyncConnection, shop_id: int, creator_id: int) -> Row[Any] | None:
    return (
        await conn.execute(
            select(conversation_t).where(conversation_t.c.shop_id == shop_id, conversation_t.c.creator_id == creator_id)
        )
    ).first()


async def open_conversation(
    conn: AsyncConnection,
    shop_id: int,
    creator_id: int,
    entrance: str,
    opened_by: str,
    sender_key: str | None = None,
    client_message_id: str | None = None,
) -> tuple[Row[Any], bool]:
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
    inserted = (
        await conn.execute(
            insert_ignoring_conflicts(
                conn,
                conversation_t,
                shop_id=shop_id,
                creator_id=creator_id,
                entrance=entrance,
                created_at=now,
                last_activity_at=now,
                creator_has_replied=False,
                seller_message_count=0,
            ).returning(conversation_t.c.id)
        )
    ).scalar()
    if inserted is not None:
        # A creator does not see a conversation a seller opened until its first message.
        await conn.execute(
            insert(state_t),
            [
                dict(
                    conversation_id=inserted,
                    side=SELLER,
                    owner_id=shop_id,
                    creator_id=creator_id,
                    visible=True,
                    last_activity_at=now,
                ),
                dict(
                    conversation_id=inserted,
                    side=CREATOR,
                    owner_id=creator_id,
                    creator_id=creator_id,
                    visible=opened_by == CREATOR,
                    last_activity_at=now,
                ),
            ],
        )
    locked = await lock_pair(conn, shop_id, creator_id, sender_key, client_message_id)
    assert locked is not None, "inserted above, or by the open it raced"
    if inserted is not None:
        await webhooks.conversation_started(conn, locked)
    return locked, inserted is not None


async def get_shop(conn: AsyncConnection, shop_id: int) -> Row[Any] | None:
    return (await conn.execute(select(shop_t).where(shop_t.c.id == shop_id))).first()


async def get_creator(conn: AsyncConnection, creator_id: int) -> Row[Any] | None:
    return (await conn.execute(select(creator_t).where(creator_t.c.id == creator_id))).first()


FLAGS = {
    "star": ("starred", True),
    "unstar": ("starred", False),
    "archive": ("archived", True),
    "unarchive": ("archived", False),
}


async def start_conversation(rt: Runtime, viewer: Viewer, creator_id: int, entrance: str) -> int:
    """Find or open the seller's conversation with a creator; opening uses no outreach quota."""
    return await transactions.write(rt, lambda conn: _start(conn, viewer, creator_id, entrance))


async def _start(
    conn: AsyncConnection, viewer: Viewer, creator_id: int, entrance: str
) -> tuple[int, list[events.Event]]:
    existing = await find_conversation(conn, viewer.own_shop_id, creator_id)
    if existing is not None:
        return existing.id, []
    if await get_creator(conn, creator_id) is None:
        raise not_found("The creator", ["input", "creatorId"])
    conversation, opened = await open_conversation(conn, viewer.own_shop_id, creator_id, entrance, SELLER)
    if not opened:  # a racing start opened it: found, as an existing one is
        return conversation.id, []
    # The flags were read after the opening took its turn (`serialise_pair`); refusing rolls the opening back.
    refuse_if_blocked(SELLER, conversation.blocked, conversation.blocked_by_creator)
    return conversation.id, [events.conversation_changed(conversation, creator=False)]


async def _visible_conversation(conn: AsyncConnection, viewer: Viewer, conversation_id: int) -> Row[Any]:
    """The locked conversation, if the viewer may see it."""
    conversation = await lock_conversation(conn, conversation_id)
    if conversation is not None and viewer.owns(conversation.shop_id, conversation.creator_id):
        visible = (
            await conn.execute(
                select(state_t.c.visible).where(
                    state_t.c.conversation_id == conversation_id, state_t.c.side == viewer.side
                )
            )
        ).scalar()
        if visible:
            return conversation
    raise not_found("The conversation", ["input", "conversationId"])


def read_time(now: ColumnElement[Any]) -> ColumnElement[Any]:
    """The read time a move forward of a side's position writes: `now`, unless the row already holds
    a later one (a racing mark whose clock read came later, or another server's clock), so that
    otherSideLastReadAt never goes back."""
    at = state_t.c.last_read_at
    return case((at.is_(None) | (at < now), now), else_=at)


def _own_state(conversation_id: int, viewer: Viewer) -> Update:
    return update(state_t).where(state_t.c.conversation_id == conversation_id, state_t.c.side == viewer.side)


async def set_flag(rt: Runtime, viewer: Viewer, conversation_id: int, action: str) -> int:
    """Star, unstar, archive or unarchive on the viewer's side; a repeat changes nothing."""
    return await transactions.write(rt, lambda conn: _set_flag(conn, viewer, conversation_id, *FLAGS[action]))


async def _set_flag(
    conn: AsyncConnection, viewer: Viewer, conversation_id: int, column: str, value: bool
) -> tuple[int, list[events.Event]]:
    conversation = await _visible_conversation(conn, viewer, conversation_id)
    changed = (
        await conn.execute(
            _own_state(conversation_id, viewer).where(state_t.c[column] != value).values({column: value})
        )
    ).rowcount
    return conversation_id, [_own_side_changed(conversation, viewer)] if changed else []


async def mark_read(rt: Runtime, viewer: Viewer, conversation_id: int, up_to: int | None) -> int:
    """Move the viewer's read position forward to `up_to` (default: the newest message)."""
    return await transactions.write(rt, lambda conn: _mark_read(conn, viewer, conversation_id, up_to))


async def _mark_read(
    conn: AsyncConnection, viewer: Viewer, conversation_id: int, up_to: int | None
) -> tuple[int, list[events.Event]]:
    conversation = await _visible_conversation(conn, viewer, conversation_id)
    if up_to is None:
        up_to = conversation.last_message_id or 0
    elif not await _message_in(conn, conversation_id, up_to):
        raise not_found("The message", ["input", "upToMessageId"])
    unread = (
        select(func.count())
        .select_from(message_t)
        .where(
            message_t.c.conversation_id == conversation_id,
            message_t.c.id > up_to,
            message_t.c.sender_role == viewer.other_side,
        )
        .scalar_subquery()
    )
    # The position only moves forward: an older message id changes nothing, its time included.
    changed = (
        await conn.execute(
            _own_state(conversation_id, viewer)
            .where(state_t.c.last_read_message_id < up_to)
            .values(
                last_read_message_id=up_to,
                unread_count=unread,
                last_read_at=read_time(literal(utcnow(), UtcDateTime())),
            )
        )
    ).rowcount
    # Both sides hear of it: the viewer's other tabs, and the other side's read receipts.
    return conversation_id, [events.conversation_changed(conversation)] if changed else []


async def _message_in(conn: AsyncConnection, conversation_id: int, message_id: int) -> bool:
    return (
        await conn.execute(
            select(message_t.c.id).where(message_t.c.id == message_id, message_t.c.conversation_id == conversation_id)
        )
    ).first() is not None


def _own_side_changed(conversation: Row[Any], viewer: Viewer) -> events.Event:
    """Only the viewer's side changed: tell the viewer's other tabs."""
    return events.conversation_changed(conversation, seller=viewer.is_seller, creator=not viewer.is_seller)


MARK_MANY_LIMIT = 100


def check_mark_many(count: int) -> None:
    """More ids than one markConversationsRead takes, counted as given (duplicates included):
    refused as a whole, before any id is read."""
    if count > MARK_MANY_LIMIT:
        raise invalid(f"Give at most {MARK_MANY_LIMIT} conversations.", ["input", "conversationIds"])


@dataclass(frozen=True)
class MarkedMany:
    conversation_ids: list[int]  # those the viewer sees, in the order given, once each
    errors: list[RuleViolation]  # NOT_FOUND for each index of an id the viewer cannot see


async def mark_many_read(rt: Runtime, viewer: Viewer, conversation_ids: list[int]) -> MarkedMany:
    """Mark each of the conversations read up to its newest message, in one transaction."""
    check_mark_many(len(conversation_ids))
    return await transactions.write(rt, lambda conn: _mark_many(conn, viewer, conversation_ids))


async def _mark_many(
    conn: AsyncConnection, viewer: Viewer, conversation_ids: list[int]
) -> tuple[MarkedMany, list[events.Event]]:
    wanted = list(dict.fromkeys(conversation_ids))
    locked = (
        (await conn.execute(_lock_visible(viewer.side), {"owner": viewer.owner_id, "ids": wanted})).all()
        if wanted
        else []
    )
    moved: set[int] = set()
    if locked:
        moved = set(
            (
                await conn.execute(_read_to_newest(viewer.side), {"ids": [row.id for row in locked], "now": utcnow()})
            ).scalars()
        )
    visible = {row.id for row in locked}
    errors = [
        not_found("The conversation", ["input", "conversationIds", str(index)])
        for index, conversation_id in enumerate(conversation_ids)
        if conversation_id not in visible
    ]
    result = MarkedMany([conversation_id for conversation_id in wanted if conversation_id in visible], errors)
    return result, events.read_positions_moved(viewer, [row for row in locked if row.id in moved])


@lru_cache(maxsize=2)
def _lock_visible(side: str) -> Select:
    """The conversations among `ids` that the viewer's side sees, locked as `lock_conversation`
    locks one. In id order: two batches (or a batch and a mark-all) then wait for each other
    instead of deadlocking."""
    c, s = conversation_t.c, state_t.c
    return (
        select(c.id, c.shop_id, c.creator_id)
        .join_from(conversation_t, state_t, and_(s.conversation_id == c.id, s.side == side))
        .where(c.id.in_(bindparam("ids", expanding=True)), inbox.owned(s), s.visible)
        .order_by(c.id)
        .with_for_update(of=conversation_t)
    )


@lru_cache(maxsize=2)
def _read_to_newest(side: str) -> Update:
    """Move one side's read position to the newest message of the (locked) conversations `ids`;
    the ids whose position moved. Nothing newer can arrive while they are locked: none is unread."""
    s, c = state_t.c, conversation_t.c
    return (
        update(state_t)
        .where(
            c.id == s.conversation_id,
            s.side == side,
            s.conversation_id.in_(bindparam("ids", expanding=True)),
            s.last_read_message_id < c.last_message_id,
        )
        .values(
            last_read_message_id=c.last_message_id,
            unread_count=0,
            last_read_at=read_time(bindparam("now", type_=UtcDateTime())),
        )
        .returning(s.conversation_id)
    )


@dataclass(frozen=True)
class MarkedAll:
    marked_count: int  # conversations that had unread messages
    counts: dict[str, int]  # the viewer's inbox counts right after


async def mark_all_read(rt: Runtime, viewer: Viewer, folder: str) -> MarkedAll:
    """Mark every conversation of the viewer's folder read up to its newest message, in a fixed
    number of statements whatever their number."""
    return await transactions.write(rt, lambda conn: _mark_all(conn, viewer, folder))


async def _mark_all(conn: AsyncConnection, viewer: Viewer, folder: str) -> tuple[MarkedAll, list[events.Event]]:
    params = {"owner": viewer.owner_id, "now": utcnow()}
    if conn.dialect.name == "postgresql":
        rows = (await conn.execute(_mark_folder_locked(viewer.side, folder), params)).all()
    else:
        # SQLite runs one writer at a time (BEGIN IMMEDIATE): nothing changes between the two.
        rows = (await conn.execute(_behind(viewer.side, folder), params)).all()
        await conn.execute(_mark_folder(viewer.side, folder), params)
    counts = await inbox.inbox_counts(conn, viewer)
    marked = MarkedAll(sum(1 for row in rows if row.unread_count > 0), counts)
    return marked, events.read_positions_moved(viewer, sorted(rows, key=lambda row: row.id))


def _behind(side: str, folder: str) -> Select:
    """The side's conversations of a folder whose read position is behind their newest message,
    with the unread count they had."""
    c, s = conversation_t.c, state_t.c
    return (
        select(c.id, c.shop_id, c.creator_id, c.last_message_id, s.unread_count)
        .join_from(conversation_t, state_t, and_(s.conversation_id == c.id, s.side == side))
        .where(
            s.owner_id == bindparam("owner"),
            s.visible,
            inbox.folder_condition(folder),
            s.last_read_message_id < c.last_message_id,
        )
    )


@lru_cache(maxsize=16)
def _mark_folder_locked(side: str, folder: str) -> Update:
    """PostgreSQL, one statement: lock the conversations behind (and their state rows) in id order,
    as `_lock_visible` does, then move the position of each to the newest message.

    A row a racing send changed while we waited for its lock is read again once locked (FOR
    UPDATE re-checks the newest version), so the position never goes back and the unread count
    returned is the one we overwrote; a message cannot arrive after the lock, so none is unread."""
    behind = (
        _behind(side, folder).order_by(conversation_t.c.id).with_for_update(of=(conversation_t, state_t)).cte("behind")
    )
    s = state_t.c
    return (
        update(state_t)
        .where(s.conversation_id == behind.c.id, s.side == side, s.last_read_message_id < behind.c.last_message_id)
        .values(
            last_read_message_id=behind.c.last_message_id,
            unread_count=0,
            last_read_at=read_time(bindparam("now", type_=UtcDateTime())),
        )
        .returning(behind.c.id, behind.c.shop_id, behind.c.creator_id, behind.c.unread_count)
    )


@lru_cache(maxsize=16)
def _mark_folder(side: str, folder: str) -> Update:
    """SQLite: move the position of each conversation of `_behind` to its newest message."""
    s, c = state_t.c, conversation_t.c
    return (
        update(state_t)
        .where(
            c.id == s.conversation_id,
            s.side == side,
            s.owner_id == bindparam("owner"),
            s.visible,
            inbox.folder_condition(folder),
            s.last_read_message_id < c.last_message_id,
        )
        .values(
            last_read_message_id=c.last_message_id,
            unread_count=0,
            last_read_at=read_time(bindparam("now", type_=UtcDateTime())),
        )
    )
