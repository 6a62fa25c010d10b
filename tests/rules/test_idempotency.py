"""Idempotency keys: clientMessageId, clientBatchId and clientRequestId."""

from tests.support.gql import (
    REQUEST_SAMPLE,
    SEND_BULK,
    SEND_FULL,
    bulk_input,
    conversation,
    conversation_with,
    product_to_creator,
    quota,
    refused,
    request_sample,
    sample_input,
    send_ok,
    text_in,
    text_to_creator,
    text_to_shop,
    use_up_quota,
)
from tests.support.world import build_world, unchanged

KEY_FIELD = ["input", "clientMessageId"]


async def test_a_retry_returns_the_first_message_and_uses_no_quota(api):
    await build_world(api.engine)
    first = await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    message_id, conversation_id = first["message"]["id"], first["conversation"]["id"]
    assert first["message"]["clientMessageId"] == "k1"

    async with unchanged(api.engine):
        retry = await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
        assert retry["message"]["id"] == message_id and retry["conversation"]["id"] == conversation_id
        # Retried through the conversation id, or with the same text untrimmed, it is the same message.
        assert (await send_ok(api, text_in(conversation_id, "Hello", "k1"), as_="shop:s1"))["message"][
            "id"
        ] == message_id
        assert (await send_ok(api, text_to_creator(1, "  Hello \n", "k1"), as_="shop:s1"))["message"][
            "id"
        ] == message_id

    # Still the same message when the rules would now refuse a new one.
    for i in range(4):
        await send_ok(api, text_to_creator(1, f"More {i}", f"m{i}"), as_="shop:s1")
    await use_up_quota(api, range(2, 11))
    assert (await quota(api))["remaining"] == 0
    async with unchanged(api.engine):
        assert (await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1"))["message"]["id"] == message_id
        retry = await send_ok(api, text_to_creator(2, "Hello creator 2", "quota-2"), as_="shop:s1")
        assert retry["message"]["content"]["text"] == "Hello creator 2"
    assert len((await conversation(api, conversation_id, as_="shop:s1"))["messages"]["nodes"]) == 5
    assert (await quota(api))["used"] == 10


async def test_the_same_key_for_another_message_is_invalid(api):
    await build_world(api.engine)
    first = await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    other = await send_ok(api, text_to_creator(2, "Hello", "k2"), as_="shop:s1")
    async with unchanged(api.engine):
        for variables in (
            text_to_creator(1, "Hello!", "k1"),  # other text
            product_to_creator(1, 1, "k1"),  # other kind
            text_to_creator(3, "Hello", "k1"),  # another creator (would open)
            text_in(other["conversation"]["id"], "Hello", "k1"),
        ):  # another conversation
            payload = await refused(api, SEND_FULL, variables, as_="shop:s1")
            error = payload["userErrors"][0]
            assert error["code"] == "INVALID_INPUT" and error["field"] == KEY_FIELD, payload
    assert await conversation_with(api, 3) is None
    assert (await conversation(api, first["conversation"]["id"], as_="shop:s1"))["messages"]["nodes"][0]["content"][
        "text"
    ] == "Hello"
    assert (await quota(api))["used"] == 2


async def test_keys_are_per_sender(api):
    await build_world(api.engine)
    seller = await send_ok(api, text_to_creator(1, "Hello", "same"), as_="shop:s1")
    creator = await send_ok(api, text_to_shop(1, "Hello", "same"), as_="creator:c1")
    other_shop = await send_ok(api, text_to_creator(1, "Hello", "same"), as_="shop:s2")
    other_creator = await send_ok(api, text_to_shop(1, "Hello", "same"), as_="creator:c2")
    ids = {p["message"]["id"] for p in (seller, creator, other_shop, other_creator)}
    assert len(ids) == 4
    assert seller["conversation"]["id"] == creator["conversation"]["id"]
    assert creator["message"]["senderRole"] == "CREATOR"
    # Each retry finds its own sender's message.
    async with unchanged(api.engine):
        assert (await send_ok(api, text_to_shop(1, "Hello", "same"), as_="creator:c1"))["message"]["id"] == creator[
            "message"
        ]["id"]
        assert (await send_ok(api, text_to_creator(1, "Hello", "same"), as_="shop:s1"))["message"]["id"] == seller[
            "message"
        ]["id"]
        payload = await refused(api, SEND_FULL, text_to_shop(2, "Hello", "same"), as_="creator:c1")
        assert payload["userErrors"][0]["code"] == "INVALID_INPUT"
    # The key is shown to its sender only.
    seen = await conversation(api, seller["conversation"]["id"], as_="creator:c1")
    keys = {m["senderRole"]: m["clientMessageId"] for m in seen["messages"]["nodes"]}
    assert keys == {"SELLER": None, "CREATOR": "same"}


async def test_bulk_retry_with_the_same_batch_key(api):
    await build_world(api.engine)
    first = (await api.query(SEND_BULK, bulk_input([1, 2, 3], "Hello all", "b1"), as_="shop:s1"))["sendBulkMessage"]
    assert (first["sentCount"], first["failedCount"]) == (3, 0)
    async with unchanged(api.engine):
        retry = (await api.query(SEND_BULK, bulk_input([1, 2, 3], "Hello all", "b1"), as_="shop:s1"))["sendBulkMessage"]
        assert [r["message"]["id"] for r in retry["results"]] == [r["message"]["id"] for r in first["results"]]
        assert (retry["sentCount"], retry["failedCount"]) == (3, 0)
        other = (await api.query(SEND_BULK, bulk_input([1, 2, 3], "Other text", "b1"), as_="shop:s1"))[
            "sendBulkMessage"
        ]
        assert other["sentCount"] == 0 and other["failedCount"] == 3
        assert other["userErrors"][0]["code"] == "INVALID_INPUT"
        assert other["userErrors"][0]["field"] == ["input", "clientBatchId"]
        assert all(r["userErrors"][0]["code"] == "INVALID_INPUT" for r in other["results"])
    assert (await quota(api))["used"] == 3
    # A new batch key is a new message.
    again = (await api.query(SEND_BULK, bulk_input([1], "Hello all", "b2"), as_="shop:s1"))["sendBulkMessage"]
    assert again["sentCount"] == 1 and again["results"][0]["message"]["id"] != first["results"][0]["message"]["id"]


async def test_sample_request_retry_with_the_same_key(api):
    await build_world(api.engine)
    first = await request_sample(api, 1, "req1", note="For a review", as_="creator:c1")
    async with unchanged(api.engine):
        assert (await request_sample(api, 1, "req1", note="For a review", as_="creator:c1"))["id"] == first["id"]
        for variables in (
            sample_input(2, "req1", "For a review"),
            sample_input(1, "req1", "Other note"),
            sample_input(4, "req1", "For a review"),
        ):
            payload = await refused(api, REQUEST_SAMPLE, variables, as_="creator:c1")
            error = payload["userErrors"][0]
            assert error["code"] == "INVALID_INPUT" and error["field"] == ["input", "clientRequestId"], payload
    seen = await conversation(api, first["conversation"]["id"], as_="shop:s1")
    assert [m["content"]["__typename"] for m in seen["messages"]["nodes"]] == ["SampleRequestCard"]
    assert len(seen["sampleRequests"]) == 1
    # Keys are per creator.
    other = await request_sample(api, 1, "req1", note="For a review", as_="creator:c2")
    assert other["id"] != first["id"]
