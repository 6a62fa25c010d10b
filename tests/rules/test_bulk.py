"""Bulk messages: up to 100 creators, per-creator outcomes, every send rule applied per creator."""

from tests.support.gql import (
    BLOCK,
    SEND_BULK,
    bulk_input,
    conversation,
    conversation_with,
    counts,
    creator_input,
    gid,
    quota,
    send_ok,
    start,
    text_to_creator,
    text_to_shop,
)
from tests.support.world import build_world, unchanged


async def bulk(api, variables, as_="shop:s1") -> dict:
    payload = (await api.query(SEND_BULK, variables, as_=as_))["sendBulkMessage"]
    assert payload["sentCount"] + payload["failedCount"] == len(variables["input"]["creatorIds"]), payload
    assert len(payload["results"]) == len(variables["input"]["creatorIds"])
    return payload


def codes(payload) -> list:
    return [r["userErrors"][0]["code"] if r["userErrors"] else None for r in payload["results"]]


async def test_at_most_100_creators(api):
    await build_world(api.engine, creators=101)
    async with unchanged(api.engine):
        for creators in (range(1, 102), [], [1, 2, 1]):
            payload = await bulk(api, bulk_input(creators, "Hello", "b-refused"), as_="shop:s2")
            assert payload["sentCount"] == 0
            assert payload["userErrors"][0]["code"] == "INVALID_INPUT", payload
            assert payload["userErrors"][0]["field"] == ["input", "creatorIds"]
    payload = await bulk(api, bulk_input(range(1, 101), "Hello", "b100"), as_="shop:s2")
    assert (payload["sentCount"], payload["failedCount"]) == (100, 0)
    assert codes(payload) == [None] * 100
    assert [r["creatorId"] for r in payload["results"]] == [gid("Creator", i) for i in range(1, 101)]
    assert (await quota(api, "shop:s2"))["used"] == 100
    assert (await counts(api, as_="shop:s2"))["all"] == 100


async def test_bulk_uses_the_weekly_quota_per_creator(api):
    await build_world(api.engine)
    payload = await bulk(api, bulk_input(range(1, 13), "Hello everyone", "b1"))
    assert (payload["sentCount"], payload["failedCount"]) == (10, 2)
    assert codes(payload) == [None] * 10 + ["WEEKLY_OUTREACH_LIMIT_REACHED"] * 2
    assert all(r["message"] is None for r in payload["results"][10:])
    assert (await quota(api))["remaining"] == 0
    for creator in range(1, 11):
        seen = await conversation_with(api, creator)
        assert seen["entrance"] == "BULK_MESSAGE"
        assert [m["content"]["text"] for m in seen["messages"]["nodes"]] == ["Hello everyone"]
    for creator in (11, 12):
        assert await conversation_with(api, creator) is None
    assert (await counts(api, as_="creator:c1"))["unread"] == 1


async def test_bulk_applies_every_rule_per_creator(api):
    await build_world(api.engine)
    await api.query(BLOCK, creator_input(2), as_="shop:s1")
    for i in range(5):
        await send_ok(api, text_to_creator(3, f"Message {i}", f"m{i}"), as_="shop:s1")
    await send_ok(api, text_to_shop(1, "Hi shop", "r1"), as_="creator:c4")
    opened = await start(api, 5, "FIND_CREATORS")
    used = (await quota(api))["used"]

    payload = await bulk(api, bulk_input([1, 2, 3, 4, 5, 999], "Spring offer", "b1"))
    assert codes(payload) == [None, "BLOCKED", "PRE_REPLY_LIMIT_REACHED", None, None, "NOT_FOUND"], payload
    assert (payload["sentCount"], payload["failedCount"]) == (3, 3)
    assert payload["userErrors"] == []
    assert await conversation_with(api, 2) is None
    assert len((await conversation_with(api, 3))["messages"]["nodes"]) == 5
    # c4 wrote first (no unit), c5's conversation keeps its entrance; c1 and c5 use one unit each.
    assert (await conversation_with(api, 4))["entrance"] == "CREATOR_INITIATED"
    seen = await conversation(api, opened["id"], as_="shop:s1")
    assert seen["entrance"] == "FIND_CREATORS" and len(seen["messages"]["nodes"]) == 1
    assert (await quota(api))["used"] == used + 2


async def test_bulk_content_rules(api):
    await build_world(api.engine)
    async with unchanged(api.engine):
        payload = await bulk(api, bulk_input([1, 2], "   ", "b1"))
        assert payload["userErrors"][0]["code"] == "INVALID_INPUT"
        assert payload["userErrors"][0]["field"] == ["input", "content", "text"]
        assert codes(payload) == ["INVALID_INPUT", "INVALID_INPUT"]
        product = {
            "input": {
                "creatorIds": [gid("Creator", 1)],
                "content": {"productId": gid("Product", 4)},
                "clientBatchId": "b2",
            }
        }
        payload = await bulk(api, product)
        assert codes(payload) == ["INVALID_INPUT"] and payload["failedCount"] == 1
    product["input"]["content"] = {"productId": gid("Product", 1)}
    payload = await bulk(api, product)
    assert payload["sentCount"] == 1
    assert (await conversation_with(api, 1))["messages"]["nodes"][0]["content"]["__typename"] == "ProductCard"


async def test_bulk_is_for_sellers(api):
    await build_world(api.engine)
    async with unchanged(api.engine):
        errors = await api.errors(SEND_BULK, bulk_input([1], "Hello", "b1"), as_="creator:c1")
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
