"""EXPLAIN every inbox folder and marketplace query, plain and filtered, on a benchmark database.

    python -m bench.explain [--database inbox_bench_large]

Prints, for each query shape the API runs, the tables PostgreSQL would scan sequentially.
"""

import argparse
import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import event, select

from models.database import create_engine
from models.tables import creator_t
from services.inbox import (
    FOLDERS,
    CreatorFilter,
    _page_statement,
    creator_conditions,
    filter_params,
)
from services.marketplace import ORDER_COLUMNS

FILTER = CreatorFilter(
    min_followers=10_000,
    max_followers=5_000_000,
    categories=["Beauty", "Fashion"],
    min_gmv=Decimal("10"),
    max_gmv=Decimal("1000000"),
    search="an",
)


def _shapes():
    """(name, statement, parameters) of every inbox and marketplace query shape."""
    for side in ("SELLER", "CREATOR"):
        for folder in FOLDERS:
            for flt in (None, FILTER):
                params = filter_params(flt)
                statement = _page_statement(side, folder, frozenset(params), True)
                params.update(owner=1, limit=51, after_at=datetime(2100, 1, 1, tzinfo=UTC), after_id=2**31 - 1)
                yield f"inbox {side} {folder}{' filtered' if flt else ''}", statement, params
    for order, column in ORDER_COLUMNS.items():
        params = filter_params(FILTER)
        statement = (
            select(creator_t)
            .where(*creator_conditions(params))
            .order_by(creator_t.c[column].desc(), creator_t.c.id.desc())
            .limit(21)
        )
        yield f"marketplace {order} filtered", statement, params


async def main(database: str) -> None:
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}")

    @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
    def _explain(_conn, _cursor, statement, parameters, _context, _many):
        return "EXPLAIN " + statement, parameters

    try:
        for name, statement, params in _shapes():
            async with engine.connect() as conn:
                plan = [row[0] for row in await conn.execute(statement, params)]
            scans = sorted({line.split(" on ")[1].split()[0] for line in plan if "Seq Scan on" in line})
            print(f"{name:40s} {'sequential scan of ' + ', '.join(scans) if scans else 'index scans only'}")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="inbox_bench_large")
    asyncio.run(main(parser.parse_args().database))
