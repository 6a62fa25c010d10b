"""Messages: appending one to a conversation, sending (the rules, idempotent retries), and reading pages of them.

Every message (a send, a sample card, a system notice) goes through `append_message`,
which keeps the denormalised inbox columns, the search rows and the webhook outbox right in the
same transaction."""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Row,
    Select,
    Update,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from core.config import Settings
from core.errors import ErrorCode, RuleViolation, invalid, not_found
from core.indicators import Change
from core.pages import Page
from core.viewer import CREATOR, SELLER, Viewer
from models.database import GatedEngine, built_once, fetch
from models.tables import conversation_t, message_t, state_t
from models.types import UtcDateTime, utcnow
from services import events, search, transactions, webhooks
from services.content import SYSTEM, Content, check_card
from services.conversations import (
    block_flags,
    get_creator,
    get_shop,
    lock_conversation,
    lock_pair,
    open_conversation,
    read_time,
    refuse_if_blocked,
)
from services.inbox import MessageRecord
from services.outreach import check_outreach
from services.runtime import Runtime

_INSERT_MESSAGE = insert(message_t).returning(*message_t.c)
_BUMP_CONVERSATION = (
    update(conversation_t)
    .where(conversation_t.c.id == bindparam("conversation"))
    .values(
        last_message_id=bindparam("message"),
        last_activity_at=bindparam("now"),
        creator_has_replied=conversation_t.c.creator_has_replied | bindparam("from_creator"),
        seller_message_count=conversation_t.c.seller_message_count + bindparam("from_seller"),
    )
    .returning(
        *block_flags(bindparam("shop"), bindparam("creator")),
        webhooks.wanted(bindparam("shop"), "MESSAGE_CREATED"),
    )
)


async def append_message(
    conn: AsyncConnection,
    conversation: Row[Any],
    sender_role: str,
    content: Content,
    *,
    sender_key: str | None = None,
    client_message_id: str | None = None,
    client_batch_id: str | None = None,
) -> Row[Any]:
    """Insert a message into a locked conversation and update both sides' inbox state and its search row.

    A seller's or a creator's message is refused (BLOCKED) while either block holds."""
    now = utcnow()
    message = (
        await conn.execute(
            _INSERT_MESSAGE,
            dict(
                conversation_id=conversation.id,
                sender_role=sender_role,
                sender_key=sender_key,
                client_message_id=client_message_id,
                client_batch_id=client_batch_id,
                created_at=now,
                **content.columns(),
            ),
        )
    ).one()
    bumped = (
        await conn.execute(
            _BUMP_CONVERSATION,
            {
                "conversation": conversation.id,
                "message": message.id,
                "now": now,
                "shop": conversation.shop_id,
                "creator": conversation.creator_id,
                "from_creator": sender_role == CREATOR,
                "from_seller": 1 if sender_role == SELLER else 0,
            },
        )
    ).one()
    if sender_role != SYSTEM:
        # Why: the senders checked the flags read with the conversation lock, as of that statement's
        # start. One that waited for a block's transaction (which locks the conversation before it
        # writes the block, services/blocks.py) did not see the block; this statement started after
        # the lock was granted, so it does. Refusing rolls the message back: no message lands after a
        # block committed, at no extra statement.
        refuse_if_blocked(sender_role, bumped.blocked, bumped.blocked_by_creator)
    await conn.execute(
        _state_update(sender_role == SYSTEM),
        {"conversation": conversation.id, "sender": sender_role, "message": message.id, "now": now},
    )
    await search.index_message(conn, conversation, message)
    # Most shops have no endpoint: the bump above told whether there is one, saving a statement per message.
    if bumped.webhooks_wanted:
        await webhooks.message_created(conn, conversation, message)
    return message


@lru_cache(maxsize=2)
def _state_update(system: bool) -> Update:
    """Both sides see the new activity; the receiver gets an unread message and an unreplied
    conversation out of ARCHIVED; the sender has read everything up to its own message (a move
    forward, now: the other side's receipts turn true). System notices change neither unread
    counts, nor read positions, nor replied state."""
    s = state_t.c
    values: dict[str, Any] = {"last_activity_at": bindparam("now"), "visible": True}
    if not system:
        receives = s.side != bindparam("sender")
        values.update(
            unread_count=case((receives, s.unread_count + 1), else_=0),
            unreplied=receives,
            archived=case((receives, False), else_=s.archived),
            last_read_message_id=case((receives, s.last_read_message_id), else_=bindparam("message", type_=BigInteger)),
            last_read_at=case((receives, s.last_read_at), else_=read_time(bindparam("now", type_=UtcDateTime()))),
        )
    return update(state_t).where(s.conversation_id == bindparam("conversation")).values(**values)


