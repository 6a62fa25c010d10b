"""What the API processes share through the Redis Cluster and the primary, through the local cluster:
typing indicators, persisted queries and webhook wake-ups reach every process."""

import asyncio
import hashlib
from collections import Counter

import aiohttp
import pytest

from deploy import local_cluster
from deploy.local_cluster import Cluster
from services.auth import issue_token
from tests.live.test_typing import REPORT, TYPING
from tests.support.app import JWT_SECRET
from tests.support.cluster import api_base, lb_base
from tests.support.gql import SEND, gid, text_to_creator, text_to_shop
from tests.support.receiver import Receiver
from tests.support.webhooks import CREATE
from tests.support.world import fresh_world_at
from tests.support.ws import TRANSPORT_WS, WSClient


@pytest.fixture
async def topology(local_cluster: Cluster) -> Cluster:
    await fresh_world_at(local_cluster.primary_dsn("postgresql+asyncpg"))
    return local_cluster


async def _post(session: aiohttp.ClientSession, base: str, body: dict, subject: str) -> dict:
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET, subject)}"}
    async with session.post(f"{base}/graphql", json=body, headers=headers) as response:
        result = await response.json()
    assert response.status == 200 and "errors" not in result, result
    return result["data"]


async def test_a_typing_report_on_one_process_reaches_the_other_side_on_another(topology):
    async with aiohttp.ClientSession() as session:
        await _post(session, lb_base(topology), {"query": SEND, "variables": text_to_creator(1, "Hi", "k0")}, "shop:s1")
        seller = await WSClient.connect(
            session, f"{topology.api_url(0)}", TRANSPORT_WS, issue_token(JWT_SECRET, "shop:s1")
        )
        assert await seller.acked()
        await seller.subscribe(TYPING)
        report = {"query": REPORT, "variables": {"input": {"conversationId": gid("Conversation", 1)}}}
        # Reported until the subscription is live (GraphQL has no subscribe ack); repeats within 2 s are
        # told once, whichever process they reach: the gate's keys are shared.
        async with asyncio.timeout(15):
            while True:
                await _post(session, api_base(topology, 1), report, "creator:c1")
                try:
                    message = await seller.next_payload(0.5)
                    break
                except TimeoutError:
                    await asyncio.sleep(2.1)
        assert message["payload"]["data"]["typing"]["isTyping"] is True
        for index in (1, 2, 1):
            await _post(session, api_base(topology, index), report, "creator:c1")
        with pytest.raises(TimeoutError):
            await seller.next_payload(1)


async def test_a_persisted_query_registered_on_one_process_runs_by_its_hash_on_another(topology):
    query = "query Quota { outreachQuota { weeklyLimit } }"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}
    async with aiohttp.ClientSession() as session:
        registered = await _post(session, api_base(topology, 0), {"query": query, "extensions": extensions}, "shop:s1")
        by_hash = await _post(session, api_base(topology, 2), {"extensions": extensions}, "shop:s1")
    assert by_hash == registered


async def test_webhooks_of_sends_on_every_process_are_made_once_each_soon(topology):
    """Polling at 60 s: deliveries within seconds come from the wake-ups, a process's own commits and
    the NOTIFY of the others', which each process hears on a connection of its own to the primary
    (INBOX_DATABASE_LISTEN_URL: a LISTEN through PgBouncer in transaction mode would hear nothing)."""
    listening = local_cluster.psql(
        topology.primary_port, "inbox", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
    )
    assert int(listening) == 3
    receiver = await Receiver().start()
    try:
        async with aiohttp.ClientSession() as session:
            create = {"input": {"url": receiver.url, "eventTypes": ["MESSAGE_CREATED"]}}
            await _post(session, lb_base(topology), {"query": CREATE, "variables": create}, "shop:s1")
            await asyncio.sleep(1)  # the dispatchers' first round has passed: what follows needs a wake-up
            for n in range(12):
                variables = text_to_shop(1, f"hello {n}", f"k{n}")
                await _post(session, api_base(topology, n % 3), {"query": SEND, "variables": variables}, "creator:c1")
            await receiver.wait_for(12, timeout=10)
            await asyncio.sleep(1)  # anything made twice would arrive by now
    finally:
        await receiver.stop()
    arrivals = Counter(r.event_id for r in receiver.received)
    assert len(arrivals) == 12 and set(arrivals.values()) == {1}
