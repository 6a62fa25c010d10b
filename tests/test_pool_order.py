"""Under load, requests get database connections in the order they asked for them.

SQLAlchemy's async pool lets a newcomer take a connection a woken waiter was about to get,
and the waiter queues again at the back: some requests then wait for seconds. The app's
engine (`GatedEngine`) queues on a fair semaphore sized to the pool instead.
"""

import asyncio
import statistics
import time

from models.database import GatedEngine, create_engine


async def _long_wait(engine, workers: int = 24, rounds: int = 20) -> float:
    """The 99th percentile wait for a connection, in median waits, while `workers` tasks ask for
    one `rounds` times each (holding it for a short query) and the pool holds two."""
    waits: list[float] = []

    async def worker():
        for _ in range(rounds):
            asked = time.perf_counter()
            async with engine.connect() as conn:
                waits.append(time.perf_counter() - asked)
                await conn.exec_driver_sql("SELECT pg_sleep(0.001)")

    await asyncio.gather(*(worker() for _ in range(workers)))
    return statistics.quantiles(waits, n=100)[98] / statistics.median(waits)


async def test_connections_go_to_waiting_requests_in_arrival_order(postgres_url):
    engine = GatedEngine(create_engine(postgres_url, pool_size=2))
    try:
        # In arrival order, nobody waits much longer than the rest: each waits for the requests
        # ahead of it (about 1.2x the median here). SQLAlchemy's pool alone lets newcomers
        # overtake, and its 99th percentile is about 2x the median.
        assert await _long_wait(engine) < 1.6
    finally:
        await engine.dispose()


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
