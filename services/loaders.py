"""Batch reads by key, the queries behind the per-request DataLoaders."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from models.database import GatedEngine, fetch


async def rows_by_key(
    db: GatedEngine | AsyncConnection, table: Table, keys: Sequence[Any], key: str = "id"
) -> dict[Any, Any]:
    """{key: row} for the rows of `table` whose `key` column is in `keys`, in one query."""
    rows = await fetch(db, select(table).where(table.c[key].in_(keys)))
    return {getattr(row, key): row for row in rows}


async def rows_grouped_by(
    db: GatedEngine | AsyncConnection, table: Table, keys: Sequence[Any], key: str, order_by: str = "id"
) -> dict[Any, list[Any]]:
    """{key: [rows...]} for the rows of `table` whose `key` is in `keys`, in one query."""
    rows = await fetch(db, select(table).where(table.c[key].in_(keys)).order_by(table.c[order_by]))
    grouped: defaultdict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped
