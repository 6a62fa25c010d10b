"""Reading the inbox: folders, creator filters, keyset pages and badge counts.

Both roles read through `conversation_state`, the viewer's side of each conversation,
so one query serves a seller's inbox and a creator's.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, case, func, literal_column, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from core.text import fold
from core.viewer import CREATOR, SELLER, Viewer
from models.database import GatedEngine, built_once, fetch
from models.search import TRIGRAM, TrigramMatch, trigram_needle
from models.tables import (
    block_t,
    conversation_t,
    creator_search_t,
    creator_t,
    message_t,
    shop_block_t,
    shop_t,
    state_t,
)
from models.types import Money, UtcDateTime

FOLDERS = ("ALL", "UNREAD", "UNREPLIED", "STARRED", "ARCHIVED")
# Categories one filter may list: each is a bound parameter, and PostgreSQL takes at most 32,767.
MAX_CATEGORIES = 50


@dataclass(frozen=True)
class CreatorFilter:
    min_followers: int | None = None
    max_followers: int | None = None
    categories: list[str] | None = None
    min_gmv: Decimal | None = None
    max_gmv: Decimal | None = None
    search: str | None = None


def folder_condition(folder: str) -> ColumnElement[bool]:
    s = state_t.c
    return {
        "ALL": ~s.archived,
        # 0 written into the statement, not bound: a prepared statement's generic plan can use the
        # partial index ix_state_unread only where its predicate (`unread_count > 0`) is in the text.
        "UNREAD": and_(~s.archived, s.unread_count > literal_column("0", Integer)),
        "UNREPLIED": and_(~s.archived, s.unreplied),
        "STARRED": s.starred,
        "ARCHIVED": s.archived,
    }[folder]


def _search_short(c: Any) -> ColumnElement[bool]:
    """A needle of one or two characters, too short for the trigram index: a scan of the folded names."""
    cs = creator_search_t.c
    return c.id.in_(
        select(cs.creator_id).where(
            cs.handle.contains(bindparam("search_short"), escape="/")
            | cs.display_name.contains(bindparam("search_short"), escape="/")
        )
    )


# Each filter field's condition on `creator`, with a bound parameter of the field's name;
# bounds are inclusive. Statements are built once per combination of fields (see below).
# `search` looks in the creator's folded handle and display name (models/search.py), through
# the trigram index from 3 characters on.
_FILTER_CONDITIONS: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "min_followers": lambda c: c.follower_count >= bindparam("min_followers"),
    "max_followers": lambda c: c.follower_count <= bindparam("max_followers"),
    "categories": lambda c: c.main_category.in_(bindparam("categories", expanding=True)),
    "min_gmv": lambda c: c.gmv_30d >= bindparam("min_gmv", type_=Money),
    "max_gmv": lambda c: c.gmv_30d <= bindparam("max_gmv", type_=Money),
    "search": lambda c: TrigramMatch(
        c.id, (creator_search_t.c.handle, creator_search_t.c.display_name), trigram_needle("search")
    ),
    "search_short": _search_short,
}
_FIELDS = tuple(field.name for field in fields(CreatorFilter))


def filter_params(flt: CreatorFilter | None) -> dict[str, Any]:
    """The bound values of a filter's set fields: `search` folded (`core.text.fold`), as `search_short`
    (LIKE-escaped) when it is shorter than a trigram."""
    if flt is None:
        return {}
    params = {name: getattr(flt, name) for name in _FIELDS if getattr(flt, name) is not None}
    needle = fold(params.pop("search", ""))
    if len(needle) >= TRIGRAM:
        params["search"] = needle
    elif needle:
        params["search_short"] = needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return params


def creator_conditions(fields: Iterable[str]) -> list[ColumnElement[bool]]:
    """The conditions of the given filter fields (keys of `filter_params`)."""
    return [_FILTER_CONDITIONS[name](creator_t.c) for name in sorted(fields)]


# The other side's view of the conversation, for the viewer's read receipts.
_other_state = state_t.alias("other_state")
_CONVERSATION_COLUMNS = (
    conversation_t.c.id,
    conversation_t.c.shop_id,
    conversation_t.c.creator_id,
    conversation_t.c.entrance,
    conversation_t.c.created_at,
    conversation_t.c.last_message_id,
    conversation_t.c.last_activity_at,
    conversation_t.c.creator_has_replied,
    conversation_t.c.seller_message_count,
    state_t.c.starred,
    state_t.c.archived,
    state_t.c.unread_count,
    state_t.c.unreplied,
    state_t.c.last_read_message_id,
    _other_state.c.last_read_message_id.label("other_last_read_message_id"),
    _other_state.c.last_read_at.label("other_last_read_at"),
)


# Records are made positionally (`_make`) from rows that select these columns, in this order.
class CreatorRecord(NamedTuple):
    id: int
    platform_id: str
    handle: str
    display_name: str
    avatar_url: str | None
    follower_count: int
    main_category: str
    gmv_30d: Decimal
    updated_at: datetime


class ShopRecord(NamedTuple):
    id: int
    platform_id: str
    name: str
    status: str
    affiliate_gmv_30d: Decimal
    updated_at: datetime


class MessageRecord(NamedTuple):
    id: int
    conversation_id: int
    sender_role: str
    sender_key: str | None
    kind: str
    text: str | None
    product_id: int | None
    collaboration_id: int | None
    sample_request_id: int | None
    notice_code: str | None
    client_message_id: str | None
    client_batch_id: str | None
    created_at: datetime
    image_id: int | None


class ConversationRecord(NamedTuple):
    id: int
    shop_id: int
    creator_id: int
    entrance: str
    created_at: datetime
    last_message_id: int | None
    last_activity_at: datetime
    creator_has_replied: bool
    seller_message_count: int
    starred: bool
    archived: bool
    unread_count: int
    unreplied: bool
    last_read_message_id: int
    other_last_read_message_id: int
    other_last_read_at: datetime | None
    blocked: bool
    blocked_by_creator: bool
    creator: CreatorRecord
    shop: ShopRecord
    last_message: MessageRecord | None


# A migration that adds a column fails the import here, instead of shifting every field after it.
for _record, _columns in (
    (CreatorRecord, creator_t.c.keys()),
    (ShopRecord, shop_t.c.keys()),
    (MessageRecord, message_t.c.keys()),
    (
        ConversationRecord,
        [col.name for col in _CONVERSATION_COLUMNS]
        + ["blocked", "blocked_by_creator", "creator", "shop", "last_message"],
    ),
):
    if _record._fields != tuple(_columns):
        raise RuntimeError(f"{_record.__name__} must list {tuple(_columns)}, in this order")
SPLITS = (len(_CONVERSATION_COLUMNS) + 2, len(creator_t.c), len(shop_t.c))


@lru_cache(maxsize=2)
def _joined(side: str) -> Select[Any]:
    """Conversations seen from one side, with their creator, shop, newest message, block flags (the
    shop blocks the creator, the creator blocks the shop) and the other side's read position, one row
    each: an inbox page needs all of them, and one statement fetches them. Built once per side:
    constructing the joins and aliases per request costs more than running them."""
    s, c, other = state_t.c, conversation_t.c, _other_state.c
    last = message_t.alias("last_message")
    blocked = block_t.c.shop_id.is_not(None).label("blocked")
    blocked_by_creator = shop_block_t.c.shop_id.is_not(None).label("blocked_by_creator")
    return (
        select(*_CONVERSATION_COLUMNS, blocked, blocked_by_creator, *creator_t.c, *shop_t.c, *last.c)
        .select_from(
            state_t.join(creator_t, creator_t.c.id == s.creator_id)
            .join(conversation_t, c.id == s.conversation_id)
            .join(shop_t, shop_t.c.id == c.shop_id)
            .join(
                _other_state,
                and_(other.conversation_id == s.conversation_id, other.side == (CREATOR if side == SELLER else SELLER)),
            )
            .outerjoin(last, last.c.id == c.last_message_id)
            .outerjoin(block_t, and_(block_t.c.shop_id == c.shop_id, block_t.c.creator_id == c.creator_id))
            .outerjoin(
                shop_block_t, and_(shop_block_t.c.shop_id == c.shop_id, shop_block_t.c.creator_id == c.creator_id)
            )
        )
        .where(s.side == side)
    )


def message_record(fields: dict[str, Any]) -> MessageRecord:
    """A message from an event's JSON fields."""
    return MessageRecord(**{**fields, "created_at": datetime.fromisoformat(fields["created_at"])})


