"""Queries on the streaming replica, through the local cluster, without giving up read-your-writes: a
mutation's response carries the primary's WAL position (header and extensions); a query that sends it
back reads the replica only once it has replayed that far. A lagging or stopped replica is not read."""

import asyncio
import time

import aiohttp
import pytest

from deploy import local_cluster
from deploy.local_cluster import Cluster
from models.replica import READ_AFTER_HEADER, WAL_POSITION_HEADER
from services.auth import issue_token
from tests.support.app import JWT_SECRET
from tests.support.cluster import api_base, lb_base
from tests.support.gql import SEND, text_to_shop
from tests.support.world import fresh_world_at

LAST_MESSAGE = "query { conversations(first: 1) { edges { node { lastMessage { id } } } } }"


@pytest.fixture
async def topology(local_cluster: Cluster) -> Cluster:
    await fresh_world_at(local_cluster.primary_dsn("postgresql+asyncpg"))
    return local_cluster


def _headers(subject: str, read_after: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET, subject)}"}
    if read_after is not None:
        headers[READ_AFTER_HEADER] = read_after
    return headers


async def _send(session: aiohttp.ClientSession, base: str, text: str, key: str) -> tuple[str, str]:
    """A creator's message to shop s1: (its id, the WAL position its response gave)."""
    async with session.post(
        f"{base}/graphql",
        json={"query": SEND, "variables": text_to_shop(1, text, key)},
        headers=_headers("creator:c1"),
    ) as response:
        body = await response.json()
        header = response.headers.get(WAL_POSITION_HEADER)
    assert body["data"]["sendMessage"]["userErrors"] == [], body
    assert header is not None and body["extensions"]["walPosition"] == header, (header, body.get("extensions"))
    return body["data"]["sendMessage"]["message"]["id"], header


async def _last_message(session: aiohttp.ClientSession, base: str, read_after: str | None = None) -> str | None:
    """The id of the last message in the seller's inbox, as one query reads it."""
    async with session.post(
        f"{base}/graphql", json={"query": LAST_MESSAGE}, headers=_headers("shop:s1", read_after)
    ) as response:
        body = await response.json()
    assert response.status == 200 and "errors" not in body, body
    edges = body["data"]["conversations"]["edges"]
    return edges[0]["node"]["lastMessage"]["id"] if edges else None


async def test_a_send_then_a_read_through_another_process_sees_the_message(topology):
    async with aiohttp.ClientSession() as session:
        for i in range(30):
            message, position = await _send(session, api_base(topology, i % 3), f"m{i}", f"k{i}")
            assert await _last_message(session, api_base(topology, (i + 1) % 3), position) == message


async def test_queries_read_the_replica_until_it_lags_too_far(topology):
    """Replay paused on the replica: a query without the client's position is read there (the message
    is not there yet), one with it goes to the primary; once the lag passes INBOX_REPLICA_MAX_LAG_MS
    (1 s), every query goes to the primary."""
    async with aiohttp.ClientSession() as session:
        await _send(session, lb_base(topology), "warm", "w")
        await asyncio.sleep(0.5)  # replayed: the replica is in use
        local_cluster.psql(topology.replica_port, "inbox", "SELECT pg_wal_replay_pause()")
        try:
            message, position = await _send(session, api_base(topology, 0), "new", "n")
            sent_at = time.monotonic()
            stale = await _last_message(session, api_base(topology, 1))
            fresh = await _last_message(session, api_base(topology, 1), position)
            assert time.monotonic() - sent_at < 0.9, "too slow to observe the replica before its lag counts"
            assert stale != message and fresh == message
            await asyncio.sleep(1.5)
            assert await _last_message(session, api_base(topology, 1)) == message
        finally:
            local_cluster.psql(topology.replica_port, "inbox", "SELECT pg_wal_replay_resume()")


async def test_a_stopped_replica_sends_every_query_to_the_primary(topology):
    replica = topology.path / "pg-replica"
    async with aiohttp.ClientSession() as session:
        local_cluster.stop_postgres(replica)
        # A query caught as the replica stops gets SERVICE_UNAVAILABLE (and retries); the next ones go
        # to the primary once each process has seen the replica gone (models/replica.py, POLL_SECONDS).
        await asyncio.sleep(0.5)
        try:
            for i in range(5):
                message, _ = await _send(session, lb_base(topology), f"m{i}", f"k{i}")
                assert await _last_message(session, lb_base(topology)) == message
        finally:
            local_cluster.start_postgres(replica)
