"""Webhooks delivered by a real receiver: every committed event at least once, signed so that the
`standardwebhooks` package verifies it, nothing for a rolled-back change, and retries, timeouts, 410,
a receiver restarting and giving up after three days handled (the schedule scaled down)."""

import asyncio

import pytest
import pytest_asyncio
import standardwebhooks
from sqlalchemy import func, select

from core.errors import ErrorCode, RuleViolation
from models.tables import webhook_delivery_t
from services import transactions, webhooks
from tests.support.app import world_api
from tests.support.gql import (
    APPROVE_SAMPLE,
    BLOCK_SHOP,
    gid,
    request_sample,
    send_ok,
    shop_input,
    start_input,
    text_to_creator,
    text_to_shop,
)
from tests.support.receiver import Receiver
from tests.support.webhooks import REDELIVER, ROTATE, UPDATE, create_endpoint, deliveries, endpoints, settled

START = "mutation Start($input: StartConversationInput!) { startConversation(input: $input) { userErrors { code } } }"


@pytest_asyncio.fixture
async def receiver():
    receiver = await Receiver().start()
    yield receiver
    await receiver.stop()


async def hook_api(aiohttp_client, database_url, tmp_path, **overrides):
    settings = dict(
        webhook_allow_private=True, webhook_retry_scale=0.01, webhook_poll_seconds=0.2, webhook_timeout_seconds=1.0
    )
    return await world_api(aiohttp_client, database_url, tmp_path, **(settings | overrides))


@pytest_asyncio.fixture
async def api(aiohttp_client, database_url, tmp_path):
    return await hook_api(aiohttp_client, database_url, tmp_path)


def verified(secret: str, received) -> dict:
    """The payload, once the Standard Webhooks library verified its signature."""
    return standardwebhooks.Webhook(secret).verify(received.body, received.headers)


async def test_a_message_reaches_the_receiver_signed_with_the_api_s_ids(api, receiver):
    endpoint, secret = await create_endpoint(api, receiver.url, ["MESSAGE_CREATED"])
    sent = (await send_ok(api, text_to_creator(2, "Hello there", "k1"), as_="shop:s1"))["message"]
    reply = (await send_ok(api, text_to_shop(1, "Hi back", "k2"), as_="creator:c2"))["message"]

    first, second = await receiver.wait_for(2)
    payloads = [verified(secret, first), verified(secret, second)]
    assert [p["type"] for p in payloads] == ["message.created", "message.created"]
    data = payloads[0]["data"]
    conversation = data["conversationId"]
    assert data == {
        "shopId": gid("Shop", 1),
        "conversationId": conversation,
        "creatorId": gid("Creator", 2),
        "message": {
            "id": sent["id"],
            "senderRole": "SELLER",
            "createdAt": data["message"]["createdAt"],
            "content": {"__typename": "TextContent", "text": "Hello there"},
        },
    }
    assert payloads[1]["data"]["message"]["id"] == reply["id"]
    assert payloads[1]["data"]["message"]["senderRole"] == "CREATOR"
    assert (
        first.headers["webhook-id"].startswith("msg_") and first.headers["webhook-id"] != second.headers["webhook-id"]
    )
    assert first.headers["Content-Type"] == "application/json"

    found = await settled(api, 2)
    assert {(d["status"], d["attempts"], d["lastStatusCode"]) for d in found} == {("DELIVERED", 1, 200)}
    assert {d["eventId"] for d in found} == {first.event_id, second.event_id}
    assert (await endpoints(api))[0]["id"] == endpoint["id"]


