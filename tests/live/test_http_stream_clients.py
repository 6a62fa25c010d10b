"""Subscriptions over HTTP against a real server process. Real JavaScript clients, graphql-sse's client
(GraphQL over SSE) and Apollo Client's HttpLink (multipart subscriptions): each resumes after a cursor,
gets the message it missed, then the ones sent live, in order and once each, and its stream ends with
UNAUTHENTICATED when its short-lived token expires. And what only a production server shows: a client
that leaves gives its subscription back, and a stopping server ends its streams at once."""

import asyncio
import json
import time

import aiohttp
import pytest

from services.auth import issue_token
from tests.support.app import JWT_SECRET
from tests.support.gql import SEND, message_cursor, text_to_creator
from tests.support.processes import ROOT, ServerProcess
from tests.support.world import build_world_at

TOKEN = issue_token(JWT_SECRET, "creator:c1")
TOKEN_SECONDS = 5  # long enough for node to start and the sends; the test waits for the rest of it
MULTIPART = {"Accept": 'multipart/mixed;subscriptionSpec="1.0"'}
CLIENTS = ("sse", "apollo")  # graphql-sse's client; Apollo Client's HttpLink


@pytest.fixture(scope="module")
def js_clients(js_packages):
    """The directory of the JavaScript clients, installed."""
    return js_packages


@pytest.fixture
def server(database_url, tmp_path):
    """A server process on a database holding the test world, accepting tokens to the second."""
    yield from _server(database_url, tmp_path)


def _server(database_url, tmp_path, **env):
    asyncio.run(build_world_at(database_url))
    env = {
        "DATABASE_URL": database_url,
        "INBOX_JWT_SECRET": JWT_SECRET,
        "INBOX_DATA_DIR": str(tmp_path),
        "INBOX_TOKEN_LEEWAY_SECONDS": "0",
        **env,
    }
    process = ServerProcess(env, tmp_path / "server.log").start()
    yield process
    process.stop()


async def _send(session, server, text: str, key: str) -> str:
    async with session.post(
        f"{server.url}/graphql",
        json={"query": SEND, "variables": text_to_creator(1, text, key)},
        headers={"Authorization": f"Bearer {issue_token(JWT_SECRET, 'shop:s1')}"},
    ) as response:
        body = await response.json()
    assert body["data"]["sendMessage"]["userErrors"] == [], body
    return body["data"]["sendMessage"]["message"]["id"]


async def _line(node) -> dict:
    line = await asyncio.wait_for(node.stdout.readline(), TOKEN_SECONDS + 10)
    assert line, f"the client exited without ending the stream: {(await node.stderr.read()).decode()[-2000:]}"
    return json.loads(line)


def _text(line: dict) -> str:
    assert "next" in line and not line["next"].get("errors"), line
    return line["next"]["data"]["messageAdded"]["content"]["text"]


async def _start(js_clients, kind: str, server, token: str, after: str):
    return await asyncio.create_subprocess_exec(
        "node",
        str(js_clients / "http_subscriptions.mjs"),
        kind,
        f"{server.url}/graphql",
        token,
        after,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_real_clients_resume_get_every_message_once_and_end_with_their_token(server, js_clients):
    """Both clients at once, on one server (a server process per test costs seconds)."""
    async with aiohttp.ClientSession() as session:
        anchor = await _send(session, server, "anchor", "k0")
        await _send(session, server, "missed", "k1")
        expires = int(time.time()) + TOKEN_SECONDS  # at most the token's `exp`
        token = issue_token(JWT_SECRET, "creator:c1", ttl_seconds=TOKEN_SECONDS)
        clients = {kind: await _start(js_clients, kind, server, token, message_cursor(anchor)) for kind in CLIENTS}
        try:
            # The replay first: each stream is subscribed from then on.
            texts = {kind: [_text(await _line(node))] for kind, node in clients.items()}
            for i in range(3):
                await _send(session, server, f"live{i}", f"k{i + 2}")
            for kind, node in clients.items():
                texts[kind] += [_text(await _line(node)) for _ in range(3)]
            assert texts == {kind: ["missed", "live0", "live1", "live2"] for kind in CLIENTS}
            assert time.time() < expires - 0.5, "the test ran too slowly to tell expiry from delivery"
            ends = {kind: [await _line(node), await _line(node)] for kind, node in clients.items()}
        finally:
            for node in clients.values():
                if node.returncode is None:
                    node.kill()
                await node.wait()
    for kind, (last, end) in ends.items():
        assert [error["extensions"]["code"] for error in last["next"]["errors"]] == ["UNAUTHENTICATED"], (kind, last)
        assert end == {"complete": True}, (kind, end)


@pytest.fixture
def capped_server(database_url, tmp_path):
    """A server where a principal holds at most two live subscriptions."""
    yield from _server(database_url, tmp_path, INBOX_MAX_SUBSCRIPTIONS_PER_PRINCIPAL="2")


async def _stream(session, server, after: str) -> aiohttp.ClientResponse:
    response = await session.post(
        f"{server.url}/graphql",
        headers={**MULTIPART, "Authorization": f"Bearer {TOKEN}"},
        json={
            "query": "subscription($after: String) { messageAdded(after: $after) { id } }",
            "variables": {"after": after},
        },
    )
    assert response.status == 200
    return response


async def _first_result(response: aiohttp.ClientResponse) -> dict:
    """The first result of a multipart stream (heartbeats skipped)."""
    reader = aiohttp.MultipartReader.from_response(response)
    async with asyncio.timeout(10):
        while True:
            body = await reader.next()
            assert isinstance(body, aiohttp.BodyPartReader)
            part = await body.json()
            if part != {}:
                assert part is not None
                return part["payload"]


async def test_a_stream_gives_its_subscription_back_when_its_client_leaves_and_ends_at_shutdown(capped_server):
    """aiohttp notices a client that left when a write fails: the stream holds its subscription until
    the next heartbeat (5 s on multipart), then ends and gives it back. A server that stops ends its
    streams at once (the clients resubscribe elsewhere with `after`) rather than after the grace period."""
    async with aiohttp.ClientSession() as session:
        anchor = message_cursor(await _send(session, capped_server, "anchor", "k0"))
        await _send(session, capped_server, "replayed", "k1")
        held = [await _stream(session, capped_server, anchor) for _ in range(2)]  # each replays the message
        assert [(await _first_result(stream))["data"] is not None for stream in held] == [True, True]
        refused = await _first_result(await _stream(session, capped_server, anchor))
        assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED", refused
        held[0].close()
        started = time.monotonic()
        while (payload := await _first_result(probe := await _stream(session, capped_server, anchor))).get("errors"):
            assert time.monotonic() - started < 7, payload
            await asyncio.sleep(0.5)
        started = time.monotonic()
        capped_server.stop()
        assert time.monotonic() - started < 3  # the grace period is 10 s
        assert await _ended(held[1]) and await _ended(probe)
    assert "Traceback" not in capped_server.log_path.read_text()  # a client leaving is no error


async def _ended(response: aiohttp.ClientResponse) -> bool:
    """Whether the stream's body ends (cut or complete) within a second."""
    try:
        await asyncio.wait_for(response.content.read(), 1)
    except aiohttp.ClientPayloadError:
        pass  # cut without the chunked terminator
    except TimeoutError:
        return False
    return True
