"""Through the local cluster (deploy/local_cluster.py): nginx in front of three API processes on PgBouncer,
a PostgreSQL primary with its replica and a Redis Cluster. Live delivery crosses processes and shards,
and survives a Redis master's failover, a PgBouncer restart and a killed API process: resuming with
`after` loses nothing, and every error a client sees is SERVICE_UNAVAILABLE, never a 500."""

import asyncio
import tempfile
from pathlib import Path

import aiohttp
import pytest

from deploy import clients, local_cluster
from deploy.clients import ResumingSubscriber
from deploy.local_cluster import Cluster
from services.auth import issue_token
from tests.support.app import JWT_SECRET
from tests.support.cluster import API_SETTINGS, api_base, lb_base
from tests.support.gql import MESSAGE_ADDED, message_cursor, text_to_creator, text_to_shop
from tests.support.world import fresh_world_at
from tests.support.ws import WSClient


@pytest.fixture
async def topology(local_cluster: Cluster) -> Cluster:
    await fresh_world_at(local_cluster.primary_dsn("postgresql+asyncpg"))
    return local_cluster


def _headers(subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(JWT_SECRET, subject)}"}


async def _send(session: aiohttp.ClientSession, base: str, text: str, key: str, subject: str = "shop:s1") -> dict:
    """sendMessage, retried with the same key while the answer is SERVICE_UNAVAILABLE (deploy/clients.py)."""
    variables = text_to_creator(1, text, key) if subject == "shop:s1" else text_to_shop(1, text, key)
    outcome = await clients.send(session, f"{base}/graphql", issue_token(JWT_SECRET, subject), variables)
    assert outcome.message is not None, f"{text!r} never landed"
    return outcome.message


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


def _resuming(session: aiohttp.ClientSession, base: str, subject: str, after: str) -> ResumingSubscriber:
    return ResumingSubscriber(session, f"{base}/graphql", issue_token(JWT_SECRET, subject), after)


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


async def test_a_redis_master_failover_loses_no_message(topology):
    """The master holding the seller's channel dies (SIGKILL) while messages are sent; its replica takes
    over. The subscriber gets every message, in order, once: its broker resubscribes on the new master
    and resyncs from the database."""
    async with aiohttp.ClientSession() as session:
        anchor = await _send(session, lb_base(topology), "before", "c0", subject="creator:c1")
        seller = await _subscriber(session, api_base(topology, 0), "shop:s1", message_cursor(anchor["id"]))
        await _send(session, api_base(topology, 1), "warm", "w", subject="creator:c1")
        assert await _texts(seller, 1) == ["warm"]
        master = local_cluster.master_of(topology, "inbox:shop:1")
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
        seller = _resuming(session, lb_base(topology), "shop:s1", message_cursor(anchor["id"]))
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
