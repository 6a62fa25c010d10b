"""The raw SQL ceiling: asyncpg (a pool of 10) with 32 concurrent callers, no GraphQL, no HTTP.

Two workloads for the same inbox page:
* `raw-api-statements`: the statements the API runs for the page (captured by bench/capture.py),
  replayed in order with their captured parameters on one pooled connection per page;
* `raw-best-sql`: one statement for the whole page, the viewer's shop lookup included: the page of
  state rows first (an ordered walk of the partial index, LIMIT inside), then joined to
  conversation, creator, both blocks and, LATERAL, the last message (by its denormalised id).

The client is Python too (uvloop), on the same two cores, so this is a ceiling as seen by a
Python process, not PostgreSQL's own limit.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import asyncpg

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

BEST_INBOX_SQL = """
WITH page AS (
    SELECT s.conversation_id, s.last_activity_at, s.unread_count, s.starred, s.archived, s.unreplied
    FROM conversation_state s
    WHERE s.side = 'SELLER' AND s.visible AND NOT s.archived
      AND s.owner_id = (SELECT id FROM shop WHERE platform_id = $1 AND status = 'ACTIVE')
    ORDER BY s.last_activity_at DESC, s.conversation_id DESC
    LIMIT $2
)
SELECT p.conversation_id, p.last_activity_at, p.unread_count, p.starred, p.archived, p.unreplied,
       c.entrance, c.creator_has_replied, c.seller_message_count,
       cr.id AS creator_id, cr.handle, cr.display_name, cr.avatar_url, cr.follower_count,
       cr.main_category, cr.gmv_30d,
       m.id AS message_id, m.sender_role, m.kind, m.text, m.created_at AS message_created_at,
       b.shop_id IS NOT NULL AS blocked, sb.shop_id IS NOT NULL AS blocked_by_creator
FROM page p
JOIN conversation c ON c.id = p.conversation_id
JOIN creator cr ON cr.id = c.creator_id
LEFT JOIN LATERAL (SELECT id, sender_role, kind, text, created_at FROM message
                   WHERE id = c.last_message_id) m ON true
LEFT JOIN block b ON b.shop_id = c.shop_id AND b.creator_id = c.creator_id
LEFT JOIN shop_block sb ON sb.shop_id = c.shop_id AND sb.creator_id = c.creator_id
ORDER BY p.last_activity_at DESC, p.conversation_id DESC
"""


@dataclass
class CeilingResult:
    rps: float
    p50_ms: float
    p99_ms: float
    pages: int


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))]


async def _drive(
    dsn: str, statements: list[tuple[str, tuple]], callers: int, seconds: float, pool_size: int
) -> CeilingResult:
    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size, server_settings={"jit": "off"})
    latencies: list[float] = []
    try:

        async def page():
            async with pool.acquire() as conn:
                for sql, args in statements:
                    await conn.fetch(sql, *args)

        for _ in range(20):  # warm-up: every pooled connection prepares the statements
            await asyncio.gather(*(page() for _ in range(pool_size)))
        deadline = time.perf_counter() + seconds

        async def caller():
            while (start := time.perf_counter()) < deadline:
                await page()
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    latencies.sort()
    return CeilingResult(
        rps=len(latencies) / elapsed,
        p50_ms=_percentile(latencies, 0.5) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        pages=len(latencies),
    )


def run(
    dsn: str, statements: list[tuple[str, tuple]], callers: int = 32, seconds: float = 10, pool_size: int = 10
) -> CeilingResult:
    if uvloop is not None:
        return uvloop.run(_drive(dsn, statements, callers, seconds, pool_size))
    return asyncio.run(_drive(dsn, statements, callers, seconds, pool_size))


def best_page_ids(dsn: str, shop_platform_id: str, page: int) -> list[int]:
    """The conversation ids of the best statement's page (checked against the API's)."""

    async def fetch():
        conn = await asyncpg.connect(dsn)
        try:
            return [row["conversation_id"] for row in await conn.fetch(BEST_INBOX_SQL, shop_platform_id, page)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def median_of(results: list[CeilingResult]) -> dict:
    return {
        "rps": statistics.median(r.rps for r in results),
        "p50_ms": statistics.median(r.p50_ms for r in results),
        "p99_ms": statistics.median(r.p99_ms for r in results),
        "errors": 0,
        "runs": [r.__dict__ for r in results],
    }
