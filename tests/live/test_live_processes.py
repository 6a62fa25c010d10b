"""Live delivery across two server processes sharing PostgreSQL and a (restartable) Redis."""

import json
import os
import subprocess
import sys

import aiohttp

from services.auth import issue_token
from tests.support.app import JWT_SECRET
from tests.support.gql import (
    MARK_ALL_READ,
    MARK_MANY_READ,
    MARK_READ,
    MESSAGE_ADDED,
    SEND,
    message_cursor,
    text_to_creator,
    text_to_shop,
)
from tests.support.processes import ROOT, post_mutation
from tests.support.world import world_data
from tests.support.ws import WSClient


async def _send(session, server, text: str, key: str, subject: str = "shop:s1") -> dict:
    variables = text_to_creator(1, text, key) if subject == "shop:s1" else text_to_shop(1, text, key)
    async with session.post(
        f"{server.url}/graphql",
        json={"query": SEND, "variables": variables},
        headers={"Authorization": f"Bearer {issue_token(JWT_SECRET, subject)}"},
    ) as response:
        body = await response.json()
    assert response.status == 200 and body["data"]["sendMessage"]["userErrors"] == [], body
    return body["data"]["sendMessage"]["message"]


async def _subscriber(session, server, subject: str, after: str | None = None) -> WSClient:
    client = await WSClient.connect(
        session, f"{server.url}/graphql", "graphql-transport-ws", issue_token(JWT_SECRET, subject)
    )
    assert await client.acked()
    await client.subscribe(MESSAGE_ADDED, {"after": after} if after else {})
    return client


async def _texts(client: WSClient, count: int) -> list[str]:
    return [(await client.next_payload(10))["payload"]["data"]["messageAdded"]["content"]["text"] for _ in range(count)]


async def test_send_on_one_process_reaches_a_subscriber_on_the_other(server_pair):
    first, second = server_pair
    async with aiohttp.ClientSession() as session:
        # The creator wrote first, so the five-messages-before-a-reply limit does not apply.
        anchor = await _send(session, second, "anchor", "c0", subject="creator:c1")
        # Resuming after a known message makes the start deterministic: no subscribe race.
        creator = await _subscriber(session, first, "creator:c1", after=message_cursor(anchor["id"]))
        for i in range(5):
            await _send(session, second, f"m{i}", f"k{i + 1}")
        assert await _texts(creator, 5) == [f"m{i}" for i in range(5)]


async def test_redis_restart_loses_nothing(server_pair, redis_server):
    first, second = server_pair
    async with aiohttp.ClientSession() as session:
        anchor = await _send(session, second, "before", "c0", subject="creator:c1")
        creator = await _subscriber(session, first, "creator:c1", after=message_cursor(anchor["id"]))
        await _send(session, second, "warm", "k1")
        assert await _texts(creator, 1) == ["warm"]
        redis_server.kill()
        for i in range(2):
            await _send(session, second, f"outage {i}", f"k{i + 2}")
        redis_server.start()
        # The broker reconnects and resyncs from the database: the outage messages arrive, then live ones.
        assert await _texts(creator, 2) == ["outage 0", "outage 1"]
        await _send(session, second, "after", "k9")
        assert await _texts(creator, 1) == ["after"]
        # A client that dropped during the outage resumes with `after` and misses nothing.
        resumed = await _subscriber(session, second, "creator:c1", after=message_cursor(anchor["id"]))
        assert await _texts(resumed, 4) == ["warm", "outage 0", "outage 1", "after"]


async def test_import_ends_seller_subscriptions_at_once(server_pair, postgres_url, tmp_path, redis_server):
    first, _second = server_pair
    async with aiohttp.ClientSession() as session:
        anchor = await _send(session, first, "one", "c0", subject="creator:c1")
        await _send(session, first, "two", "c1", subject="creator:c1")
        seller = await _subscriber(session, first, "shop:s1", after=message_cursor(anchor["id"]))
        assert await _texts(seller, 1) == ["two"]  # replayed after subscribing: the stream is live
        data = world_data()
        data["shops"][0]["status"] = "CLOSED"
        path = tmp_path / "closed.json"
        path.write_text(json.dumps(data))
        env = {"DATABASE_URL": postgres_url, "INBOX_JWT_SECRET": JWT_SECRET, "REDIS_URL": redis_server.url}
        subprocess.run(
            [sys.executable, "server.py", "import", str(path)],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            timeout=60,
        )
        message = await seller.next_payload(5)
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "SHOP_INACTIVE"


UPDATED = "subscription { conversationUpdated { id otherSideLastReadAt lastMessage { id isReadByOtherSide } } }"


async def _update(client: WSClient, timeout: float = 10) -> dict:
    return (await client.next_payload(timeout))["payload"]["data"]["conversationUpdated"]


async def test_read_receipts_reach_the_other_side_across_processes(server_pair):
    """The seller's tab is on one process; the creator reads, marks all read and replies on the other."""
    first, second = server_pair
    async with aiohttp.ClientSession() as session:
        await _send(session, second, "Hi shop", "c0", subject="creator:c1")
        await _send(session, second, "Hello", "k1")
        seller = await WSClient.connect(
            session, f"{first.url}/graphql", "graphql-transport-ws", issue_token(JWT_SECRET, "shop:s1")
        )
        assert await seller.acked()
        await seller.subscribe(UPDATED)
        # Live once a change made on the other process comes through (GraphQL has no subscribe ack).
        for n in range(50):
            await _send(session, second, f"ping {n}", f"p{n}")
            try:
                update = await _update(seller, 0.2)
                break
            except TimeoutError:
                continue
        while True:  # the pings answered late
            try:
                update = await _update(seller, 0.5)
            except TimeoutError:
                break
        assert update["lastMessage"]["isReadByOtherSide"] is False
        conversation = update["id"]

        await post_mutation(session, second, MARK_READ, {"input": {"conversationId": conversation}}, "creator:c1")
        update = await _update(seller)
        assert update["lastMessage"]["isReadByOtherSide"] is True and update["otherSideLastReadAt"] is not None
        later = await _send(session, second, "One more", "k2")
        assert (await _update(seller))["lastMessage"] == {"id": later["id"], "isReadByOtherSide": False}
        await post_mutation(session, second, MARK_ALL_READ, {}, "creator:c1")
        assert (await _update(seller))["lastMessage"] == {"id": later["id"], "isReadByOtherSide": True}
        again = await _send(session, second, "Again", "k3")
        assert (await _update(seller))["lastMessage"] == {"id": again["id"], "isReadByOtherSide": False}
        reply = await _send(session, second, "Thanks", "c1", subject="creator:c1")  # replying reads "Again"
        assert (await _update(seller))["lastMessage"] == {"id": reply["id"], "isReadByOtherSide": None}
        query = "query($id: ID!) { conversation(id: $id) { messages(last: 2) { nodes { id isReadByOtherSide } } } }"
        async with session.post(
            f"{first.url}/graphql",
            json={"query": query, "variables": {"id": conversation}},
            headers={"Authorization": f"Bearer {issue_token(JWT_SECRET, 'shop:s1')}"},
        ) as response:
            nodes = (await response.json())["data"]["conversation"]["messages"]["nodes"]
        assert nodes == [{"id": again["id"], "isReadByOtherSide": True}, {"id": reply["id"], "isReadByOtherSide": None}]
        marked = await post_mutation(session, first, MARK_MANY_READ, {"ids": [conversation]}, "shop:s1")
        assert marked["conversations"] == [{"id": conversation, "unreadCount": 0}]
