"""Opening a conversation without a message, and the viewer's folders: star, archive, read."""

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from models import ConversationState, Message
from services import events
from services.chat import find_conversation, get_creator, is_blocked, lock_conversation, open_conversation
from services.errors import RuleViolation, not_found
from services.runtime import Runtime
from services.viewer import SELLER, Viewer

state_t = ConversationState.__table__
message_t = Message.__table__
FLAGS = {"star": ("starred", True), "unstar": ("starred", False),
         "archive": ("archived", True), "unarchive": ("archived", False)}


async def start_conversation(rt: Runtime, viewer: Viewer, creator_id: int, entrance: str) -> int:
    """Find or open the seller's conversation with a creator; opening uses no outreach quota."""
    async with rt.engine.begin() as conn:
        existing = await find_conversation(conn, viewer.shop_id, creator_id)
        if existing is not None:
            return existing.id
        if await get_creator(conn, creator_id) is None:
            raise not_found("The creator", ["input", "creatorId"])
        if await is_blocked(conn, viewer.shop_id, creator_id):
            raise RuleViolation("BLOCKED", "You have blocked this creator; unblock the creator first.")
        conversation, opened = await open_conversation(conn, viewer.shop_id, creator_id, entrance, SELLER)
    if opened:
        await rt.publish([events.conversation_changed(conversation, creator=False)])
    return conversation.id


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
    column, value = FLAGS[action]
    async with rt.engine.begin() as conn:
        conversation = await _visible_conversation(conn, viewer, conversation_id)
        changed = (await conn.execute(_own_state(conversation_id, viewer)
                                      .where(state_t.c[column] != value).values({column: value}))).rowcount
    if changed:
        await rt.publish([_own_side_changed(conversation, viewer)])
    return conversation_id


async def mark_read(rt: Runtime, viewer: Viewer, conversation_id: int, up_to: int | None) -> int:
    """Move the viewer's read position forward to `up_to` (default: the newest message)."""
    async with rt.engine.begin() as conn:
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
    if changed:
        await rt.publish([_own_side_changed(conversation, viewer)])
    return conversation_id


async def _message_in(conn: AsyncConnection, conversation_id: int, message_id: int) -> bool:
    return (await conn.execute(select(message_t.c.id).where(
        message_t.c.id == message_id, message_t.c.conversation_id == conversation_id))).first() is not None


def _own_side_changed(conversation, viewer: Viewer) -> events.Event:
    """Only the viewer's side changed: tell the viewer's other tabs."""
    return events.conversation_changed(conversation, seller=viewer.is_seller, creator=not viewer.is_seller)
