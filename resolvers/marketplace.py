"""The Find creators marketplace and creator profiles."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Row

from core.pages import Page
from resolvers.access import require_seller
from resolvers.context import Context
from resolvers.ids import (
    cursor_decimal,
    cursor_int,
    decode_cursor,
    decode_id,
    encode_cursor,
    page_size,
)
from resolvers.inbox import CreatorFilterInput, creator_filter
from services import marketplace


def creator_cursor(order: str) -> Callable[[Row[Any]], str]:
    return lambda row: encode_cursor(marketplace.order_value(row, order), row.id)


async def creators(
    ctx: Context, flt: CreatorFilterInput | None, order: str, first: int | None, after: str | None
) -> Page:
    require_seller(ctx, "The creator marketplace")
    size = page_size(first, 20)
    value_type = cursor_int if order == "FOLLOWERS_DESC" else cursor_decimal
    cursor = decode_cursor(after, value_type, cursor_int)
    async with ctx.connect() as conn:
        rows, has_next = await marketplace.list_creators(conn, creator_filter(flt), order, size, cursor)
    return Page(rows, has_next, cursor is not None)


async def creator(ctx: Context, creator_id: str) -> Any:
    return await creator_by_pk(ctx, decode_id(creator_id, "Creator"))


async def creator_by_pk(ctx: Context, pk: int) -> Any:
    """A creator's profile: any for sellers (the marketplace shows them all), only their own for
    creators (creators deal with shops, never with each other)."""
    row = await ctx.loaders.creator_by_id.load(pk)
    return row if row and (ctx.viewer.is_seller or row.id == ctx.viewer.creator_id) else None


async def categories(ctx: Context) -> list[str]:
    async with ctx.connect() as conn:
        return await marketplace.categories(conn)
