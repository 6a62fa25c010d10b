"""A shop blocking and unblocking a creator, with a notice the creator sees."""

from sqlalchemy import ColumnElement, delete, exists
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import not_found
from core.viewer import Viewer
from models.database import insert_ignoring_conflicts
from models.tables import block_t
from models.types import utcnow
from services import events, transactions
from services.content import SYSTEM, Content
from services.conversations import find_conversation, get_creator, lock_conversation
from services.messages import append_message
from services.runtime import Runtime

NOTICES = {
    "CREATOR_BLOCKED": "The shop has blocked you. You can no longer send messages in this chat.",
    "CREATOR_UNBLOCKED": "The shop has unblocked you. You can send messages again.",
}


def blocked_either_way(shop_id: ColumnElement, creator_id: ColumnElement) -> ColumnElement[bool]:
    """SQL: the pair is blocked in either direction (today shops block creators; creators blocking
    shops joins here), for the rules that hold while either side blocks."""
    return exists().where(block_t.c.shop_id == shop_id, block_t.c.creator_id == creator_id)


async def set_blocked(rt: Runtime, viewer: Viewer, creator_id: int, blocked: bool) -> int | None:
    """Block or unblock; returns the conversation id, if any. A repeat changes nothing."""
    return await transactions.write(rt, lambda conn: _set_blocked(conn, viewer, creator_id, blocked))


async def _set_blocked(conn: AsyncConnection, viewer: Viewer, creator_id: int, blocked: bool):
    if await get_creator(conn, creator_id) is None:
        raise not_found("The creator", ["input", "creatorId"])
    if blocked:
        changed = (await conn.execute(insert_ignoring_conflicts(
            conn, block_t, shop_id=viewer.shop_id, creator_id=creator_id, created_at=utcnow()))).rowcount
    else:
        changed = (await conn.execute(delete(block_t).where(
            block_t.c.shop_id == viewer.shop_id, block_t.c.creator_id == creator_id))).rowcount
    conversation = await find_conversation(conn, viewer.shop_id, creator_id)
    if not changed or conversation is None:
        return (conversation.id if conversation else None), []
    conversation = await lock_conversation(conn, conversation.id)
    code = "CREATOR_BLOCKED" if blocked else "CREATOR_UNBLOCKED"
    notice = await append_message(conn, conversation, SYSTEM, Content("NOTICE", text=NOTICES[code], notice_code=code))
    return conversation.id, [events.message_added(conversation, notice)]
