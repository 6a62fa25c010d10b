"""A WebSocket lives no longer than its token; the client reconnects and resumes with `after`."""

from contextlib import suppress

import pytest

from services.auth import issue_token
from tests.support.app import world_api
from tests.support.gql import MESSAGE_ADDED, SEND, text_to_creator
from tests.support.ws import PROTOCOLS, WSClient


def _errors(message: dict) -> list[dict]:
    return message["payload"] if message["type"] == "error" else message["payload"].get("errors") or []


async def _send(api, text: str, key: str) -> str:
    data = await api.query(SEND, text_to_creator(1, text, key), as_="shop:s1")
    return data["sendMessage"]["message"]["id"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_expired_token_ends_the_socket_and_a_fresh_token_resumes_with_nothing_lost(
    aiohttp_client, database_url, tmp_path, protocol
):
    # No clock-skew leeway: the 2 s token ends at its exp (with the leeway, at exp + the leeway).
    api = await world_api(aiohttp_client, database_url, tmp_path, token_leeway_seconds=0)
    url = str(api.http.make_url("/graphql"))
    client = await WSClient.connect(api.http.session, url, protocol, issue_token(api.secret, "creator:c1", 2))
    assert await client.acked()
    await client.subscribe(MESSAGE_ADDED)
    await api.wait_subscribed(1)
    cursor = await _send(api, "before expiry", "k0")
    assert (await client.next_payload())["payload"]["data"]["messageAdded"]["id"] == cursor

    ended = await client.next_payload(timeout=5)  # within the token's 2 s
    assert [error["extensions"]["code"] for error in _errors(ended)] == ["UNAUTHENTICATED"], ended
    assert (await client.next_payload())["type"] == "complete"
    with suppress(ConnectionResetError):  # the socket may be closed already
        await client.subscribe(MESSAGE_ADDED)  # too late: never runs
    with pytest.raises(ConnectionError):
        await client.next_payload()
    assert (client.close_code, client.close_reason) == (4403, "token expired")
    assert api.runtime.broker.subscribers_count() == 0

    missed = [await _send(api, f"while away {i}", f"k{i + 1}") for i in range(2)]
    fresh = await WSClient.connect(api.http.session, url, protocol, api.token("creator:c1"))
    assert await fresh.acked()
    await fresh.subscribe(MESSAGE_ADDED, {"after": cursor})
    replayed = [(await fresh.next_payload())["payload"]["data"]["messageAdded"]["id"] for _ in missed]
    assert replayed == missed
    await api.wait_subscribed(1)
    live = await _send(api, "after reconnecting", "k9")
    assert (await fresh.next_payload())["payload"]["data"]["messageAdded"]["id"] == live
