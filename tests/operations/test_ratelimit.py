"""Per-principal token buckets for queries and mutations, in-process and shared through Redis."""

import asyncio

from core.ratelimit import Bucket, MemoryLimiter
from tests.support.app import client_of, make_settings
from tests.support.gql import SEND, gid, text_to_creator
from tests.support.world import build_world

LIMITED = dict(query_burst=3, query_rate=0.01, mutation_burst=2, mutation_rate=0.01)


async def test_queries_over_the_rate_are_refused(aiohttp_client, database_url, tmp_path):
    api = await client_of(aiohttp_client, make_settings(database_url, tmp_path, **LIMITED))
    await build_world(api.engine)
    for _ in range(3):
        await api.query("{ categories }", as_="shop:s1")
    errors = await api.errors("{ categories }", as_="shop:s1")
    assert errors[0]["extensions"]["code"] == "RATE_LIMITED"
    assert errors[0]["extensions"]["retryAfter"] > 0
    # Another principal has a bucket of its own.
    await api.query("{ categories }", as_="shop:s2")


async def test_mutations_over_the_rate_answer_in_user_errors_and_change_nothing(aiohttp_client, database_url, tmp_path):
    api = await client_of(aiohttp_client, make_settings(database_url, tmp_path, **LIMITED))
    await build_world(api.engine)
    for i in range(2):
        data = await api.query(SEND, text_to_creator(1, f"m{i}", f"k{i}"), as_="shop:s1")
        assert data["sendMessage"]["userErrors"] == []
    data = await api.query(SEND, text_to_creator(1, "too many", "k3"), as_="shop:s1")
    assert data["sendMessage"]["userErrors"][0]["code"] == "RATE_LIMITED"
    assert "retry in" in data["sendMessage"]["userErrors"][0]["message"]
    history = await api.query(
        """query($id: ID!) { conversation(id: $id) { messages { nodes { id } } } }""",
        {"id": gid("Conversation", 1)},
        as_="creator:c1",
    )
    assert len(history["conversation"]["messages"]["nodes"]) == 2


async def test_processes_share_buckets_through_redis(aiohttp_client, database_url, tmp_path, redis_server):
    settings = make_settings(database_url, tmp_path, redis_url=redis_server.url, **LIMITED)
    first, second = await client_of(aiohttp_client, settings), await client_of(aiohttp_client, settings)
    await build_world(first.engine)
    await first.query("{ categories }", as_="creator:c1")
    await second.query("{ categories }", as_="creator:c1")
    await first.query("{ categories }", as_="creator:c1")
    errors = await second.errors("{ categories }", as_="creator:c1")
    assert errors[0]["extensions"]["code"] == "RATE_LIMITED"


async def test_idle_buckets_are_evicted_without_changing_any_verdict():
    """The in-process limiter forgets buckets that have refilled (the same as no bucket), so its
    state stays bounded by the principals still refilling, and principals that emptied their
    bucket stay limited through every sweep."""
    limiter = MemoryLimiter()
    slow, fast = Bucket(2, 0.1), Bucket(1, 1000.0)  # 20 s to refill; 1 ms to refill
    limited = [f"heavy{i}" for i in range(50)]
    for key in limited:
        assert (await limiter.take(key, slow)).allowed and (await limiter.take(key, slow)).allowed
        assert not (await limiter.take(key, slow)).allowed
    for round_ in range(10):  # 10,000 principals that sent one request each, 2 ms apart per 1,000
        for i in range(1_000):
            assert (await limiter.take(f"light{round_}-{i}", fast)).allowed
        await asyncio.sleep(0.002)
        assert len(limiter) <= 2 * (1_000 + len(limited)), len(limiter)
    for key in limited:
        verdict = await limiter.take(key, slow)
        assert not verdict.allowed and verdict.retry_after > 0, key
    # A forgotten principal gets the full bucket it would have had.
    assert (await limiter.take("light0-0", fast)).allowed


BULK_LIMITED = dict(bulk_burst=5, bulk_rate=0.01)


async def _bulk(api, creators, key: str) -> dict:
    from tests.support.gql import SEND_BULK, bulk_input

    return (await api.query(SEND_BULK, bulk_input(creators, "Hello", key), as_="shop:s2"))["sendBulkMessage"]


async def test_a_bulk_send_pays_one_token_per_recipient_and_is_refused_whole(aiohttp_client, database_url, tmp_path):
    from tests.support.world import unchanged

    api = await client_of(aiohttp_client, make_settings(database_url, tmp_path, **BULK_LIMITED))
    await build_world(api.engine)
    assert (await _bulk(api, [1, 2, 3], "b1"))["sentCount"] == 3
    async with unchanged(api.engine):  # 2 tokens left: 3 recipients are refused, none sent
        refused = await _bulk(api, [4, 5, 6], "b2")
    assert refused["sentCount"] == 0 and refused["userErrors"][0]["code"] == "RATE_LIMITED", refused
    assert {result["userErrors"][0]["code"] for result in refused["results"]} == {"RATE_LIMITED"}
    assert (await _bulk(api, [4, 5], "b3"))["sentCount"] == 2
    assert (await _bulk(api, [6], "b4"))["userErrors"][0]["code"] == "RATE_LIMITED"


async def test_bulk_recipients_are_counted_across_processes(aiohttp_client, database_url, tmp_path, redis_server):
    settings = make_settings(database_url, tmp_path, redis_url=redis_server.url, **BULK_LIMITED)
    first, second = await client_of(aiohttp_client, settings), await client_of(aiohttp_client, settings)
    await build_world(first.engine)
    assert (await _bulk(first, [1, 2, 3], "b1"))["sentCount"] == 3
    assert (await _bulk(second, [4, 5, 6], "b2"))["userErrors"][0]["code"] == "RATE_LIMITED"
    assert (await _bulk(second, [4, 5], "b3"))["sentCount"] == 2
