"""Reading a conversation's messages and the viewer's sample requests."""

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from models import ConversationState, Message, SampleRequest, Shop
from models.database import GatedEngine
from models.prepared import Prepared, fetch
from services.inbox import MessageRecord
from services.viewer import Viewer

message_t = Message.__table__
sample_t = SampleRequest.__table__
state_t = ConversationState.__table__


@dataclass(frozen=True)
class Page:
    rows: list
    has_next: bool
    has_previous: bool


async def list_messages(db: GatedEngine | AsyncConnection, conversation_id: int, *, first: int | None = None,
                        after: int | None = None, last: int | None = None,
                        before: int | None = None) -> Page:
    """Messages in chronological order: `first` after a cursor, or the `last` before one."""
    params = {"conversation": conversation_id, "after": after, "before": before, "limit": (last or first) + 1}
    statement = _messages_statement(after is not None, before is not None, newest_first=last is not None)
    rows = [MessageRecord._make(row) for row in await fetch(db, statement, params)]
    if last is not None:
        return Page(rows[:last][::-1], has_next=before is not None, has_previous=len(rows) > last)
    return Page(rows[:first], has_next=len(rows) > first, has_previous=after is not None)


@lru_cache(maxsize=8)
def _messages_statement(has_after: bool, has_before: bool, newest_first: bool):
    """One shape of messages page, built once (see `services.inbox._page_statement`)."""
    m = message_t.c
    query = select(message_t).where(m.conversation_id == bindparam("conversation"))
    if has_after:
        query = query.where(m.id > bindparam("after"))
    if has_before:
        query = query.where(m.id < bindparam("before"))
    return Prepared(query.order_by(m.id.desc() if newest_first else m.id).limit(bindparam("limit")))


async def list_sample_requests(conn: AsyncConnection, viewer: Viewer, status: str | None,
                               first: int, after: int | None) -> Page:
    """The viewer's sample requests (the shop's, or the creator's own), newest first."""
    s = sample_t.c
    owner = s.shop_id == viewer.shop_id if viewer.is_seller else s.creator_id == viewer.creator_id
    query = select(sample_t).where(owner)
    if status is not None:
        query = query.where(s.status == status)
    if after is not None:
        query = query.where(s.id < after)
    rows = (await conn.execute(query.order_by(s.id.desc()).limit(first + 1))).all()
    return Page(rows[:first], has_next=len(rows) > first, has_previous=after is not None)


async def visible_messages_after(conn: AsyncConnection, viewer: Viewer, after: int,
                                 conversation_id: int | None = None, limit: int = 500) -> list:
    """Messages with id > `after` in the conversations the viewer sees (or in one), by id."""
    s = state_t.c
    query = (select(message_t).join(state_t, s.conversation_id == message_t.c.conversation_id)
             .where(message_t.c.id > after, s.side == viewer.side, s.owner_id == viewer.owner_id, s.visible))
    if conversation_id is not None:
        query = query.where(message_t.c.conversation_id == conversation_id)
    return (await conn.execute(query.order_by(message_t.c.id).limit(limit))).all()


async def newest_message_id(conn: AsyncConnection) -> int:
    return (await conn.execute(select(func.coalesce(func.max(message_t.c.id), 0)))).scalar_one()


_SHOP_STATUS = Prepared(select(Shop.status).where(Shop.id == bindparam("shop_id")))


async def shop_status(db: GatedEngine | AsyncConnection, shop_id: int) -> str:
    """The shop's status now (ACTIVE, SUSPENDED or CLOSED)."""
    (row,) = await fetch(db, _SHOP_STATUS, {"shop_id": shop_id})
    return row[0]
