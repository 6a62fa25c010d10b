"""Through the local cluster (deploy/local_cluster.py): nginx in front of three API processes on PgBouncer,
a PostgreSQL primary with its replica and a Redis Cluster. Live delivery crosses processes and shards,
and survives a Redis master's failover, a PgBouncer restart and a killed API process: resuming with
`after` loses nothing, and every error a client sees is SERVICE_UNAVAILABLE, never a 500."""

import asyncio
import tempfile
from pathlib import Path

import aiohttp
import pytest
import redis

from deploy import local_cluster
from deploy.local_cluster import Cluster
from services.auth import issue_token
from tests.support.app import JWT_SECRET
from tests.support.cluster import API_SETTINGS, api_base, lb_base
from tests.support.gql import MESSAGE_ADDED, SEND, message_cursor, text_to_creator, text_to_shop
from tests.support.world import fresh_world_at
from tests.support.ws import WSClient

UNAVAILABLE = "SERVICE_UNAVAILABLE"


@pytest.fixture
async def topology(local_cluster: Cluster) -> Cluster:
    await fresh_world_at(local_cluster.primary_dsn("postgresql+asyncpg"))
    return local_cluster


def _headers(subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(JWT_SECRET, subject)}"}


async def _send(session: aiohttp.ClientSession, base: str, text: str, key: str, subject: str = "shop:s1") -> dict:
    """sendMessage, retried with the same key while the answer is SERVICE_UNAVAILABLE (the key makes a
    retry of a send that did land return the same message); any other error fails the test."""
    variables = text_to_creator(1, text, key) if subject == "shop:s1" else text_to_shop(1, text, key)
    for _ in range(100):
        async with session.post(
            f"{base}/graphql", json={"query": SEND, "variables": variables}, headers=_headers(subject)
        ) as response:
            assert response.status in (200, 503), (response.status, await response.text())
            body = await response.json()
        errors = body.get("errors") or []
        if not errors:
            assert body["data"]["sendMessage"]["userErrors"] == [], body
            return body["data"]["sendMessage"]["message"]
        assert {error["extensions"]["code"] for error in errors} == {UNAVAILABLE}, body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} never landed")


async def _subscriber(session: aiohttp.ClientSession, base: str, subject: str, after: str) -> WSClient:
    client = await WSClient.connect(
        session, f"{base}/graphql", "graphql-transport-ws", issue_token(JWT_SECRET, subject)
    )
    assert await client.acked()
    await client.subscribe(MESSAGE_ADDED, {"after": after})
    return client


async def _texts(client: WSClient, count: int, timeout: float = 20) -> list[str]:
    return [
        (await client.next_payload(timeout))["payload"]["data"]["messageAdded"]["content"]["text"] for _ in range(count)
    ]


class Resuming:
    """A `messageAdded` client as one should be written: when its stream ends (SERVICE_UNAVAILABLE, or
    the socket closed with its process), it subscribes again through the load balancer with `after`
    its last message."""

    def __init__(self, session: aiohttp.ClientSession, base: str, subject: str, after: str) -> None:
        self.session, self.base, self.subject, self.after = session, base, subject, after
        self.client: WSClient | None = None
        self.resumed = 0

    async def texts(self, count: int, timeout: float = 30) -> list[str]:
        texts: list[str] = []
        async with asyncio.timeout(timeout):
            while len(texts) < count:
                try:
                    if self.client is None:
                        self.client = await _subscriber(self.session, self.base, self.subject, self.after)
                    message = await self.client.next_payload(timeout)
                except (ConnectionError, aiohttp.ClientError, AssertionError):
                    await self._resume()
                    continue
                data = message["payload"].get("data") if message["type"] == "next" else None
                if data is None:  # the stream ended: only ever for a moment's unavailability
                    errors = message.get("payload") or []
                    errors = errors.get("errors", []) if isinstance(errors, dict) else errors
                    assert {error["extensions"]["code"] for error in errors} <= {UNAVAILABLE}, message
                    await self._resume()
                    continue
                texts.append(data["messageAdded"]["content"]["text"])
                self.after = message_cursor(data["messageAdded"]["id"])
        return texts

    async def _resume(self) -> None:
        if self.client is not None:
            await self.client.close()
        self.client = None
        self.resumed += 1
        await asyncio.sleep(0.2)


async def test_a_send_reaches_subscribers_on_every_process_and_through_the_load_balancer(topology):
    async with aiohttp.ClientSession() as session:
        anchor = await _send(session, lb_base(topology), "hi", "c0", subject="creator:c1")
        after = message_cursor(anchor["id"])
        bases = [api_base(topology, i) for i in range(3)] + [lb_base(topology)]
        subscribers = [await _subscriber(session, base, "shop:s1", after) for base in bases]
        for i in range(6):  # sent on each process in turn, directly and through the load balancer
            await _send(session, bases[i % 4], f"m{i}", f"k{i}", subject="creator:c1")
        for subscriber in subscribers:
            assert await _texts(subscriber, 6) == [f"m{i}" for i in range(6)]


