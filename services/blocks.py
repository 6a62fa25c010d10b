"""Blocks between a shop and a creator, either way: a shop blocks a creator, a creator blocks a shop.

Each direction has its own table and its own notices; both can hold at once, each lifted on its own.
A change adds a notice to the pair's conversation, if there is one, for both sides to see."""

from sqlalchemy import ColumnElement, Table, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import not_found
from core.viewer import Viewer
from models.database import GatedEngine, fetch, insert_ignoring_conflicts
from models.tables import block_t, shop_block_t
from models.types import utcnow
from services import events, transactions, webhooks
from services.content import SYSTEM, Content
from services.conversations import (
    block_flags,
    get_creator,
    get_shop,
    lock_pair,
    serialise_pair,
)
from services.messages import append_message
from services.runtime import Runtime

NOTICES = {
    "CREATOR_BLOCKED": "The shop has blocked you. You can no longer send messages in this chat.",
    "CREATOR_UNBLOCKED": "The shop has unblocked you. You can send messages again.",
    "SHOP_BLOCKED": "The creator has blocked your shop. Your shop can no longer send messages in this chat.",
    "SHOP_UNBLOCKED": "The creator has unblocked your shop. Your shop can send messages again.",
}


async def set_blocked(rt: Runtime, viewer: Viewer, creator_id: int, blocked: bool) -> int | None:
    """The viewer's shop blocks or unblocks a creator; returns the conversation id, if any. A repeat changes nothing."""

    async def work(conn: AsyncConnection) -> tuple[int | None, list[events.Event]]:
        if await get_creator(conn, creator_id) is None:
            raise not_found("The creator", ["input", "creatorId"])
        return await _set(conn, block_t, viewer.own_shop_id, creator_id, blocked, "CREATOR")

    return await transactions.write(rt, work)


async def set_shop_blocked(rt: Runtime, viewer: Viewer, shop_id: int, blocked: bool) -> int | None:
    """The viewer creator blocks or unblocks a shop (of any status); returns the conversation id, if any.
    A repeat changes nothing; a shop without a conversation gets none, and no notice."""

    async def work(conn: AsyncConnection) -> tuple[int | None, list[events.Event]]:
        if await get_shop(conn, shop_id) is None:
            raise not_found("The shop", ["input", "shopId"])
        return await _set(conn, shop_block_t, shop_id, viewer.own_creator_id, blocked, "SHOP")

    return await transactions.write(rt, work)


async def _set(
    conn: AsyncConnection, table: Table, shop_id: int, creator_id: int, blocked: bool, blocked_party: str
) -> tuple[int | None, list[events.Event]]:
    """(conversation id or None, events): add or remove the pair's row of `table`, and a notice if it changed.

    Why this order: the pair's turn first (`serialise_pair`: an opening of its conversation
    cannot slip past a block of a pair without one), then the conversation's lock, and only then
    the block row. A send holds that lock from its first statement to its commit, so no block
    commits while a send is under way; a send that waited for this transaction reads the block
    again once it has the lock (`messages.append_message`). Either way it lands before the block
    or is refused.
    """
    await serialise_pair(conn, shop_id, creator_id)
    conversation = await lock_pair(conn, shop_id, creator_id)
    if blocked:
        changed = (
            await conn.execute(
                insert_ignoring_conflicts(conn, table, shop_id=shop_id, creator_id=creator_id, created_at=utcnow())
            )
        ).rowcount
    else:
        changed = (
            await conn.execute(delete(table).where(table.c.shop_id == shop_id, table.c.creator_id == creator_id))
        ).rowcount
    conversation_id = conversation.id if conversation else None
    if changed:
        blocked_by = "SHOP" if blocked_party == "CREATOR" else "CREATOR"
        await webhooks.block_changed(conn, shop_id, creator_id, conversation_id, blocked_by, blocked)
    if not changed or conversation is None:
        return conversation_id, []
    code = f"{blocked_party}_{'BLOCKED' if blocked else 'UNBLOCKED'}"
    notice = await append_message(conn, conversation, SYSTEM, Content("NOTICE", text=NOTICES[code], notice_code=code))
    return conversation.id, [events.message_added(conversation, notice)]


def blocked_either_way(shop_id: ColumnElement[int] | int, creator_id: ColumnElement[int] | int) -> ColumnElement[bool]:
    """SQL: the shop blocks the creator or the creator blocks the shop (columns or values), for the rules
    that hold while either side blocks."""
    blocked, blocked_by_creator = (flag.element for flag in block_flags(shop_id, creator_id))
    return or_(blocked, blocked_by_creator)


async def blocked_shops(
    db: GatedEngine | AsyncConnection, creator_id: int | None, shop_ids: list[int]
) -> dict[int, bool]:
    """{shop id: True} for those of `shop_ids` the creator blocks."""
    rows = await fetch(
        db,
        select(shop_block_t.c.shop_id).where(
            shop_block_t.c.creator_id == creator_id, shop_block_t.c.shop_id.in_(shop_ids)
        ),
    )
    return {shop_id: True for (shop_id,) in rows}
