"""Concurrent writes on PostgreSQL: the rules hold under races, in one process and across two.

Each race runs twice: against one app (requests interleaved on one event loop and one pool) and
against two `server.py` processes sharing the database, with the requests split between them.
"""

import asyncio
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from models.database import create_engine
from services.auth import issue_token
from tests.conftest import JWT_SECRET, make_settings
from tests.gql import (APPROVE_SAMPLE, COUNTS, QUOTA, REJECT_SAMPLE, REQUEST_SAMPLE, SEND_BULK, SEND_FULL,
                       START_CONVERSATION, bulk_input, gid, sample_input, start_input, text_to_creator)
from tests.world import build_world

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """Posts GraphQL operations to one app or, round-robin, to several server processes."""

    def __init__(self, posters):
        self._posters = posters

    async def post(self, document: str, variables: dict | None = None, *, as_: str, via: int = 0) -> dict:
        token = issue_token(JWT_SECRET, as_)
        status, body = await self._posters[via % len(self._posters)](
            {"query": document, "variables": variables or {}}, {"Authorization": f"Bearer {token}"})
        assert status == 200 and "errors" not in body, body
        return body["data"]

    async def race(self, calls) -> list[dict]:
        """Fire (document, variables, subject) calls at once, spread over the servers; their data in order."""
        return await asyncio.gather(*(self.post(document, variables, as_=subject, via=i)
                                      for i, (document, variables, subject) in enumerate(calls)))

    async def conversation_of(self, creator: int, as_: str = "shop:s1") -> dict | None:
        query = """query($id: ID!) { creator(id: $id) { conversation {
            id entrance messages(last: 100) { nodes { id senderRole content { __typename
              ... on SystemNotice { code } } } } } } }"""
        return (await self.post(query, {"id": gid("Creator", creator)}, as_=as_))["creator"]["conversation"]


