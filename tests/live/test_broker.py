"""Tests of the pub/sub brokers, against real redis-server processes started here.

The shared Redis on 6379 is left alone: each module run gets a private server, and the
restart test starts (and kills) one of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis
import redis.asyncio

from subscriptions import (
    RESYNC,
    SYSTEM_CHANNEL,
    Broker,
    InProcessBroker,
    RedisBroker,
    SlowConsumer,
    Subscription,
    create_broker,
    participant_channel,
)
from tests.support.processes import RedisServer

TIMEOUT = 3.0


def unique_channel(role: str = "shop") -> str:
    return participant_channel(f"{role}-{uuid.uuid4().hex[:8]}", 12)


async def next_event(sub: Subscription, within: float = TIMEOUT) -> dict:
    return await asyncio.wait_for(anext(sub), within)


async def wait_until_equal(get: Callable[[], Awaitable[object]], expected: object) -> None:
    async with asyncio.timeout(TIMEOUT):
        while await get() != expected:
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(broker: Broker) -> AsyncIterator[Broker]:
    await asyncio.wait_for(broker.start(), TIMEOUT)
    try:
        yield broker
    finally:
        await asyncio.wait_for(broker.close(), TIMEOUT)


def make_broker(kind: str, url: str) -> Broker:
    if kind == "memory":
        return InProcessBroker()
    return RedisBroker(url, sharded=kind == "redis-sharded", name=f"test-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(str(tmp_path_factory.mktemp("redis")))
    server.start()
    yield server
    server.kill()


@pytest_asyncio.fixture
async def admin(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(params=["memory", "redis", "redis-sharded"])
async def broker(request: pytest.FixtureRequest, redis_server: RedisServer) -> AsyncIterator[Broker]:
    async with running(make_broker(request.param, redis_server.url)) as started:
        yield started


def test_participant_channel_names() -> None:
    assert participant_channel("shop", 12) == "inbox:shop:12"
    assert participant_channel("creator", 7) == "inbox:creator:7"
    assert SYSTEM_CHANNEL == "inbox:system"


@pytest.mark.asyncio
async def test_create_broker_picks_the_implementation(redis_server: RedisServer) -> None:
    assert isinstance(create_broker(None), InProcessBroker)
    broker = create_broker(redis_server.url)
    assert isinstance(broker, RedisBroker)
    await broker.close()


@pytest.mark.asyncio
async def test_publish_reaches_every_subscriber_of_the_channel_only(broker: Broker) -> None:
    shop, creator = unique_channel("shop"), unique_channel("creator")
    events = [{"type": "message", "n": n} for n in range(5)]
    async with (
        broker.subscribe([shop]) as first,
        broker.subscribe([shop, creator]) as second,
        broker.subscribe(creator) as bystander,
    ):
        for event in events:
            assert await broker.publish(shop, event) is True
        assert [await next_event(first) for _ in events] == events
        assert [await next_event(second) for _ in events] == events
        # Had the shop's events leaked to the bystander, they would come before this one.
        assert await broker.publish(creator, {"type": "marker"})
        assert await next_event(bystander) == {"type": "marker"}
        assert await next_event(second) == {"type": "marker"}


@pytest.mark.asyncio
@pytest.mark.parametrize("sharded", [False, True], ids=["classic", "sharded"])
async def test_events_cross_processes(redis_server: RedisServer, sharded: bool) -> None:
    channel = unique_channel()
    async with (
        running(RedisBroker(redis_server.url, sharded=sharded)) as listener,
        running(RedisBroker(redis_server.url, sharded=sharded)) as publisher,
        listener.subscribe([channel]) as remote,
        publisher.subscribe([channel, SYSTEM_CHANNEL]) as local,
    ):
        assert await publisher.publish(channel, {"type": "message", "id": 1})
        assert await next_event(remote) == {"type": "message", "id": 1}
        assert await next_event(local) == {"type": "message", "id": 1}
        # The system channel is listened to without any subscription asking for it.
        assert await listener.publish(SYSTEM_CHANNEL, {"type": "shop_status", "shop_id": 3})
        assert await next_event(local) == {"type": "shop_status", "shop_id": 3}


@pytest.mark.asyncio
@pytest.mark.parametrize("sharded", [False, True], ids=["classic", "sharded"])
async def test_one_pubsub_connection_and_refcounted_channels(
    redis_server: RedisServer, admin: redis.asyncio.Redis, sharded: bool
) -> None:
    name = f"inbox-broker-{uuid.uuid4().hex[:8]}"
    subscribe_stat = "cmdstat_ssubscribe" if sharded else "cmdstat_subscribe"
    numsub = admin.pubsub_shardnumsub if sharded else admin.pubsub_numsub

    async def subscribe_calls() -> int:
        return (await admin.info("commandstats")).get(subscribe_stat, {}).get("calls", 0)

    async def listeners(channel: str) -> int:
        return (await numsub(channel))[0][1]

    async def sub_connections() -> int:
        return sum(client["name"] == f"{name}-sub" for client in await admin.client_list())

    channel, other = unique_channel(), unique_channel()
    async with running(RedisBroker(redis_server.url, sharded=sharded, name=name)) as broker:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(broker.subscribe([channel]))
            calls = await subscribe_calls()
            async with contextlib.AsyncExitStack() as leavers:
                for _ in range(4):
                    await leavers.enter_async_context(broker.subscribe([channel]))
                assert await subscribe_calls() == calls  # already listened to: nothing sent
                await stack.enter_async_context(broker.subscribe([other, SYSTEM_CHANNEL]))
                assert broker.subscribers_count() == 6
                assert await sub_connections() == 1
                assert await listeners(channel) == 1

            # Entering a new subscription waits for Redis to apply its SUBSCRIBE, so an
            # UNSUBSCRIBE wrongly sent by the leavers would have been applied by then.
            await stack.enter_async_context(broker.subscribe([unique_channel()]))
            assert await listeners(channel) == 1

        # The last local subscribers left: UNSUBSCRIBE was sent.
        await wait_until_equal(lambda: listeners(channel), 0)
        await wait_until_equal(lambda: listeners(other), 0)
        assert await listeners(SYSTEM_CHANNEL) == 1
        assert await sub_connections() == 1
        assert broker.subscribers_count() == 0
        assert not broker._subscribers  # and no channel is left in its table of local subscriptions


@pytest.mark.asyncio
async def test_slow_consumer_is_dropped_without_affecting_others(broker: Broker) -> None:
    channel = unique_channel()
    events = [{"n": n} for n in range(10)]
    async with broker.subscribe([channel], maxsize=4) as slow, broker.subscribe([channel]) as fast:
        for event in events:
            assert await broker.publish(channel, event)
        # Events are offered to both in turn: once the fast one has them all, so had the slow one.
        assert [await next_event(fast) for _ in events] == events
        with pytest.raises(SlowConsumer):
            await next_event(slow)
        assert broker.subscribers_count() == 1
        assert await broker.publish(channel, {"n": 10})
        assert await next_event(fast) == {"n": 10}


@pytest.mark.asyncio
@pytest.mark.parametrize("sharded", [False, True], ids=["classic", "sharded"])
async def test_resync_after_redis_restart(tmp_path: Path, sharded: bool) -> None:
    server = RedisServer(str(tmp_path))
    server.start()
    try:
        channel, late_channel = unique_channel(), unique_channel()
        async with (
            running(RedisBroker(server.url, sharded=sharded)) as broker,
            broker.subscribe([channel]) as sub,
        ):
            assert await broker.publish(channel, {"n": 1})
            assert await next_event(sub) == {"n": 1}

            server.kill()
            started = time.monotonic()
            assert await asyncio.wait_for(broker.publish(channel, {"n": 2}), TIMEOUT) is False
            assert time.monotonic() - started < 2
            assert broker.publish_failures == 1

            async with broker.subscribe([late_channel]) as late:  # while Redis is down
                server.start()
                assert await next_event(sub, within=10) == RESYNC
                assert await next_event(late) == RESYNC
                assert await broker.publish(channel, {"n": 3})
                assert await next_event(sub) == {"n": 3}
                assert await broker.publish(late_channel, {"n": 4})
                assert await next_event(late) == {"n": 4}
    finally:
        server.kill()


@pytest.mark.asyncio
async def test_close_ends_subscriptions(broker: Broker) -> None:
    channel = unique_channel()
    async with broker.subscribe([channel]) as closed_alone, broker.subscribe([channel]) as sub:
        consumer = asyncio.create_task(_collect(sub))
        await asyncio.sleep(0.05)  # let it block on the empty queue
        assert await broker.publish(channel, {"n": 1})
        await next_event(closed_alone)
        closed_alone.close()
        with pytest.raises(StopAsyncIteration):
            await next_event(closed_alone)

        await asyncio.wait_for(broker.close(), TIMEOUT)
        assert await asyncio.wait_for(consumer, TIMEOUT) == [{"n": 1}]
        assert broker.subscribers_count() == 0
    with pytest.raises(RuntimeError):
        async with broker.subscribe([channel]):
            pass


async def _collect(sub: Subscription) -> list[dict]:
    return [event async for event in sub]


@pytest.mark.asyncio
async def test_publish_many_delivers_in_order(broker: Broker) -> None:
    """A write that changed many conversations publishes its events at once (one pipeline on Redis),
    in order on every channel."""
    shop, creator = unique_channel("shop"), unique_channel("creator")
    messages = [(creator if n % 3 else shop, {"n": n}) for n in range(300)]
    async with broker.subscribe([shop], maxsize=1000) as one, broker.subscribe([shop, creator], maxsize=1000) as both:
        assert await broker.publish_many(messages) is True
        assert [await next_event(both) for _ in messages] == [event for _, event in messages]
        assert [await next_event(one) for _ in range(100)] == [event for channel, event in messages if channel == shop]
        assert await broker.publish_many([]) is True


@pytest.mark.asyncio
async def test_publish_many_fails_fast_and_counts_when_redis_is_down(tmp_path: Path) -> None:
    server = RedisServer(str(tmp_path))
    server.start()
    try:
        async with running(RedisBroker(server.url)) as broker:
            channel = unique_channel()
            server.kill()
            started = time.monotonic()
            messages = [(channel, {"n": n}) for n in range(3)]
            assert await asyncio.wait_for(broker.publish_many(messages), TIMEOUT) is False
            assert time.monotonic() - started < 2 and broker.publish_failures == 3
    finally:
        server.kill()