@dataclass(frozen=True)
class Target:
    """Where a message goes: an existing conversation, or the other party."""

    conversation_id: int | None = None
    creator_id: int | None = None
    shop_id: int | None = None


@dataclass(frozen=True)
class Sent:
    message: Row[Any]
    conversation_id: int
    # Never for a message sent now (it is newer than any read position); for the first message of
    # a retried key, whether the other side has read it since.
    read_by_other_side: bool = False


async def send_message(
    rt: Runtime, viewer: Viewer, target: Target, content: Content, client_message_id: str, entrance: str | None = None
) -> Sent:
    """Send one message, or return the first message sent with the same `client_message_id`."""
    _check_target_shape(viewer, target)
    return await transactions.write(
        rt, lambda conn: _send(conn, rt.settings, viewer, target, content, client_message_id, entrance)
    )


async def _send(
    conn: AsyncConnection,
    settings: Settings,
    viewer: Viewer,
    target: Target,
    content: Content,
    key: str,
    entrance: str | None,
) -> tuple[Sent, list[events.Event]]:
    conversation = await _target_conversation(conn, viewer, target, entrance, key)
    if conversation.previous_id is not None:
        return await _replay(conn, viewer, conversation.previous_id, target, content), []
    await check_may_send(conn, settings, viewer, conversation, content)
    message = await append_message(
        conn, conversation, viewer.role, content, sender_key=viewer.principal, client_message_id=key
    )
    # Sending ends the sender's typing indicator, if one may be showing (the gate knows).
    return Sent(message, conversation.id), [
        events.message_added(conversation, message),
        events.typing(conversation, viewer.role, Change.SENT),
    ]


def _check_target_shape(viewer: Viewer, target: Target) -> None:
    other = target.creator_id if viewer.is_seller else target.shop_id
    wrong = target.shop_id if viewer.is_seller else target.creator_id
    given = [value for value in (target.conversation_id, other) if value is not None]
    if wrong is not None or len(given) != 1:
        party = "creatorId" if viewer.is_seller else "shopId"
        raise invalid(f"Give either conversationId or {party}.", ["input"])


async def _target_conversation(
    conn: AsyncConnection, viewer: Viewer, target: Target, entrance: str | None, key: str
) -> Row[Any]:
    """The locked conversation a send goes to (with the message already sent under `key`, if any),
    opened if the other party was given and they have none yet."""
    if target.conversation_id is not None:
        conversation = await lock_conversation(conn, target.conversation_id, viewer.principal, key)
        if conversation is None or not viewer.owns(conversation.shop_id, conversation.creator_id):
            raise not_found("The conversation", ["input", "conversationId"])
        return conversation
    if viewer.is_seller:
        shop_id, creator_id, default = viewer.shop_id, target.creator_id, "CREATOR_MESSAGES"
    else:
        shop_id, creator_id, default = target.shop_id, viewer.creator_id, "CREATOR_INITIATED"
    assert shop_id is not None and creator_id is not None, "the viewer's, and the one `_check_target_shape` let in"
    conversation = await lock_pair(conn, shop_id, creator_id, viewer.principal, key)
    if conversation is not None:
        return conversation
    if viewer.is_seller and await get_creator(conn, creator_id) is None:
        raise not_found("The creator", ["input", "creatorId"])
    if not viewer.is_seller and await get_shop(conn, shop_id) is None:
        raise not_found("The shop", ["input", "shopId"])
    conversation, _opened = await open_conversation(
        conn, shop_id, creator_id, entrance or default, viewer.role, viewer.principal, key
    )
    return conversation


async def check_may_send(
    conn: AsyncConnection, settings: Settings, viewer: Viewer, conversation: Row[Any], content: Content
) -> None:
    """Every rule a send must pass, cheapest first; raises the first that fails."""
    await check_card(conn, viewer, content)
    if viewer.is_seller:
        await _check_seller_send(conn, settings, conversation, content)
        return
    if conversation.shop_status != "ACTIVE":
        raise RuleViolation(ErrorCode.FORBIDDEN, "This shop can no longer receive creator messages.")
    refuse_if_blocked(CREATOR, conversation.blocked, conversation.blocked_by_creator)


