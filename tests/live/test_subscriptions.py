"""Live messages over both WebSocket protocols: delivery, resume, auth and isolation."""

import pytest

from tests.support.app import world_api
from tests.support.gql import MESSAGE_ADDED, SEND, gid, text_to_creator, text_to_shop
from tests.support.world import build_world, set_shop_status
from tests.support.ws import PROTOCOLS, WSClient

CONVERSATION_UPDATED = "subscription { conversationUpdated { id isStarred unreadCount lastMessage { id } } }"


async def _connect(api, protocol: str, subject: str | None) -> WSClient:
    token = api.token(subject) if subject else None
    return await WSClient.connect(api.http.session, str(api.http.make_url("/graphql")), protocol, token)


def _text(message: dict) -> str:
    return message["payload"]["data"]["messageAdded"]["content"]["text"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_message_reaches_both_sides_live(api, protocol):
    await build_world(api.engine)
    seller = await _connect(api, protocol, "shop:s1")
    creator = await _connect(api, protocol, "creator:c1")
    assert await seller.acked() and await creator.acked()
    await seller.subscribe(MESSAGE_ADDED)
    await creator.subscribe(MESSAGE_ADDED)
    await api.wait_subscribed(2)
    first = await api.query(SEND, text_to_creator(1, "hello", "k1"), as_="shop:s1")
    assert first["sendMessage"]["userErrors"] == []
    mine = await seller.next_payload()
    theirs = await creator.next_payload()
    assert _text(mine) == _text(theirs) == "hello"
    assert mine["payload"]["data"]["messageAdded"]["isMine"] is True
    assert theirs["payload"]["data"]["messageAdded"]["isMine"] is False


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_bad_token_closes_with_4403(api, protocol):
    for subject in (None, "shop:nobody"):
        client = await _connect(api, protocol, subject)
        assert not await client.acked()
        assert client.ws.close_code == 4403


async def test_resume_after_cursor_replays_then_streams(api):
    await build_world(api.engine)
    sent = []
    for i in range(3):
        data = await api.query(SEND, text_to_creator(1, f"m{i}", f"k{i}"), as_="shop:s1")
        sent.append(data["sendMessage"]["message"]["id"])
    page = await api.query(
        """query($id: ID!) { conversation(id: $id) { messages(first: 10) {
        edges { cursor node { id } } } } }""",
        {"id": gid("Conversation", 1)},
        as_="creator:c1",
    )
    cursor = page["conversation"]["messages"]["edges"][0]["cursor"]
    client = await _connect(api, "graphql-transport-ws", "creator:c1")
    assert await client.acked()
    await client.subscribe(MESSAGE_ADDED, {"after": cursor})
    replayed = [_text(await client.next_payload()) for _ in range(2)]
    assert replayed == ["m1", "m2"]
    await api.wait_subscribed(1)
    await api.query(SEND, text_to_shop(1, "live", "r1"), as_="creator:c1")
    assert _text(await client.next_payload()) == "live"


async def test_other_tenants_receive_nothing(api):
    await build_world(api.engine)
    other_seller = await _connect(api, "graphql-transport-ws", "shop:s2")
    other_creator = await _connect(api, "graphql-transport-ws", "creator:c2")
    assert await other_seller.acked() and await other_creator.acked()
    await other_seller.subscribe(MESSAGE_ADDED)
    await other_creator.subscribe(MESSAGE_ADDED)
    await api.wait_subscribed(2)
    await api.query(SEND, text_to_creator(1, "private", "k1"), as_="shop:s1")
    # A later message to the other seller proves the stream is alive and skipped the first.
    await api.query(SEND, text_to_creator(2, "for c2", "k2"), as_="shop:s2")
    assert _text(await other_seller.next_payload()) == "for c2"
    assert _text(await other_creator.next_payload()) == "for c2"


async def _subscribe(
    api,
    subject: str,
    query: str = MESSAGE_ADDED,
    variables: dict | None = None,
    protocol: str = "graphql-transport-ws",
    expected: int = 1,
) -> WSClient:
    client = await _connect(api, protocol, subject)
    assert await client.acked()
    await client.subscribe(query, variables)
    await api.wait_subscribed(expected)
    return client


async def test_refused_send_publishes_nothing(api):
    await build_world(api.engine)
    for i in range(5):
        await api.query(SEND, text_to_creator(1, f"m{i}", f"k{i}"), as_="shop:s1")
    creator = await _subscribe(api, "creator:c1")
    refused = await api.query(SEND, text_to_creator(1, "sixth", "k6"), as_="shop:s1")
    assert refused["sendMessage"]["userErrors"][0]["code"] == "PRE_REPLY_LIMIT_REACHED"
    await api.query(SEND, text_to_shop(1, "reply", "r1"), as_="creator:c1")
    assert _text(await creator.next_payload()) == "reply"


async def test_slow_consumer_is_ended_with_its_code(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, subscription_queue_size=4)
    await api.query(SEND, text_to_creator(1, "hello", "k1"), as_="shop:s1")
    client = await _subscribe(api, "creator:c1")
    # A burst the consumer cannot keep up with: the in-process broker delivers synchronously,
    # so the subscription's queue of 4 overflows before its generator runs again.
    for _ in range(10):
        await api.runtime.broker.publish(
            "inbox:creator:1", {"type": "message", "conversation_id": 1, "message_id": 10**9, "previous_id": 10**9 - 1}
        )
    message = await client.next_payload()
    assert message["type"] == "error" or message["payload"].get("errors"), message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "SLOW_CONSUMER"


async def test_conversation_updated_follows_the_viewers_changes(api):
    await build_world(api.engine)
    await api.query(SEND, text_to_creator(1, "hello", "k1"), as_="shop:s1")
    other_tab = await _subscribe(api, "shop:s1", CONVERSATION_UPDATED)
    creator = await _subscribe(api, "creator:c1", CONVERSATION_UPDATED, expected=2)
    star = "mutation($id: ID!) { starConversation(input: {conversationId: $id}) { userErrors { code } } }"
    await api.query(star, {"id": gid("Conversation", 1)}, as_="shop:s1")
    update = (await other_tab.next_payload())["payload"]["data"]["conversationUpdated"]
    assert update["isStarred"] is True
    await api.query(SEND, text_to_shop(1, "reply", "r1"), as_="creator:c1")
    update = (await other_tab.next_payload())["payload"]["data"]["conversationUpdated"]
    assert update["unreadCount"] == 1
    # The creator's stream saw only the reply, not the seller's star.
    assert (await creator.next_payload())["payload"]["data"]["conversationUpdated"]["isStarred"] is False


async def test_block_shows_up_live(api):
    await build_world(api.engine)
    await api.query(SEND, text_to_creator(1, "hello", "k1"), as_="shop:s1")
    creator = await _subscribe(api, "creator:c1")
    block = "mutation($id: ID!) { blockCreator(input: {creatorId: $id}) { userErrors { code } } }"
    await api.query(block, {"id": gid("Creator", 1)}, as_="shop:s1")
    notice = (await creator.next_payload())["payload"]["data"]["messageAdded"]
    assert notice["senderRole"] == "SYSTEM"


async def test_inactive_shop_ends_seller_subscriptions(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, shop_status_check_seconds=0.2)
    seller = await _subscribe(api, "shop:s1")
    await set_shop_status(api.engine, "s1", "SUSPENDED")
    message = await seller.next_payload()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "SHOP_INACTIVE"


async def test_subscriptions_per_connection_are_capped(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, max_subscriptions_per_connection=2)
    client = await _connect(api, "graphql-transport-ws", "creator:c1")
    assert await client.acked()
    for _ in range(2):
        await client.subscribe(MESSAGE_ADDED)
    await api.wait_subscribed(2)
    await client.subscribe(MESSAGE_ADDED)
    refusal = await client.next_payload()
    assert refusal["type"] == "error" and "limit" in refusal["payload"][0]["message"].lower()


async def test_oversized_frames_close_the_socket(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, ws_max_message_bytes=1024)
    client = await _connect(api, "graphql-transport-ws", "creator:c1")
    assert await client.acked()
    await client.subscribe(MESSAGE_ADDED + " " * 2048)
    with pytest.raises(ConnectionError):
        await client.next_payload()
    assert client.ws.close_code == 1009  # message too big


async def test_connection_init_must_come_in_time(aiohttp_client, database_url, tmp_path):
    import aiohttp

    api = await world_api(aiohttp_client, database_url, tmp_path, ws_init_timeout_seconds=0.3)
    ws = await api.http.session.ws_connect(api.http.make_url("/graphql"), protocols=["graphql-transport-ws"])
    frame = await ws.receive(timeout=5)
    assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and ws.close_code == 4408
