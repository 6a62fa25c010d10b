"""A shop's products and target collaborations, paginated by id."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from models.database import GatedEngine, built_once, fetch
from models.tables import collaboration_product_t, collaboration_t, product_t, shop_t


async def _page(
    conn: AsyncConnection, table: Table, shop_id: int, first: int, after: int | None
) -> tuple[Sequence[Row[Any]], bool]:
    query = select(table).where(table.c.shop_id == shop_id)
    if after is not None:
        query = query.where(table.c.id > after)
    rows = (await conn.execute(query.order_by(table.c.id).limit(first + 1))).all()
    return rows[:first], len(rows) > first


async def list_products(
    conn: AsyncConnection, shop_id: int, first: int, after: int | None
) -> tuple[Sequence[Row[Any]], bool]:
    """A page of the shop's products, oldest first; (rows, has_next_page)."""
    return await _page(conn, product_t, shop_id, first, after)


async def list_collaborations(
    conn: AsyncConnection, shop_id: int, first: int, after: int | None
) -> tuple[Sequence[Row[Any]], bool]:
    """A page of the shop's target collaborations, oldest first; (rows, has_next_page)."""
    return await _page(conn, collaboration_t, shop_id, first, after)


async def products_by_collaboration(
    db: GatedEngine | AsyncConnection, collaboration_ids: list[int]
) -> dict[int, list[Any]]:
    """{collaboration id: [product rows in the collaboration's order]}, in one query."""
    link = collaboration_product_t
    rows = await fetch(
        db,
        select(link.c.collaboration_id, product_t)
        .join(product_t, product_t.c.id == link.c.product_id)
        .where(link.c.collaboration_id.in_(collaboration_ids))
        .order_by(link.c.collaboration_id, link.c.position),
    )
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.collaboration_id, []).append(row)
    return grouped


_SHOP_STATUS = built_once(select(shop_t.c.status).where(shop_t.c.id == bindparam("shop_id")))


async def shop_status(db: GatedEngine | AsyncConnection, shop_id: int) -> str:
    """The shop's status now (ACTIVE, SUSPENDED or CLOSED)."""
    (row,) = await fetch(db, _SHOP_STATUS, {"shop_id": shop_id})
    return row[0]
