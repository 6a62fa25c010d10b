"""Faults: PostgreSQL stopped, started and full, under load (a private cluster; the shared one is never touched).

While PostgreSQL is shutting down, down or starting up, every answer is a clean, retryable
SERVICE_UNAVAILABLE (HTTP 503 with Retry-After where no GraphQL result exists), /readyz is 503,
a live subscription ends so that its client resumes with `after`; afterwards the pool reconnects
by itself, and every acknowledged message is stored exactly once.
"""

import asyncio
import time

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

from models.migrate import upgrade
from resolvers.ids import decode_id
from services.auth import issue_token
from tests.support.app import JWT_SECRET, client_of, make_settings
from tests.support.gql import INBOX, SEND, message_cursor, text_to_shop
from tests.support.processes import (
    PostgresServer,
    ServerProcess,
    TcpProxy,
)
from tests.support.world import build_world, build_world_at
from tests.support.ws import TRANSPORT_WS, WSClient

UNAVAILABLE = "SERVICE_UNAVAILABLE"
TRY_AGAIN_LATER = 1013  # the WebSocket close code of a connection_init the database cannot answer
LIVE = """subscription Live($conversationId: ID, $after: String) {
  messageAdded(conversationId: $conversationId, after: $after) { id content { ... on TextContent { text } } }
}"""
SENDERS = (1, 2, 3)  # creators c1..c3, each writing to shop s1


def _token(subject: str) -> str:
    return issue_token(JWT_SECRET, subject)


class Load:
    """Concurrent senders (with clientMessageId), readers, a /readyz poller and a live subscription
    against one server, recording every answer with the phase of the database it was asked in."""

    def __init__(self, session: aiohttp.ClientSession, url: str, conversation: str, after: str):
        self.session, self.url = session, url
        self.conversation, self.cursor = conversation, after
        self.phase, self.running = "up", True
        self.answers: list[tuple[int, str | None, set]] = []  # HTTP status, Retry-After, error codes
        self.readiness: list[tuple[str, str, int]] = []  # phase asked, phase answered, status
        self.acknowledged: dict[str, str] = {}  # clientMessageId -> message id
        self.acknowledged_while_down: list[str] = []
        self.unacknowledged: set[str] = set()
        self.stream_ends: list[set] = []  # error codes that ended the subscription
        self.refused_sockets: list[int | None] = []  # close codes of refused connection_inits
        self.delivered: list[str] = []  # message ids the subscription delivered, in order

    async def post(self, query: str, variables: dict, subject: str) -> dict:
        async with self.session.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {_token(subject)}"},
            timeout=aiohttp.ClientTimeout(total=10),
        ) as response:
            text = await response.text()
            assert response.status != 500, text
            assert "Traceback" not in text and "INTERNAL_SERVER_ERROR" not in text, text
            body = await response.json()
        codes = {error["extensions"]["code"] for error in body.get("errors") or ()}
        self.answers.append((response.status, response.headers.get("Retry-After"), codes))
        return body

    async def send(self, creator: int, key: str) -> None:
        asked = self.phase
        body = await self.post(SEND, text_to_shop(1, key, key), f"creator:c{creator}")
        payload = (body.get("data") or {}).get("sendMessage")
        if payload and payload["message"]:
            assert payload["userErrors"] == [], payload
            self.acknowledged[key] = payload["message"]["id"]
            self.unacknowledged.discard(key)
            if asked == self.phase == "down":
                self.acknowledged_while_down.append(key)
        else:
            self.unacknowledged.add(key)

    async def sender(self, creator: int) -> None:
        for i in range(10**6):
            if not self.running:
                return
            await self.send(creator, f"c{creator}-{i}")
            await asyncio.sleep(0.02)

    async def reader(self) -> None:
        while self.running:
            await self.post(INBOX, {"first": 20}, "shop:s1")
            await asyncio.sleep(0.02)

    async def readiness_poller(self) -> None:
        while self.running:
            asked = self.phase
            async with self.session.get(f"{self.url}/readyz") as response:
                self.readiness.append((asked, self.phase, response.status))
            await asyncio.sleep(0.1)

    async def subscriber(self) -> None:
        """The seller's live stream of one conversation, resumed with `after` whenever it ends."""
        while True:
            client = await WSClient.connect(self.session, f"{self.url}/graphql", TRANSPORT_WS, _token("shop:s1"))
            if await client.acked():
                await client.subscribe(LIVE, {"conversationId": self.conversation, "after": self.cursor})
                await self._follow(client)
            else:
                self.refused_sockets.append(client.ws.close_code)
            await client.close()
            await asyncio.sleep(0.2)

    async def _follow(self, client: WSClient) -> None:
        while True:
            message = await client.next_payload(120)
            payload = message.get("payload")
            errors = payload if message["type"] == "error" else (payload or {}).get("errors")
            if errors:
                self.stream_ends.append({error["extensions"]["code"] for error in errors})
                return
            if message["type"] == "complete":
                return
            assert payload is not None, message
            message_id = payload["data"]["messageAdded"]["id"]
            self.delivered.append(message_id)
            self.cursor = message_cursor(message_id)

    async def outage(self, postgres: PostgresServer, mode: str) -> None:
        """Stop PostgreSQL (`pg_ctl stop -m <mode>`), keep the load going, start it, wait until ready."""
        self.phase = "stopping"
        await asyncio.to_thread(postgres.stop, mode)
        self.phase = "down"
        await asyncio.sleep(1.5)
        self.phase = "starting"
        await asyncio.to_thread(postgres.start)
        self.phase = "recovering"
        while not self.readiness or self.readiness[-1][2] != 200:
            await asyncio.sleep(0.05)
        self.phase = "up"
        await asyncio.sleep(1.0)

    async def retry_unacknowledged(self) -> None:
        """What a client does after the restart: resend every unacknowledged message with its key."""
        while self.unacknowledged:
            for key in sorted(self.unacknowledged):
                await self.send(int(key[1:].split("-")[0]), key)