async def test_each_event_type_carries_the_shop_s_view_of_its_object(api, receiver):
    _, secret = await create_endpoint(api, receiver.url)
    assert (await api.query(START, start_input(3), as_="shop:s1"))["startConversation"]["userErrors"] == []
    request = await request_sample(api, 1, "r1", "Please", as_="creator:c3")
    decided = await api.query(APPROVE_SAMPLE, {"input": {"sampleRequestId": request["id"]}}, as_="shop:s1")
    assert decided["approveSampleRequest"]["userErrors"] == []
    block = (await api.query(BLOCK_SHOP, shop_input(1), as_="creator:c4"))["blockShop"]
    assert block["userErrors"] == []

    # started, created, its card, decided, its notice, the block (c4 has no conversation: no notice)
    received = await receiver.wait_for(6)
    by_type: dict[str, list[dict]] = {}
    for r in received:
        payload = verified(secret, r)
        by_type.setdefault(payload["type"], []).append(payload["data"])
    started = by_type["conversation.started"][0]
    assert started["conversation"]["entrance"] == "CREATOR_MESSAGES"
    assert started["conversation"]["id"] == started["conversationId"] and started["creatorId"] == gid("Creator", 3)
    created, decided_data = by_type["sample_request.created"][0], by_type["sample_request.decided"][0]
    assert created["sampleRequest"]["id"] == request["id"] and created["sampleRequest"]["status"] == "PENDING"
    assert (
        created["sampleRequest"]["product"] == {"id": gid("Product", 1)}
        and created["sampleRequest"]["note"] == "Please"
    )
    assert decided_data["sampleRequest"]["status"] == "APPROVED" and decided_data["sampleRequest"]["decidedAt"]
    contents = [m["message"]["content"] for m in by_type["message.created"]]
    assert contents[0] == {"__typename": "SampleRequestCard", "sampleRequest": {"id": request["id"]}}
    assert contents[1]["__typename"] == "SystemNotice" and contents[1]["code"] == "SAMPLE_APPROVED"
    assert by_type["block.changed"] == [
        {
            "shopId": gid("Shop", 1),
            "conversationId": None,
            "creatorId": gid("Creator", 4),
            "block": {"blockedBy": "CREATOR", "isBlocked": True},
        }
    ]


async def test_a_rolled_back_change_sends_nothing(api, receiver):
    await create_endpoint(api, receiver.url)
    assert (await api.query(BLOCK_SHOP, shop_input(1), as_="creator:c5"))["blockShop"]["userErrors"] == []
    (blocked,) = await receiver.wait_for(1)
    assert blocked.payload["type"] == "block.changed"
    # The opening (and its conversation.started row) is rolled back when the block refuses it.
    refused = await api.query(START, start_input(5), as_="shop:s1")
    assert refused["startConversation"]["userErrors"] == [{"code": "BLOCKED"}]

    async def work(conn):
        await webhooks.record(conn, 1, "MESSAGE_CREATED", {"shopId": gid("Shop", 1)})
        raise RuleViolation(ErrorCode.INVALID_INPUT, "changed my mind")

    with pytest.raises(RuleViolation):
        await transactions.write(api.runtime, work)
    await asyncio.sleep(1.0)  # several dispatch rounds
    assert len(receiver.received) == 1
    async with api.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(webhook_delivery_t))).scalar_one() == 1


async def test_failures_and_timeouts_are_retried_with_the_same_event_id_and_body(api, receiver):
    answers = iter([500, 503])
    receiver.answer = lambda n: next(answers, 200)
    _, secret = await create_endpoint(api, receiver.url, ["MESSAGE_CREATED"])
    await send_ok(api, text_to_creator(2, "retry me", "k1"), as_="shop:s1")
    attempts = await receiver.wait_for(3, timeout=15)
    assert len({a.event_id for a in attempts}) == 1 and len({a.body for a in attempts}) == 1
    for attempt in attempts:
        verified(secret, attempt)
    (delivery,) = await settled(api, 1)
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("DELIVERED", 3, 200)

    receiver.delay = 1.5  # beyond the 1 s timeout, once
    receiver.answer = lambda n: 200
    await send_ok(api, text_to_creator(2, "slow", "k2"), as_="shop:s1")
    await receiver.wait_for(4)
    receiver.delay = 0
    await receiver.wait_for(5, timeout=15)
    assert receiver.received[3].event_id == receiver.received[4].event_id
    slow = [d for d in await settled(api, 2) if d["eventId"] == receiver.received[3].event_id][0]
    assert slow["status"] == "DELIVERED" and slow["attempts"] == 2


async def test_410_disables_the_endpoint_at_once(api, receiver):
    receiver.answer = lambda n: 410
    endpoint, _ = await create_endpoint(api, receiver.url, ["MESSAGE_CREATED"])
    await send_ok(api, text_to_creator(2, "gone?", "k1"), as_="shop:s1")
    await receiver.wait_for(1)
    (delivery,) = await settled(api, 1)
    assert (delivery["status"], delivery["lastStatusCode"]) == ("FAILED", 410)
    (disabled,) = await endpoints(api)
    assert disabled["isEnabled"] is False and "410" in disabled["disabledReason"]
    await send_ok(api, text_to_creator(2, "after", "k2"), as_="shop:s1")
    await asyncio.sleep(0.5)
    assert len(receiver.received) == 1 and len(await deliveries(api)) == 1

    # Enabled again, it receives the next events, and its reason is gone.
    enabled = await api.query(UPDATE, {"input": {"endpointId": endpoint["id"], "isEnabled": True}}, as_="shop:s1")
    assert enabled["updateWebhookEndpoint"]["endpoint"]["disabledReason"] is None
    receiver.answer = lambda n: 200
    await send_ok(api, text_to_creator(2, "back", "k3"), as_="shop:s1")
    assert (await receiver.wait_for(2))[1].payload["data"]["message"]["content"]["text"] == "back"


