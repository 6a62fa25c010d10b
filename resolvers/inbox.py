"""The viewer's inbox: a folder's page, the creator filter, the counts."""

from decimal import Decimal
from typing import Protocol

from core.errors import BadUserInput
from core.pages import Page
from resolvers.context import Context
from resolvers.ids import (
    cursor_datetime,
    cursor_int,
    decode_cursor,
    encode_cursor,
    page_size,
)
from services import inbox
from services.inbox import ConversationRecord


class CreatorFilterInput(Protocol):
    @property
    def min_followers(self) -> int | None: ...
    @property
    def max_followers(self) -> int | None: ...
    @property
    def categories(self) -> list[str] | None: ...
    @property
    def min_gmv(self) -> Decimal | None: ...
    @property
    def max_gmv(self) -> Decimal | None: ...
    @property
    def search(self) -> str | None: ...


def conversation_cursor(row: ConversationRecord) -> str:
    return encode_cursor(row.last_activity_at.isoformat(), row.id)


def creator_filter(flt: CreatorFilterInput | None) -> inbox.CreatorFilter | None:
    """The service filter of a `CreatorFilter` input."""
    if flt is None:
        return None
    if flt.categories is not None and len(flt.categories) > inbox.MAX_CATEGORIES:
        raise BadUserInput(f"filter.categories may list at most {inbox.MAX_CATEGORIES} categories.")
    return inbox.CreatorFilter(
        min_followers=flt.min_followers,
        max_followers=flt.max_followers,
        categories=flt.categories,
        min_gmv=flt.min_gmv,
        max_gmv=flt.max_gmv,
        search=flt.search,
    )


async def conversations(
    ctx: Context, folder: str, flt: CreatorFilterInput | None, first: int | None, after: str | None
) -> Page:
    """A page of the viewer's inbox folder; the loaders are primed with its rows."""
    size = page_size(first, 20)
    cursor = decode_cursor(after, cursor_datetime, cursor_int)
    rows, has_next = await inbox.list_conversations(ctx.reader, ctx.viewer, folder, creator_filter(flt), size, cursor)
    ctx.loaders.prime_conversations(rows)
    return Page(rows, has_next, cursor is not None)


async def counts(ctx: Context) -> dict[str, int]:
    return await inbox.inbox_counts(ctx.reader, ctx.viewer)