async def _check_seller_send(
    conn: AsyncConnection, settings: Settings, conversation: Row[Any], content: Content
) -> None:
    """`conversation` is a row of `conversations.lock_conversation`, with its block flags."""
    refuse_if_blocked(SELLER, conversation.blocked, conversation.blocked_by_creator)
    await check_outreach(conn, settings.outreach_tiers, conversation, content.kind)


async def _replay(conn: AsyncConnection, viewer: Viewer, message_id: int, target: Target, content: Content) -> Sent:
    """The first message of a retried key, if the retry asks for the same thing."""
    message = (await conn.execute(select(message_t).where(message_t.c.id == message_id))).one()
    row = (await conn.execute(select(conversation_t).where(conversation_t.c.id == message.conversation_id))).one()
    same_target = (
        target.conversation_id == row.id
        if target.conversation_id is not None
        else (target.creator_id == row.creator_id if viewer.is_seller else target.shop_id == row.shop_id)
    )
    if not same_target or not content.matches(message):
        raise invalid(
            "This clientMessageId was already used for another message; use a new key.", ["input", "clientMessageId"]
        )
    return Sent(message, row.id, await read_by_other_side(conn, viewer, message))


async def read_by_other_side(conn: AsyncConnection, viewer: Viewer, message: Row[Any]) -> bool:
    """Whether the other side's read position in the message's conversation is at or past it."""
    position = (
        await conn.execute(
            select(state_t.c.last_read_message_id).where(
                state_t.c.conversation_id == message.conversation_id, state_t.c.side == viewer.other_side
            )
        )
    ).scalar_one()
    return message.id <= position


async def list_messages(
    db: GatedEngine | AsyncConnection,
    conversation_id: int,
    *,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
) -> Page:
    """Messages in chronological order: `first` after a cursor, or the `last` before one."""
    size = last or first
    assert size is not None, "resolvers.messages.messages_window gives first or last"
    params = {"conversation": conversation_id, "after": after, "before": before, "limit": size + 1}
    statement = _messages_statement(after is not None, before is not None, newest_first=last is not None)
    rows = [MessageRecord._make(row) for row in await fetch(db, statement, params)]
    return page_of(rows, first, after, last, before)


def page_of(
    rows: list[MessageRecord], first: int | None, after: int | None, last: int | None, before: int | None
) -> Page:
    """Rows read one past the page size, newest first for `last`, as a chronological page."""
    if last is not None:
        return Page(rows[:last][::-1], has_next=before is not None, has_previous=len(rows) > last)
    assert first is not None, "resolvers.messages.messages_window gives first or last"
    return Page(rows[:first], has_next=len(rows) > first, has_previous=after is not None)


def messages_query(
    source: FromClause, conversation: ColumnElement[int], has_after: bool, has_before: bool, newest_first: bool
) -> Select[Any]:
    """One shape of messages page of `conversation` (a bound parameter or a column) from `source`,
    the message table or an alias of it."""
    m = source.c
    query = select(source).where(m.conversation_id == conversation)
    if has_after:
        query = query.where(m.id > bindparam("after"))
    if has_before:
        query = query.where(m.id < bindparam("before"))
    return query.order_by(m.id.desc() if newest_first else m.id).limit(bindparam("limit"))


@lru_cache(maxsize=8)
def _messages_statement(has_after: bool, has_before: bool, newest_first: bool) -> Select[Any]:
    """One shape of messages page, built once (see `services.inbox._page_statement`)."""
    return built_once(messages_query(message_t, bindparam("conversation"), has_after, has_before, newest_first))


async def visible_messages_after(
    conn: AsyncConnection, viewer: Viewer, after: int, conversation_id: int | None = None, limit: int = 500
) -> Sequence[Row[Any]]:
    """Messages with id > `after` in the conversations the viewer sees (or in one), by id."""
    s = state_t.c
    query = (
        select(message_t)
        .join(state_t, s.conversation_id == message_t.c.conversation_id)
        .where(message_t.c.id > after, s.side == viewer.side, s.owner_id == viewer.owner_id, s.visible)
    )
    if conversation_id is not None:
        query = query.where(message_t.c.conversation_id == conversation_id)
    return (await conn.execute(query.order_by(message_t.c.id).limit(limit))).all()


async def newest_message_id(conn: AsyncConnection) -> int:
    return (await conn.execute(select(func.coalesce(func.max(message_t.c.id), 0)))).scalar_one()