async def test_a_receiver_down_then_back_gets_the_event(api, receiver):
    await create_endpoint(api, receiver.url, ["MESSAGE_CREATED"])
    await receiver.stop()
    await send_ok(api, text_to_creator(2, "are you there", "k1"), as_="shop:s1")
    await asyncio.sleep(0.8)  # the first attempts find nobody
    (pending,) = await deliveries(api)
    assert pending["status"] == "PENDING" and pending["attempts"] >= 1 and pending["lastStatusCode"] is None
    assert pending["lastError"] == "The receiver could not be reached."
    await receiver.start()
    (arrived,) = await receiver.wait_for(1, timeout=15)
    assert arrived.payload["data"]["message"]["content"]["text"] == "are you there"
    (delivery,) = await settled(api, 1)
    assert delivery["status"] == "DELIVERED" and delivery["eventId"] == arrived.event_id


async def test_three_days_of_failures_fail_the_delivery_and_disable_the_endpoint(
    aiohttp_client, database_url, tmp_path, receiver
):
    api = await hook_api(aiohttp_client, database_url, tmp_path, webhook_retry_scale=0.00002)  # 3 days: ~5 s
    receiver.answer = lambda n: 500
    await create_endpoint(api, receiver.url, ["MESSAGE_CREATED"])
    await send_ok(api, text_to_creator(2, "never", "k1"), as_="shop:s1")
    (delivery,) = await settled(api, 1, timeout=20)
    assert delivery["status"] == "FAILED" and delivery["attempts"] == len(receiver.received) > 3
    (endpoint,) = await endpoints(api)
    assert endpoint["isEnabled"] is False and endpoint["disabledReason"].startswith("Deliveries failed for three days")


async def test_signatures_verify_across_a_rotation_and_redelivery_repeats_the_event(api, receiver):
    endpoint, old = await create_endpoint(api, receiver.url, ["MESSAGE_CREATED"])
    rotated = (await api.query(ROTATE, {"input": {"endpointId": endpoint["id"]}}, as_="shop:s1"))["rotateWebhookSecret"]
    new = rotated["signingSecret"]
    assert new.startswith("whsec_") and new != old
    await send_ok(api, text_to_creator(2, "two keys", "k1"), as_="shop:s1")
    (first,) = await receiver.wait_for(1)
    assert len(first.headers["webhook-signature"].split(" ")) == 2
    assert verified(old, first) == verified(new, first)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        verified("whsec_" + "A" * 32, first)

    (delivery,) = await settled(api, 1)
    again = (await api.query(REDELIVER, {"input": {"deliveryId": delivery["id"]}}, as_="shop:s1"))["redeliverWebhook"]
    assert again["userErrors"] == [] and again["delivery"]["eventId"] == delivery["eventId"]
    _, second = await receiver.wait_for(2)
    assert (second.event_id, second.body) == (first.event_id, first.body)
    (redelivered,) = await settled(api, 1)
    assert (redelivered["status"], redelivered["attempts"]) == ("DELIVERED", 2)


async def test_a_slow_receiver_does_not_hold_up_another(aiohttp_client, database_url, tmp_path, receiver):
    api = await hook_api(
        aiohttp_client, database_url, tmp_path, webhook_endpoint_concurrency=2, webhook_timeout_seconds=5
    )
    slow = await Receiver(delay=3).start()
    try:
        await create_endpoint(api, slow.url, ["MESSAGE_CREATED"])
        await create_endpoint(api, receiver.url, ["MESSAGE_CREATED"], as_="shop:s2")
        for n in range(6):
            await send_ok(api, text_to_creator(2 + n, f"to the slow one {n}", f"s{n}"), as_="shop:s1")
        await slow.wait_for(2)
        await send_ok(api, text_to_creator(2, "to the quick one", "q1"), as_="shop:s2")
        (quick,) = await receiver.wait_for(1, timeout=1.5)  # while the slow one still holds its two
        assert quick.payload["data"]["shopId"] == gid("Shop", 2)
        assert len(slow.received) == 2  # at most two at once per endpoint
    finally:
        await slow.stop()
