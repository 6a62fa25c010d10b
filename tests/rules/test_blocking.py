"""Blocking a creator: no messages either way, and a notice the creator sees."""

from tests.support.gql import (
    BLOCK,
    REQUEST_SAMPLE,
    SEND_FULL,
    UNBLOCK,
    conversation,
    conversation_with,
    counts,
    creator_input,
    product_to_creator,
    refused,
    sample_input,
    send_ok,
    text_in,
    text_to_creator,
    text_to_shop,
)
from tests.support.world import build_world, unchanged


async def block(api, creator: int, *, as_: str = "shop:s1", document: str = BLOCK) -> dict:
    (payload,) = (await api.query(document, creator_input(creator), as_=as_)).values()
    assert payload["userErrors"] == [], payload
    return payload


def notices(messages: list) -> list:
    return [m["content"]["code"] for m in messages if m["content"]["__typename"] == "SystemNotice"]


async def test_block_and_unblock_add_one_notice_the_creator_sees(api):
    await build_world(api.engine)
    sent = await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    conversation_id = sent["conversation"]["id"]
    await send_ok(api, text_to_shop(1, "Hi", "r1"), as_="creator:c1")
    unread_before = (await conversation(api, conversation_id, as_="creator:c1"))["unreadCount"]

    payload = await block(api, 1)
    assert payload["creator"]["isBlocked"] is True and payload["conversation"]["isBlocked"] is True
    async with unchanged(api.engine):
        again = await block(api, 1)
        assert again["creator"]["isBlocked"] is True

    seen = await conversation(api, conversation_id, as_="creator:c1")
    last = seen["messages"]["nodes"][-1]
    assert last["senderRole"] == "SYSTEM" and last["isMine"] is False
    assert last["content"]["code"] == "CREATOR_BLOCKED" and last["content"]["text"]
    assert notices(seen["messages"]["nodes"]) == ["CREATOR_BLOCKED"]
    assert seen["isBlocked"] is True
    assert seen["lastMessage"]["senderRole"] == "SYSTEM"
    assert seen["unreadCount"] == unread_before  # notices are never unread
    assert (await conversation_with(api, 1))["isBlocked"] is True

    payload = await block(api, 1, document=UNBLOCK)
    assert payload["creator"]["isBlocked"] is False and payload["conversation"]["isBlocked"] is False
    async with unchanged(api.engine):
        await block(api, 1, document=UNBLOCK)
    seen = await conversation(api, conversation_id, as_="creator:c1")
    assert notices(seen["messages"]["nodes"]) == ["CREATOR_BLOCKED", "CREATOR_UNBLOCKED"]
    assert seen["isBlocked"] is False
    # The seller sees the notices too, and they leave the seller's folders alone.
    shop_side = await conversation(api, conversation_id, as_="shop:s1")
    assert notices(shop_side["messages"]["nodes"]) == ["CREATOR_BLOCKED", "CREATOR_UNBLOCKED"]
    assert shop_side["unreadCount"] == 1 and shop_side["isUnreplied"] is True
    # Messages flow again both ways.
    await send_ok(api, text_to_shop(1, "Thanks", "r2"), as_="creator:c1")
    await send_ok(api, text_to_creator(1, "Welcome back", "k2"), as_="shop:s1")


async def test_a_blocked_creator_cannot_message_or_request_samples(api):
    await build_world(api.engine)
    sent = await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    conversation_id = sent["conversation"]["id"]
    await block(api, 1)
    counts_before = await counts(api, as_="shop:s1")
    async with unchanged(api.engine):
        for variables in (text_in(conversation_id, "Why?", "r1"), text_to_shop(1, "Hello?", "r2")):
            payload = await refused(api, SEND_FULL, variables, as_="creator:c1")
            assert payload["userErrors"][0]["code"] == "BLOCKED", payload
            assert payload["message"] is None
        payload = await refused(api, REQUEST_SAMPLE, sample_input(1, "req1"), as_="creator:c1")
        assert payload["userErrors"][0]["code"] == "BLOCKED"
        assert payload["sampleRequest"] is None
    assert await counts(api, as_="shop:s1") == counts_before
    # Other shops are not affected.
    await send_ok(api, text_to_shop(2, "Hello other shop", "r3"), as_="creator:c1")


async def test_the_seller_cannot_message_a_blocked_creator(api):
    await build_world(api.engine)
    await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    await block(api, 1)
    async with unchanged(api.engine):
        for variables in (text_to_creator(1, "Still there?", "k2"), product_to_creator(1, 1, "k3")):
            payload = await refused(api, SEND_FULL, variables, as_="shop:s1")
            error = payload["userErrors"][0]
            assert error["code"] == "BLOCKED" and "unblock" in error["message"].lower(), payload
    await block(api, 1, document=UNBLOCK)
    await send_ok(api, text_to_creator(1, "Still there?", "k2"), as_="shop:s1")


async def test_blocking_a_creator_without_a_conversation(api):
    await build_world(api.engine)
    payload = await block(api, 7)
    assert payload["creator"] == {"id": payload["creator"]["id"], "isBlocked": True}
    assert payload["conversation"] is None
    assert await conversation_with(api, 7) is None
    async with unchanged(api.engine):
        payload = await refused(api, SEND_FULL, text_to_shop(1, "Hello", "r1"), as_="creator:c7")
        assert payload["userErrors"][0]["code"] == "BLOCKED"
    assert await conversation_with(api, 7) is None
    await block(api, 7, document=UNBLOCK)
    assert await conversation_with(api, 7) is None


async def test_only_sellers_block(api):
    await build_world(api.engine)
    async with unchanged(api.engine):
        errors = await api.errors(BLOCK, creator_input(2), as_="creator:c1")
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
        payload = await refused(api, BLOCK, creator_input(999), as_="shop:s1")
        assert payload["userErrors"][0]["code"] == "NOT_FOUND"
