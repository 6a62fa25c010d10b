"""Reading a conversation's messages and the viewer's sample requests."""

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from models import ConversationState, Message, SampleRequest, Shop
from models.database import GatedEngine
from models.prepared import Prepared, fetch
from services import inbox
from services.inbox import ConversationRecord, MessageRecord
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
    return _page(rows, first, after, last, before)


async def conversation_with_messages(db: GatedEngine, viewer: Viewer, conversation_id: int, *,
                                     first: int | None = None, after: int | None = None, last: int | None = None,
                                     before: int | None = None) -> tuple[ConversationRecord | None, Page | None]:
    """A conversation the viewer may see (a record of `inbox.conversation_record`) and a page of its
    messages, as `list_messages` pages them; (None, None) if the viewer may not see it.

    On PostgreSQL one statement reads both (the page as an array of message rows): the chat
    screen opens with exactly this pair. Elsewhere, two statements."""
    if db.dialect.name != "postgresql":
        found = await inbox.conversations_by_ids(db, viewer, [conversation_id])
        if conversation_id not in found:
            return None, None
        page = await list_messages(db, conversation_id, first=first, after=after, last=last, before=before)
        return found[conversation_id], page
    statement = _conversation_messages_statement(viewer.side, after is not None, before is not None,
                                                 newest_first=last is not None)
    params = {"owner": viewer.owner_id, "keys": conversation_id, "after": after, "before": before,
              "limit": (last or first) + 1}
    rows = await fetch(db, statement, params)
    if not rows:
        return None, None
    *conversation, messages = rows[0]
    # The elements' fields come in the table's column order, which the migrations make the model's
    # (tests/test_statement_count.py compares this read with list_messages').
    records = [MessageRecord._make(element) for element in messages]
    return inbox.conversation_record(conversation), _page(records, first, after, last, before)


def _page(rows: list, first: int | None, after: int | None, last: int | None, before: int | None) -> Page:
    """Rows read one past the page size, newest first for `last`, as a chronological page."""
    if last is not None:
        return Page(rows[:last][::-1], has_next=before is not None, has_previous=len(rows) > last)
    return Page(rows[:first], has_next=len(rows) > first, has_previous=after is not None)


def _messages_query(source, conversation, has_after: bool, has_before: bool, newest_first: bool):
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
def _messages_statement(has_after: bool, has_before: bool, newest_first: bool) -> Prepared:
    """One shape of messages page, built once (see `services.inbox._page_statement`)."""
    return Prepared(_messages_query(message_t, bindparam("conversation"), has_after, has_before, newest_first))


@lru_cache(maxsize=16)
def _conversation_messages_statement(side: str, has_after: bool, has_before: bool, newest_first: bool) -> Prepared:
    """A conversation by id, as `inbox` reads it, with one shape of messages page as a last column:
    `ARRAY(SELECT m FROM message m ... LIMIT n)`, an array of whole `message` rows (PostgreSQL)."""
    m = message_t.alias("m")
    page = _messages_query(m, inbox.conversation_t.c.id, has_after, has_before, newest_first)
    messages = func.array(page.with_only_columns(literal_column(m.name)).scalar_subquery())
    return Prepared(inbox.conversations_query(side, "id", many=False).add_columns(messages))


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
