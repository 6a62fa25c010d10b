"""The Find creators marketplace: filtered, ordered, keyset-paginated creators."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from models.tables import creator_t
from services.inbox import CreatorFilter, creator_conditions, filter_params

ORDER_COLUMNS = {"FOLLOWERS_DESC": "follower_count", "GMV_DESC": "gmv_30d"}


def order_value(row: Row[Any], order: str) -> int | Decimal:
    """The value a row is ordered by, as kept in its cursor."""
    return getattr(row, ORDER_COLUMNS[order])


async def list_creators(
    conn: AsyncConnection, flt: CreatorFilter | None, order: str, first: int, after: tuple[int | Decimal, int] | None
) -> tuple[Sequence[Row[Any]], bool]:
    """One page of creators, highest first by `order`, ties by id; (rows, has_next_page)."""
    column = creator_t.c[ORDER_COLUMNS[order]]
    params = filter_params(flt)
    query = select(creator_t).where(*creator_conditions(params))
    if after is not None:
        query = query.where(tuple_(column, creator_t.c.id) < tuple_(*after))
    rows = (await conn.execute(query.order_by(column.desc(), creator_t.c.id.desc()).limit(first + 1), params)).all()
    return rows[:first], len(rows) > first


async def categories(conn: AsyncConnection) -> list[str]:
    """Distinct main categories, alphabetically."""
    rows = await conn.execute(select(creator_t.c.main_category).distinct().order_by(creator_t.c.main_category))
    return list(rows.scalars())