async def _prepared_world(postgres: PostgresServer) -> None:
    await asyncio.to_thread(upgrade, postgres.url)
    await build_world_at(postgres.url)


async def _stored(postgres: PostgresServer) -> tuple[dict[str, list[int]], list[int]]:
    """(message ids per clientMessageId, ids of conversation 1's messages in order)."""
    conn = await asyncpg.connect(postgres.url.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch("SELECT client_message_id, id, conversation_id FROM message ORDER BY id")
    finally:
        await conn.close()
    by_key: dict[str, list[int]] = {}
    for row in rows:
        by_key.setdefault(row["client_message_id"], []).append(row["id"])
    return by_key, [row["id"] for row in rows if row["conversation_id"] == 1]


async def test_postgres_restarts_under_load_answer_unavailable_and_lose_nothing(postgres, tmp_path):
    started = time.monotonic()
    await _prepared_world(postgres)
    # A seller's stream checks its shop every 0.2 s: so it reads the database during each outage.
    server = ServerProcess(
        {
            "DATABASE_URL": postgres.url,
            "INBOX_JWT_SECRET": JWT_SECRET,
            "INBOX_MUTATION_BURST": "100000",
            "INBOX_QUERY_BURST": "100000",
            "INBOX_SHOP_STATUS_CHECK_SECONDS": "0.2",
        },
        tmp_path / "server.log",
    ).start()
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(50):
            anchor = Load(session, server.url, "", "")
            body = await anchor.post(SEND, text_to_shop(1, "anchor", "anchor"), "creator:c1")
            sent = body["data"]["sendMessage"]
            load = Load(session, server.url, sent["conversation"]["id"], message_cursor(sent["message"]["id"]))
            subscriber = asyncio.create_task(load.subscriber())
            steady = [
                asyncio.create_task(task)
                for task in (*(load.sender(n) for n in SENDERS), load.reader(), load.reader(), load.readiness_poller())
            ]
            await asyncio.sleep(1.5)
            await load.outage(postgres, "fast")
            await load.outage(postgres, "immediate")
            load.running = False
            await asyncio.gather(*steady)
            await load.retry_unacknowledged()
            by_key, conversation = await _stored(postgres)
            while len(load.delivered) < len(conversation) - 1:
                if subscriber.done():
                    subscriber.result()  # it failed: raise its error
                await asyncio.sleep(0.05)
            subscriber.cancel()
    finally:
        server.stop()

    # Clean, retryable answers only: 503 with Retry-After before a GraphQL result, else the error code.
    assert all(codes <= {UNAVAILABLE} for _status, _retry, codes in load.answers)
    assert all(status in (200, 503) for status, _retry, _codes in load.answers)
    assert all(retry == "2" for status, retry, codes in load.answers if status == 503 or codes)
    assert any(status == 503 for status, _retry, _codes in load.answers), "authentication met the outage"
    assert not load.acknowledged_while_down
    # Not ready while down, ready after.
    down = [status for asked, answered, status in load.readiness if asked == answered == "down"]
    assert down and set(down) == {503}
    assert load.readiness[-1][2] == 200
    # The subscription ended with SERVICE_UNAVAILABLE in each outage, and resuming with `after`
    # delivered every message of the conversation after the anchor, in order, once.
    assert len(load.stream_ends) >= 2 and all(codes == {UNAVAILABLE} for codes in load.stream_ends)
    assert set(load.refused_sockets) <= {TRY_AGAIN_LATER}
    assert [decode_id(message_id, "Message") for message_id in load.delivered] == conversation[1:]
    # Every acknowledged send is stored exactly once, the unacknowledged ones once after their retry.
    assert not load.unacknowledged
    assert set(by_key) == set(load.acknowledged) | {"anchor"}
    assert all(ids == [decode_id(load.acknowledged[key], "Message")] for key, ids in by_key.items() if key != "anchor")
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log and "INTERNAL_SERVER_ERROR" not in log
    assert time.monotonic() - started < 60


async def test_too_many_connections_answer_503_until_one_is_free(postgres, aiohttp_client, tmp_path):
    await _prepared_world(postgres)
    await asyncio.to_thread(postgres.stop, "fast")
    await asyncio.to_thread(postgres.start, "max_connections=2", "superuser_reserved_connections=0")
    # No webhook dispatcher: its connections (a pool and a LISTEN) would take the two handed out here.
    api = await client_of(aiohttp_client, make_settings(postgres.url, tmp_path, webhook_dispatch=False))
    hogs = [await asyncpg.connect(postgres.url.replace("+asyncpg", "")) for _ in range(2)]  # all it allows
    try:
        status, body = await api.post(INBOX, {"first": 5}, as_="shop:s1")
        assert (status, [error["extensions"]["code"] for error in body["errors"]]) == (503, [UNAVAILABLE])
        response = await api.http.post("/graphql", json={"query": INBOX}, headers={"Authorization": "Bearer x"})
        assert (response.status, response.headers.get("Retry-After")) == (401, None)  # no database needed
        response = await api.http.post(
            "/graphql", json={"query": INBOX}, headers={"Authorization": f"Bearer {_token('shop:s1')}"}
        )
        assert (response.status, response.headers.get("Retry-After")) == (503, "2")
        assert (await api.http.get("/readyz")).status == 503
        socket = await WSClient.connect(
            api.http.session, str(api.http.make_url("/graphql")), TRANSPORT_WS, _token("shop:s1")
        )
        assert not await socket.acked() and socket.ws.close_code == TRY_AGAIN_LATER
    finally:
        await hogs.pop().close()
    try:
        assert (await api.http.get("/readyz")).status == 200
        await api.query(INBOX, {"first": 5}, as_="shop:s1")  # the pool connects again by itself
    finally:
        for hog in hogs:
            await hog.close()


LIVE_WITH_CONVERSATION = """subscription Live($after: String) {
  messageAdded(after: $after) { id content { ... on TextContent { text } } conversation { id unreadCount } }
}"""


async def test_a_message_whose_fields_cannot_be_read_ends_the_subscription(
    aiohttp_client, postgres_url, redis_server, tmp_path
):
    """A process cut off its database delivers a message from its event but cannot read the message's
    conversation: the stream ends with SERVICE_UNAVAILABLE (rather than going on without it), and
    resuming with `after` delivers it whole."""
    url = make_url(postgres_url)
    proxy = await TcpProxy(url.port).start()
    through_proxy = url.set(port=proxy.port).render_as_string(hide_password=False)
    cut_off = await client_of(aiohttp_client, make_settings(through_proxy, tmp_path, redis_url=redis_server.url))
    sender = await client_of(aiohttp_client, make_settings(postgres_url, tmp_path, redis_url=redis_server.url))
    await build_world(sender.engine)
    anchor = (await sender.query(SEND, text_to_shop(1, "anchor", "k0"), as_="creator:c1"))["sendMessage"]
    client = await WSClient.connect(
        cut_off.http.session, str(cut_off.http.make_url("/graphql")), TRANSPORT_WS, _token("creator:c1")
    )
    assert await client.acked()
    await client.subscribe(LIVE_WITH_CONVERSATION, {"after": message_cursor(anchor["message"]["id"])})
    one = (await sender.query(SEND, text_to_shop(1, "one", "k1"), as_="creator:c1"))["sendMessage"]
    assert (await client.next_payload())["payload"]["data"]["messageAdded"]["id"] == one["message"]["id"]

    await proxy.cut()
    await sender.query(SEND, text_to_shop(1, "two", "k2"), as_="creator:c1")
    ended = await client.next_payload()
    assert [error["extensions"]["code"] for error in ended["payload"]["errors"]] == [UNAVAILABLE]
    assert (await client.next_payload())["type"] == "complete"

    await proxy.start()  # the database is reachable again: the client resumes after what it has
    await client.subscribe(LIVE_WITH_CONVERSATION, {"after": message_cursor(one["message"]["id"])})
    resumed = (await client.next_payload())["payload"]["data"]["messageAdded"]
    assert resumed["content"]["text"] == "two" and resumed["conversation"]["id"] == one["conversation"]["id"]
    await client.close()
    await proxy.cut()
