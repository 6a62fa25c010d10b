"""A shop's products and target collaborations: shown only to the shop's own seller."""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from core.pages import Page
from resolvers.context import Context
from resolvers.ids import cursor_int, decode_cursor, page_size
from services import catalog

# (connection, shop id, page size, after) -> (rows, has next page)
ShopPageRead = Callable[[AsyncConnection, int, int, int | None], Awaitable[tuple[Sequence[Row[Any]], bool]]]


async def shop_products(ctx: Context, shop_id: int, first: int | None, after: str | None) -> Page | None:
    return await _own_shop_page(ctx, catalog.list_products, shop_id, first, after)


async def shop_collaborations(ctx: Context, shop_id: int, first: int | None, after: str | None) -> Page | None:
    return await _own_shop_page(ctx, catalog.list_collaborations, shop_id, first, after)


async def _own_shop_page(
    ctx: Context, fetch: ShopPageRead, shop_id: int, first: int | None, after: str | None
) -> Page | None:
    size, cursor = page_size(first, 20), decode_cursor(after, cursor_int)
    if ctx.viewer.shop_id != shop_id:
        return None
    async with ctx.connect() as conn:
        rows, has_next = await fetch(conn, shop_id, size, cursor)
    return Page(rows, has_next, cursor is not None)