def conversation_record(row: Iterable[Any]) -> ConversationRecord:
    """Split a row of the joined conversation select (`_joined`) into the conversation and its related records."""
    row = tuple(row)  # slicing a plain tuple is much cheaper than slicing SQLAlchemy's Row
    own, creator_end = SPLITS[0], SPLITS[0] + SPLITS[1]
    shop_end = creator_end + SPLITS[2]
    message = MessageRecord._make(row[shop_end:]) if row[shop_end] is not None else None
    return ConversationRecord._make(
        (*row[:own], CreatorRecord._make(row[own:creator_end]), ShopRecord._make(row[creator_end:shop_end]), message)
    )


async def _records(
    db: GatedEngine | AsyncConnection, statement: Select[Any], params: dict[str, Any]
) -> list[ConversationRecord]:
    return [conversation_record(row) for row in await fetch(db, statement, params)]


@lru_cache(maxsize=1024)
def _page_statement(side: str, folder: str, fields: frozenset[str], has_cursor: bool) -> Select[Any]:
    """The statement of one shape of inbox page, built once: reusing the object spares
    SQLAlchemy from building it and computing its cache key on every request."""
    s = state_t.c
    query = _joined(side).where(
        s.owner_id == bindparam("owner"), s.visible, folder_condition(folder), *creator_conditions(fields)
    )
    if has_cursor:
        query = query.where(
            tuple_(s.last_activity_at, s.conversation_id)
            < tuple_(bindparam("after_at", type_=UtcDateTime()), bindparam("after_id"))
        )
    return built_once(query.order_by(s.last_activity_at.desc(), s.conversation_id.desc()).limit(bindparam("limit")))