async def _wait_healthy(session: aiohttp.ClientSession, base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            async with session.get(f"{base}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as response:
                if response.status == 200:
                    return
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(0.1)
    pytest.fail(f"server at {base} not healthy after {STARTUP_TIMEOUT}s:\n{log.read_text()}")


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(params=["one_app", "two_servers"])
def mode(request) -> str:
    return request.param


@pytest_asyncio.fixture
async def cluster(mode, postgres_url, tmp_path, aiohttp_client):
    """A world on a fresh PostgreSQL database, behind one app or two server processes."""
    if mode == "one_app":
        from server import APP_STATE, create_app

        app = create_app(make_settings(postgres_url, tmp_path))
        client = await aiohttp_client(app)
        await build_world(app[APP_STATE].engine)

        async def post(body, headers):
            response = await client.post("/graphql", json=body, headers=headers)
            return response.status, await response.json()

        yield Cluster([post])
        return

    engine = create_engine(postgres_url)
    try:
        await build_world(engine)
    finally:
        await engine.dispose()
    processes, bases = [], []
    session = aiohttp.ClientSession(timeout=REQUEST_TIMEOUT)
    try:
        for i in range(2):
            port = free_port()
            env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
            env.update(DATABASE_URL=postgres_url, INBOX_JWT_SECRET=JWT_SECRET, INBOX_PORT=str(port),
                       INBOX_DATA_DIR=str(tmp_path / f"server{i}"))
            log = tmp_path / f"server{i}.log"
            with open(log, "wb") as out:
                processes.append(subprocess.Popen([sys.executable, "server.py", "--no-demo"], cwd=ROOT, env=env,
                                                  stdout=out, stderr=subprocess.STDOUT))
            bases.append((f"http://127.0.0.1:{port}", log))
        for process, (base, log) in zip(processes, bases):
            await _wait_healthy(session, base, process, log)

        def poster(base):
            async def post(body, headers):
                async with session.post(f"{base}/graphql", json=body, headers=headers) as response:
                    return response.status, await response.json()
            return post

        yield Cluster([poster(base) for base, _ in bases])
    finally:
        await session.close()
        _stop(processes)


def error_codes(payloads) -> Counter:
    return Counter(p["userErrors"][0]["code"] if p["userErrors"] else None for p in payloads)


async def test_concurrent_sends_into_a_new_conversation_stop_at_five(cluster):
    results = await cluster.race([(SEND_FULL, text_to_creator(1, f"Hello {i}", f"k{i}"), "shop:s1")
                                  for i in range(20)])
    payloads = [r["sendMessage"] for r in results]
    assert error_codes(payloads) == {None: 5, "PRE_REPLY_LIMIT_REACHED": 15}
    assert len({p["conversation"]["id"] for p in payloads if p["conversation"]}) == 1
    conversation = await cluster.conversation_of(1)
    assert len(conversation["messages"]["nodes"]) == 5
    assert (await cluster.post(COUNTS, as_="shop:s1"))["inboxCounts"]["all"] == 1
    assert (await cluster.post(QUOTA, as_="shop:s1"))["outreachQuota"]["used"] == 1


async def test_concurrent_first_messages_never_overshoot_the_weekly_limit(cluster):
    results = await cluster.race([(SEND_FULL, text_to_creator(creator, "Hello", f"k{creator}"), "shop:s1")
                                  for creator in range(1, 31)])
    payloads = [r["sendMessage"] for r in results]
    assert error_codes(payloads) == {None: 10, "WEEKLY_OUTREACH_LIMIT_REACHED": 20}
    quota = (await cluster.post(QUOTA, as_="shop:s1"))["outreachQuota"]
    assert (quota["used"], quota["remaining"]) == (10, 0)
    assert (await cluster.post(COUNTS, as_="shop:s1"))["inboxCounts"]["all"] == 10  # refusals opened nothing


async def test_concurrent_bulks_never_overshoot_the_weekly_limit(cluster):
    results = await cluster.race([(SEND_BULK, bulk_input(range(1 + 8 * i, 9 + 8 * i), "Hello", f"b{i}"), "shop:s1")
                                  for i in range(3)])
    payloads = [r["sendBulkMessage"] for r in results]
    assert sum(p["sentCount"] for p in payloads) == 10
    outcomes = Counter(r["userErrors"][0]["code"] if r["userErrors"] else None
                       for p in payloads for r in p["results"])
    assert outcomes == {None: 10, "WEEKLY_OUTREACH_LIMIT_REACHED": 14}
    assert (await cluster.post(COUNTS, as_="shop:s1"))["inboxCounts"]["all"] == 10


async def test_concurrent_retries_of_one_key_send_one_message(cluster):
    results = await cluster.race([(SEND_FULL, text_to_creator(2, "Hello once", "same-key"), "shop:s1")
                                  for _ in range(10)])
    payloads = [r["sendMessage"] for r in results]
    assert all(p["userErrors"] == [] for p in payloads), payloads
    assert len({p["message"]["id"] for p in payloads}) == 1
    assert len((await cluster.conversation_of(2))["messages"]["nodes"]) == 1
    assert (await cluster.post(QUOTA, as_="shop:s1"))["outreachQuota"]["used"] == 1


async def test_concurrent_approve_and_reject_decide_once(cluster):
    samples = []
    for creator in (1, 2, 3, 4):
        data = await cluster.post(REQUEST_SAMPLE, sample_input(1, f"req{creator}"), as_=f"creator:c{creator}")
        samples.append(data["requestSample"]["sampleRequest"]["id"])
    calls = []
    for sample in samples:
        calls.append((APPROVE_SAMPLE, {"input": {"sampleRequestId": sample}}, "shop:s1"))
        calls.append((REJECT_SAMPLE, {"input": {"sampleRequestId": sample, "reason": "No stock"}}, "shop:s1"))
    results = await cluster.race(calls)
    for i, creator in enumerate((1, 2, 3, 4)):
        approve = results[2 * i]["approveSampleRequest"]
        reject = results[2 * i + 1]["rejectSampleRequest"]
        decided = [p for p in (approve, reject) if not p["userErrors"]]
        assert len(decided) == 1, (approve, reject)
        loser = reject if decided[0] is approve else approve
        assert [e["code"] for e in loser["userErrors"]] == ["SAMPLE_ALREADY_DECIDED"]
        messages = (await cluster.conversation_of(creator))["messages"]["nodes"]
        notices = [m["content"]["code"] for m in messages if m["senderRole"] == "SYSTEM"]
        expected = "SAMPLE_APPROVED" if decided[0] is approve else "SAMPLE_REJECTED"
        assert notices == [expected]


async def test_racing_start_conversation_opens_one(cluster):
    entrances = ["FIND_CREATORS", "TARGETED_PLAN"] * 3
    results = await cluster.race([(START_CONVERSATION, start_input(3, entrance), "shop:s1")
                                  for entrance in entrances])
    payloads = [r["startConversation"] for r in results]
    assert all(p["userErrors"] == [] for p in payloads), payloads
    assert len({p["conversation"]["id"] for p in payloads}) == 1
    assert len({p["conversation"]["entrance"] for p in payloads}) == 1
    assert (await cluster.post(COUNTS, as_="shop:s1"))["inboxCounts"]["all"] == 1
    assert (await cluster.post(QUOTA, as_="shop:s1"))["outreachQuota"]["used"] == 0
