"""Under load, requests get database connections in the order they asked for them.

SQLAlchemy's async pool lets a newcomer take a connection a woken waiter was about to get,
and the waiter queues again at the back: some requests then wait for seconds. The app's
engine (`GatedEngine`) queues on a fair semaphore sized to the pool instead.
"""

import asyncio
import itertools

from models.database import GatedEngine, create_engine


async def _grant_order(engine, workers: int = 24, rounds: int = 20) -> list[int]:
    """The arrival numbers of requests in the order they got a connection, while `workers` tasks
    ask for one `rounds` times each (holding it for a short query) and the pool holds two."""
    async with engine.connect(), engine.connect():
        pass  # both connections exist: none is being opened (an open's I/O may finish out of order)
    arrivals, granted = itertools.count(), []

    async def worker():
        for _ in range(rounds):
            arrival = next(arrivals)  # nothing awaits between this and asking for the connection
            async with engine.connect() as conn:
                granted.append(arrival)
                await conn.exec_driver_sql("SELECT pg_sleep(0.001)")

    await asyncio.gather(*(worker() for _ in range(workers)))
    return granted


def _overtaken(granted: list[int]) -> int:
    """How many requests got their connection after one that arrived later than them."""
    latest, count = -1, 0
    for arrival in granted:
        count += arrival < latest
        latest = max(latest, arrival)
    return count


async def test_connections_go_to_waiting_requests_in_arrival_order(postgres_url):
    gated = GatedEngine(create_engine(postgres_url, pool_size=2))
    plain = create_engine(postgres_url, pool_size=2)
    try:
        # Order, not timing, so a busy machine changes nothing: the gate hands connections out
        # strictly in arrival order. SQLAlchemy's own pool, measured alike, lets a task that just
        # returned a connection take it back before the waiter it woke runs (that one queues again).
        assert _overtaken(await _grant_order(gated)) == 0
        assert _overtaken(await _grant_order(plain)) > 0
    finally:
        await gated.dispose()
        await plain.dispose()


async def test_the_gate_is_shared_by_the_engines_options(postgres_url):
    engine = GatedEngine(create_engine(postgres_url, pool_size=2))
    reader = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect(), reader.connect():
            waiting = asyncio.create_task(_first_connection(reader))
            await asyncio.sleep(0.05)
            assert not waiting.done()  # both connections are taken: it waits at the gate
        await asyncio.wait_for(waiting, 5)
    finally:
        await engine.dispose()


async def _first_connection(engine) -> None:
    async with engine.connect() as conn:
        await conn.exec_driver_sql("SELECT 1")
