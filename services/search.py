"""Message search: the viewer's messages whose text holds a query, newest first, with a snippet each; and
the folded search rows that messages and creators get when they are written (models/search.py).

A message is found by its searchable text (`searchable_text`): a text message's text, an image's caption.
Notices, cards and images without a caption have none, so they get no search row and are never found.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from sqlalchemy import Integer, Select, and_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from core.errors import BadUserInput
from core.text import fold
from core.viewer import CREATOR, SELLER, Viewer
from models.database import GatedEngine, fetch
from models.search import TRIGRAM, TrigramMatch, trigram_needle
from models.tables import (
    creator_search_t,
    creator_t,
    message_search_t,
    message_t,
    state_t,
)
from services.inbox import MessageRecord

MAX_RESULTS = 50
SNIPPET_LENGTH = 160
ELLIPSIS = "…"
_BATCH = 1000  # creators per executemany
_INSERT_SEARCH_ROW = message_search_t.insert()


class StoredMessage(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str | None: ...


class ConversationParties(Protocol):
    id: int
    shop_id: int
    creator_id: int


def searchable_text(message: StoredMessage) -> str | None:
    """The text a message is found by; None: it is not searched."""
    return message.text if message.kind in ("TEXT", "IMAGE") else None


async def index_message(conn: AsyncConnection, conversation: ConversationParties, message: StoredMessage) -> None:
    """The search row of a message just inserted into `conversation`, in the same transaction."""
    text = searchable_text(message)
    if text is not None:
        await conn.execute(
            _INSERT_SEARCH_ROW,
            {
                "message_id": message.id,
                "conversation_id": conversation.id,
                "shop_id": conversation.shop_id,
                "creator_id": conversation.creator_id,
                "body": fold(text),
            },
        )


async def index_creators(conn: AsyncConnection, creators: list[dict]) -> None:
    """The search rows of creators just upserted (rows with `platform_id`, `handle`, `display_name`)."""
    if not creators:
        return
    statement = _creator_upsert(conn.dialect.name)
    rows = [
        {"platform_id": row["platform_id"], "handle": fold(row["handle"]), "display_name": fold(row["display_name"])}
        for row in creators
    ]
    for start in range(0, len(rows), _BATCH):
        await conn.execute(statement, rows[start : start + _BATCH])


@lru_cache(maxsize=2)
def _creator_upsert(dialect_name: str) -> Executable:
    """INSERT ... SELECT the creator's id by platform id ... ON CONFLICT DO UPDATE: one statement
    (run for many rows) for new and updated creators alike."""
    cs = creator_search_t.c
    source = select(
        creator_t.c.id, bindparam("handle", type_=cs.handle.type), bindparam("display_name", type_=cs.display_name.type)
    ).where(creator_t.c.platform_id == bindparam("platform_id"))
    insert = (postgresql if dialect_name == "postgresql" else sqlite).insert(creator_search_t)
    insert = insert.from_select(["creator_id", "handle", "display_name"], source)
    return insert.on_conflict_do_update(
        index_elements=["creator_id"],
        set_={"handle": insert.excluded.handle, "display_name": insert.excluded.display_name},
    )


@dataclass(frozen=True)
class Found:
    message: MessageRecord
    snippet: str
    # The other side's read position is at or past the message (its read receipt), read with it.
    read_by_other_side: bool


@dataclass(frozen=True)
class SearchPage:
    results: list[Found]
    has_next: bool
    has_previous: bool


def check_query(query: str) -> str:
    """The query, folded; BadUserInput if it is shorter than a trigram index can serve."""
    if len(query) < TRIGRAM:
        raise BadUserInput(f"query must be at least {TRIGRAM} characters.")
    return fold(query)


async def search_messages(
    db: GatedEngine | AsyncConnection,
    viewer: Viewer,
    query: str,
    conversation_id: int | None,
    first: int,
    after: int | None,
) -> SearchPage:
    """The viewer's messages (or those of one of its conversations) whose searchable text holds `query`
    (case-insensitively, as `fold` compares), newest first, after the message id `after`."""
    needle = check_query(query)
    statement = _search_statement(viewer.side, conversation_id is not None, after is not None)
    rows = await fetch(
        db,
        statement,
        {
            "owner": viewer.owner_id,
            "needle": needle,
            "conversation": conversation_id,
            "after": after,
            "limit": first + 1,
        },
    )
    results = []
    for *fields, other_read in rows[:first]:
        record = MessageRecord._make(fields)
        results.append(Found(record, snippet(searchable_text(record) or "", needle), record.id <= other_read))
    return SearchPage(results, has_next=len(rows) > first, has_previous=after is not None)


@lru_cache(maxsize=8)
def _search_statement(side: str, in_conversation: bool, has_after: bool) -> Select:
    """One shape of search page, built once: the keys of the newest matching search rows of the
    viewer's side, then their messages.

    Who may read a message is decided as for `Conversation.messages`, by the viewer's side seeing the
    conversation; every conversation with a message is visible to both sides (`append_message` makes
    it so in the message's transaction), so the search row's shop or creator is that rule, and it
    leads the index of the side's rows in id order. The needle is written into the statement
    (`trigram_needle(inline=True)`): PostgreSQL then walks that index for a needle in many messages
    and takes the trigram index for a rare one."""
    s = message_search_t.c
    owner = s.shop_id if side == SELLER else s.creator_id
    owner_id = bindparam("owner", type_=Integer(), literal_execute=True)
    found = select(s.message_id).where(TrigramMatch(s.message_id, (s.body,), trigram_needle("needle", inline=True)))
    if in_conversation:  # the conversation's index (conversation_id, message_id) leads
        found = found.where(owner == owner_id, s.conversation_id == bindparam("conversation"))
        order = [s.message_id.desc()]
    else:
        # The side's index (owner, message_id) in reverse, a needle in many messages stopping after a page:
        # a range of one owner, and the owner in the order, which that index alone gives. With `owner =`
        # the owner is a constant to the planner, the primary key gives the same order, and PostgreSQL
        # walks it through every shop's rows, as the side's are spread over the heap (measured at 2.1M
        # messages: 9-40 ms against 0.3 ms). A rare needle still takes the trigram index, then sorts.
        found = found.where(owner.between(owner_id, owner_id))
        order = [owner.desc(), s.message_id.desc()]
    if has_after:
        found = found.where(s.message_id < bindparam("after"))
    limit = bindparam("limit", type_=Integer(), literal_execute=True)
    newest = found.order_by(*order).limit(limit).subquery("found")
    other = state_t.alias("other_state")
    return (
        select(message_t, other.c.last_read_message_id)
        .join(newest, newest.c.message_id == message_t.c.id)
        .join(
            other,
            and_(
                other.c.conversation_id == message_t.c.conversation_id,
                other.c.side == (CREATOR if side == SELLER else SELLER),
            ),
        )
        .order_by(message_t.c.id.desc())
    )


def snippet(text: str, needle: str) -> str:
    """At most SNIPPET_LENGTH characters of `text` around the first match of `needle` (folded), the
    match about in the middle; an ellipsis, which counts, stands for each end cut off."""
    if len(text) <= SNIPPET_LENGTH:
        return text
    start = max(fold(text).find(needle), 0)
    room = SNIPPET_LENGTH - 2  # between two ellipses
    begin = start - (room - len(needle)) // 2
    if begin <= 0:
        return text[: SNIPPET_LENGTH - 1] + ELLIPSIS
    if begin + room >= len(text):
        return ELLIPSIS + text[len(text) - (SNIPPET_LENGTH - 1) :]
    return ELLIPSIS + text[begin : begin + room] + ELLIPSIS
