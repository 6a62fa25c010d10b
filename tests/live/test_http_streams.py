"""Subscriptions over HTTP, read byte for byte with aiohttp: the GraphQL over SSE framing and Apollo's
multipart framing, `after` replay then live, the token's end, access loss, the per-principal cap
shared with WebSockets, and plain requests that still get JSON."""

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from services.auth import issue_token
from tests.support.app import JWT_SECRET, world_api
from tests.support.gql import MESSAGE_ADDED, SEND, message_cursor, text_to_creator
from tests.support.world import set_shop_status
from tests.support.ws import TRANSPORT_WS, WSClient

SSE = {"Accept": "text/event-stream"}
MULTIPART = {"Accept": 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/json'}


async def _send(api, text: str, key: str) -> str:
    data = await api.query(SEND, text_to_creator(1, text, key), as_="shop:s1")
    assert data["sendMessage"]["userErrors"] == [], data
    return data["sendMessage"]["message"]["id"]


async def _open(
    api,
    accept: dict,
    subject: str = "creator:c1",
    variables: dict | None = None,
    *,
    token: str | None = None,
    method: str = "POST",
) -> aiohttp.ClientResponse:
    headers = {**accept, "Authorization": f"Bearer {token or api.token(subject)}"}
    if method == "GET":
        params = {"query": MESSAGE_ADDED, "variables": json.dumps(variables or {})}
        return await api.http.get("/graphql", params=params, headers=headers)
    return await api.http.post("/graphql", json={"query": MESSAGE_ADDED, "variables": variables or {}}, headers=headers)


async def _sse_events(response: aiohttp.ClientResponse, count: int, timeout: float = 10) -> list[tuple]:
    """The next `count` events of an SSE body as (event, data), comments (heartbeats) as ("", comment).
    Every line must end with CRLF or LF, and every event with an empty line."""
    events: list[tuple[str, Any]] = []
    event, data = None, None
    async with asyncio.timeout(timeout):
        while len(events) < count:
            line = (await response.content.readline()).decode()
            assert line.endswith("\n"), f"the stream ended in the middle of an event: {line!r}"
            line = line.rstrip("\r\n")
            if line.startswith(":"):
                events.append(("", line[1:].strip()))
            elif line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") or line == "data:":
                data = line.removeprefix("data:").strip()
            elif line == "" and event is not None:
                events.append((event, json.loads(data) if data else None))
                event, data = None, None
    return events


def _text(event: tuple) -> str:
    name, result = event
    assert name == "next", event
    return result["data"]["messageAdded"]["content"]["text"]


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_sse_replays_after_the_cursor_then_goes_live(aiohttp_client, database_url, tmp_path, method):
    api = await world_api(aiohttp_client, database_url, tmp_path)
    anchor = await _send(api, "anchor", "k0")
    await _send(api, "missed", "k1")
    response = await _open(api, SSE, variables={"after": message_cursor(anchor)}, method=method)
    assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache, no-transform"
    assert [_text(e) for e in await _sse_events(response, 1)] == ["missed"]
    await api.wait_subscribed(1)
    await _send(api, "live", "k2")
    assert [_text(e) for e in await _sse_events(response, 1)] == ["live"]
    response.close()


async def test_sse_ends_with_unauthenticated_when_the_token_expires(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, token_leeway_seconds=0)
    response = await _open(api, SSE, token=issue_token(JWT_SECRET, "creator:c1", ttl_seconds=2))
    assert response.status == 200
    (name, result), (end, _) = await _sse_events(response, 2, timeout=6)
    assert name == "next" and result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", result
    assert end == "complete"
    assert await response.content.read() == b""  # and the response is over
    await api.wait_subscribed(0)  # its subscription given back


async def test_sse_of_a_seller_ends_when_the_shop_closes(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, shop_status_check_seconds=0.2)
    response = await _open(api, SSE, "shop:s1")
    await api.wait_subscribed(1)
    await set_shop_status(api.engine, "s1", "SUSPENDED")
    (name, result), (end, _) = await _sse_events(response, 2)
    assert name == "next" and result["errors"][0]["extensions"]["code"] == "SHOP_INACTIVE", result
    assert end == "complete"


async def test_http_streams_share_the_principals_subscription_cap_with_websockets(
    aiohttp_client, database_url, tmp_path
):
    api = await world_api(aiohttp_client, database_url, tmp_path, max_subscriptions_per_principal=2)
    ws = await WSClient.connect(
        api.http.session, str(api.http.make_url("/graphql")), TRANSPORT_WS, api.token("creator:c1")
    )
    assert await ws.acked()
    await ws.subscribe(MESSAGE_ADDED)
    held = await _open(api, SSE)
    await api.wait_subscribed(2)
    refused = await _open(api, MULTIPART)
    parts = await _multipart_parts(refused)
    assert [p["payload"]["errors"][0]["extensions"]["code"] for p in parts if p] == ["RATE_LIMITED"], parts
    held.close()  # the client leaves: its stream ends and gives its place back
    await api.wait_subscribed(1)
    again = await _open(api, SSE)
    await api.wait_subscribed(2)
    again.close()
    await ws.close()


async def test_an_sse_request_without_a_valid_token_is_refused_before_it_runs(api):
    response = await api.http.post("/graphql", json={"query": MESSAGE_ADDED}, headers=SSE)
    body = await response.json()
    assert response.status == 401 and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body


async def _multipart_parts(response: aiohttp.ClientResponse, timeout: float = 10) -> list[Any]:
    """Every part of a multipart/mixed body up to its closing delimiter, read by aiohttp's MIME parser."""
    parts = []
    async with asyncio.timeout(timeout):
        reader = aiohttp.MultipartReader.from_response(response)
        while (part := await reader.next()) is not None:
            assert part.headers["Content-Type"] == "application/json; charset=utf-8"
            assert isinstance(part, aiohttp.BodyPartReader)
            parts.append(await part.json())
        assert reader.at_eof()
    return parts


async def test_multipart_subscription_framing(aiohttp_client, database_url, tmp_path):
    """Apollo's protocol: `{"payload": result}` parts, `{}` heartbeats, and a closing delimiter when the
    stream ends (here with the token)."""
    api = await world_api(aiohttp_client, database_url, tmp_path, token_leeway_seconds=0)
    anchor = await _send(api, "anchor", "k0")
    await _send(api, "missed", "k1")
    response = await _open(
        api,
        MULTIPART,
        variables={"after": message_cursor(anchor)},
        token=issue_token(JWT_SECRET, "creator:c1", ttl_seconds=3),
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("multipart/mixed;boundary=graphql;subscriptionSpec=1.0")
    await api.wait_subscribed(1)
    await _send(api, "live", "k2")
    parts = [part for part in await _multipart_parts(response) if part != {}]  # {} is a heartbeat
    texts = [part["payload"]["data"]["messageAdded"]["content"]["text"] for part in parts[:-1]]
    assert texts == ["missed", "live"]
    assert parts[-1]["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("accept", ["application/json, multipart/mixed", "multipart/mixed", "*/*"])
async def test_a_query_without_the_subscription_spec_still_gets_json(aiohttp_client, database_url, tmp_path, accept):
    """GraphiQL sends `Accept: application/json, multipart/mixed` with every query."""
    api = await world_api(aiohttp_client, database_url, tmp_path)
    response = await api.http.post(
        "/graphql",
        json={"query": "{ viewer { __typename } }"},
        headers={"Accept": accept, "Authorization": f"Bearer {api.token('creator:c1')}"},
    )
    assert response.status == 200 and response.content_type == "application/json"
    assert (await response.json())["data"] == {"viewer": {"__typename": "Viewer"}}
