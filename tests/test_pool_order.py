"""Under load, requests get database connections in the order they asked for them.

SQLAlchemy's async pool lets a newcomer take a connection a woken waiter was about to get,
and the waiter queues again at the back: some requests then wait for seconds. The app's
engine (`GatedEngine`) queues on a fair semaphore sized to the pool instead.
"""

import asyncio
import time

from models.database import GatedEngine, create_engine


async def _overtakes(engine, workers: int = 16, rounds: int = 15) -> int:
    """How often a connection went to a request that asked for it after another still waiting."""
    asked_and_got: list[tuple[float, float]] = []

    async def worker():
        for _ in range(rounds):
            asked = time.perf_counter()
            async with engine.connect() as conn:
                asked_and_got.append((asked, time.perf_counter()))
                await conn.exec_driver_sql("SELECT pg_sleep(0.001)")

    await asyncio.gather(*(worker() for _ in range(workers)))
    by_asking = sorted(asked_and_got)
    return sum(1 for (_, got), (_, got_later) in zip(by_asking, by_asking[1:], strict=False) if got_later < got)


async def test_connections_go_to_waiting_requests_in_arrival_order(postgres_url):
    engine = GatedEngine(create_engine(postgres_url, pool_size=2))
    try:
        assert await _overtakes(engine) == 0
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