async def list_conversations(
    db: GatedEngine | AsyncConnection,
    viewer: Viewer,
    folder: str,
    flt: CreatorFilter | None,
    first: int,
    after: tuple[datetime, int] | None,
) -> tuple[list[ConversationRecord], bool]:
    """One page of the viewer's folder, newest activity first; (rows, has_next_page)."""
    params = filter_params(flt)
    query = _page_statement(viewer.side, folder, frozenset(params), after is not None)
    params.update(owner=viewer.owner_id, limit=first + 1)
    if after is not None:
        params.update(after_at=after[0], after_id=after[1])
    rows = await _records(db, query, params)
    return rows[:first], len(rows) > first


def owned(state: Any) -> ColumnElement[bool]:
    """`state.owner_id = :owner` for rows found by their conversation: written so that it is not an
    index condition. asyncpg prepares every statement, and after five runs PostgreSQL may keep a
    generic plan, which estimates any owner at a few rows and would find one conversation by walking
    ix_state_inbox over every conversation of the owner (a big shop's 5,000: 0.4 ms a page) instead of
    the primary key."""
    return (state.owner_id + literal_column("0", Integer)) == bindparam("owner")


def conversations_query(side: str, key: str, many: bool) -> Select[Any]:
    """The select of conversations of one side by `conversation.id` or `creator_id` (bound as
    `keys`, the side's owner as `owner`). One key gets `= :keys`: an IN list is rewritten for
    its length on every execution."""
    s = state_t.c
    column = conversation_t.c[key]
    match = column.in_(bindparam("keys", expanding=True)) if many else column == bindparam("keys")
    return _joined(side).where(owned(s), s.visible, match)


@lru_cache(maxsize=16)
def _conversations_statement(side: str, key: str, many: bool) -> Select[Any]:
    return built_once(conversations_query(side, key, many))


async def _conversations_by(
    db: GatedEngine | AsyncConnection, viewer: Viewer, key: str, values: list[int]
) -> list[ConversationRecord]:
    many = len(values) != 1
    statement = _conversations_statement(viewer.side, key, many)
    return await _records(db, statement, {"owner": viewer.owner_id, "keys": values if many else values[0]})


async def conversations_by_ids(
    db: GatedEngine | AsyncConnection, viewer: Viewer, ids: list[int]
) -> dict[int, ConversationRecord]:
    """The conversations among `ids` that the viewer may see."""
    return {row.id: row for row in await _conversations_by(db, viewer, "id", ids)}


async def conversations_by_creators(
    db: GatedEngine | AsyncConnection, viewer: Viewer, creator_ids: list[int]
) -> dict[int, ConversationRecord]:
    """The viewer shop's conversation with each of `creator_ids`, where one exists."""
    return {row.creator_id: row for row in await _conversations_by(db, viewer, "creator_id", creator_ids)}


@lru_cache(maxsize=2)
def _counts_statement(side: str) -> Select[*tuple[Any, ...]]:
    """Badge counts of the five folders of one side, built once."""

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    counts = select(*(count(folder_condition(f)).label(f.lower()) for f in FOLDERS))
    return built_once(
        counts.where(state_t.c.side == side, state_t.c.owner_id == bindparam("owner"), state_t.c.visible == true())
    )


async def inbox_counts(db: GatedEngine | AsyncConnection, viewer: Viewer) -> dict[str, int]:
    """Badge counts of the five folders, in one pass over the viewer's side."""
    (row,) = await fetch(db, _counts_statement(viewer.side), {"owner": viewer.owner_id})
    return dict(zip((folder.lower() for folder in FOLDERS), row, strict=True))


async def blocked_creators(
    db: GatedEngine | AsyncConnection, shop_id: int | None, creator_ids: list[int]
) -> dict[int, bool]:
    """{creator id: True} for those of `creator_ids` the shop blocks."""
    rows = await fetch(
        db, select(block_t.c.creator_id).where(block_t.c.shop_id == shop_id, block_t.c.creator_id.in_(creator_ids))
    )
    return {creator_id: True for (creator_id,) in rows}