def _master_of_channel(cluster: Cluster, channel: str) -> int:
    """The port of the Redis master that holds a sharded channel's slot."""
    client = redis.Redis(port=cluster.redis_ports[0])
    try:
        slot = client.execute_command("CLUSTER", "KEYSLOT", channel)
        for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return int(master[1])
    finally:
        client.close()
    raise AssertionError(f"no master holds slot {slot}")


async def test_a_redis_master_failover_loses_no_message(topology):
    """The master holding the seller's channel dies (SIGKILL) while messages are sent; its replica takes
    over. The subscriber gets every message, in order, once: its broker resubscribes on the new master
    and resyncs from the database."""
    async with aiohttp.ClientSession() as session:
        anchor = await _send(session, lb_base(topology), "before", "c0", subject="creator:c1")
        seller = await _subscriber(session, api_base(topology, 0), "shop:s1", message_cursor(anchor["id"]))
        await _send(session, api_base(topology, 1), "warm", "w", subject="creator:c1")
        assert await _texts(seller, 1) == ["warm"]
        master = _master_of_channel(topology, "inbox:shop:1")
        failover = asyncio.create_task(asyncio.to_thread(local_cluster.fail_over_redis_master, topology, master))
        sent = []
        for i in range(20):
            await _send(session, api_base(topology, 1 + i % 2), f"during {i}", f"d{i}", subject="creator:c1")
            sent.append(f"during {i}")
            await asyncio.sleep(0.2)
        await failover
        await _send(session, lb_base(topology), "after", "a", subject="creator:c1")
        assert await _texts(seller, 21, timeout=30) == [*sent, "after"]
        assert master not in local_cluster.redis_masters(topology)  # it came back as a replica


async def test_a_pgbouncer_restart_costs_retries_only(topology):
    """Sends go on while PgBouncer restarts: each is answered, or refused with SERVICE_UNAVAILABLE and
    then lands on a retry with its key (never twice); the subscriber, resuming with `after` when its
    stream ends, gets them all, in order, once."""
    async with aiohttp.ClientSession() as session:
        anchor = await _send(session, lb_base(topology), "before", "c0", subject="creator:c1")
        seller = Resuming(session, lb_base(topology), "shop:s1", message_cursor(anchor["id"]))
        restart = asyncio.create_task(asyncio.to_thread(local_cluster.restart_pgbouncer, topology))
        ids = [
            (await _send(session, lb_base(topology), f"m{i}", f"k{i}", subject="creator:c1"))["id"] for i in range(15)
        ]
        await restart
        assert len(set(ids)) == 15
        assert await seller.texts(15) == [f"m{i}" for i in range(15)]


async def test_a_killed_api_process_loses_no_message_for_a_client_that_resumes(topology):
    """The process holding a subscriber's socket is killed; the client reconnects through the load
    balancer (to another process) with `after`, and gets every message sent meanwhile."""
    async with aiohttp.ClientSession() as session:
        anchor = await _send(session, lb_base(topology), "before", "c0", subject="creator:c1")
        seller = await _subscriber(session, api_base(topology, 2), "shop:s1", message_cursor(anchor["id"]))
        first = await _send(session, lb_base(topology), "m0", "k0", subject="creator:c1")
        assert await _texts(seller, 1) == ["m0"]
        local_cluster.kill_api(topology, 2)
        try:
            with pytest.raises(ConnectionError):
                await seller.next_payload(10)
            for i in range(1, 11):
                await _send(session, lb_base(topology), f"m{i}", f"k{i}", subject="creator:c1")
            resumed = await _subscriber(session, lb_base(topology), "shop:s1", message_cursor(first["id"]))
            assert await _texts(resumed, 10) == [f"m{i}" for i in range(1, 11)]
        finally:
            await asyncio.to_thread(local_cluster.start_api, topology, 2)


def test_the_topology_starts_and_stops_cleanly_twice():
    """Start, check, stop, twice in one directory: nothing is left running or on disk."""
    directory = Path(tempfile.mkdtemp(prefix="inbox-cluster-twice-"))
    for _ in range(2):
        cluster = local_cluster.start(directory, API_SETTINGS)
        pids = list(cluster.api_pids)
        assert local_cluster.psql(cluster.replica_port, "inbox", "SELECT pg_is_in_recovery()").strip() == "t"
        assert len(local_cluster.redis_masters(cluster)) == 3
        local_cluster.stop(directory)
        assert not directory.exists()
        assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
        for port in (cluster.lb_port, cluster.pgbouncer_port, cluster.primary_port, *cluster.redis_ports):
            with pytest.raises(OSError):
                local_cluster.listening(port)
