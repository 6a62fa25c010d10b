"""Each operation type on each transport: HTTP runs queries and mutations and refuses subscriptions
with 400; both WebSocket protocols run every type. Nothing of it is an internal error."""

import logging

import pytest

from schema.view import SUBSCRIPTION_OVER_HTTP
from tests.support.gql import MESSAGE_ADDED, SEND, text_to_creator
from tests.support.world import build_world
from tests.support.ws import LEGACY_WS, PROTOCOLS, WSClient

VIEWER = "query Me { viewer { __typename } }"


def _errors_logged(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


async def _connect(api, protocol: str, subject: str) -> WSClient:
    client = await WSClient.connect(api.http.session, str(api.http.make_url("/graphql")), protocol, api.token(subject))
    assert await client.acked()
    return client


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_subscription_over_http_is_refused_with_400(api, method, caplog):
    await build_world(api.engine)
    headers = {"Authorization": f"Bearer {api.token('creator:c1')}"}
    if method == "POST":
        response = await api.http.post("/graphql", json={"query": MESSAGE_ADDED}, headers=headers)
    else:
        response = await api.http.get("/graphql", params={"query": MESSAGE_ADDED}, headers=headers)
    body = await response.json()
    assert response.status == 400, body
    assert body["errors"] == [{"message": SUBSCRIPTION_OVER_HTTP, "extensions": {"code": "BAD_REQUEST"}}]
    assert _errors_logged(caplog) == []


async def test_http_still_refuses_a_mutation_over_get(api, caplog):
    await build_world(api.engine)
    response = await api.http.get(
        "/graphql",
        params={"query": "mutation { __typename }"},
        headers={"Authorization": f"Bearer {api.token('creator:c1')}"},
    )
    body = await response.json()
    assert response.status == 400 and body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", body
    assert _errors_logged(caplog) == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_queries_and_mutations_run_over_both_websocket_protocols(api, protocol, caplog):
    await build_world(api.engine)
    client = await _connect(api, protocol, "shop:s1")
    await client.subscribe(VIEWER)
    answer = await client.next_payload()
    assert answer["type"] in ("next", "data") and answer["payload"]["data"] == {"viewer": {"__typename": "Viewer"}}
    assert (await client.next_payload())["type"] == "complete"

    await client.subscribe(SEND, text_to_creator(1, "sent over a socket", "ws-1"))
    sent = (await client.next_payload())["payload"]["data"]["sendMessage"]
    assert sent["userErrors"] == [] and sent["message"]["content"]["text"] == "sent over a socket"
    assert (await client.next_payload())["type"] == "complete"
    page = await api.query("{ conversations(first: 1) { nodes { lastMessage { id } } } }", as_="shop:s1")
    assert page["conversations"]["nodes"][0]["lastMessage"]["id"] == sent["message"]["id"]
    assert _errors_logged(caplog) == []


async def test_an_unknown_operation_name_over_legacy_graphql_ws_is_a_bad_request(api, caplog):
    await build_world(api.engine)
    client = await _connect(api, LEGACY_WS, "creator:c1")
    await client.subscribe(VIEWER, operation_name="Nope")
    answer = await client.next_payload()
    assert answer["type"] == "error" and answer["payload"]["extensions"]["code"] == "BAD_REQUEST", answer
    assert _errors_logged(caplog) == []
