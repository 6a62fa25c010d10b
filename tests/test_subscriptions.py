"""Live messages over both WebSocket protocols: delivery, resume, auth and isolation."""

import pytest

from tests.gql import SEND, gid, text_to_creator, text_to_shop
from tests.world import build_world
from tests.ws import PROTOCOLS, WSClient

MESSAGE_ADDED = """
subscription Live($conversationId: ID, $after: String) {
  messageAdded(conversationId: $conversationId, after: $after) {
    id senderRole isMine content { ... on TextContent { text } } conversation { id unreadCount }
  }
}"""

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
    page = await api.query("""query($id: ID!) { conversation(id: $id) { messages(first: 10) {
        edges { cursor node { id } } } } }""", {"id": gid("Conversation", 1)}, as_="creator:c1")
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
