"""Concurrent writes on PostgreSQL: the rules hold under races, in one process and across two.

Each race runs twice: against one app (requests interleaved on one event loop and one pool) and
against two `server.py` processes sharing the database, with the requests split between them.
"""

import asyncio
import os
import random
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from services.auth import issue_token
from tests.support.app import JWT_SECRET, make_settings
from tests.support.cluster import lb_base
from tests.support.gql import (
    APPROVE_SAMPLE,
    BLOCK_SHOP,
    COUNTS,
    MARK_ALL_READ,
    MARK_MANY_READ,
    MARK_READ,
    QUOTA,
    REJECT_SAMPLE,
    REQUEST_SAMPLE,
    SEND_BULK,
    SEND_FULL,
    START_CONVERSATION,
    bulk_input,
    gid,
    sample_input,
    shop_input,
    start_input,
    text_to_creator,
    text_to_shop,
)
from tests.support.postgres import clone_database
from tests.support.processes import ROOT, free_port
from tests.support.world import fresh_world_at

STARTUP_TIMEOUT = 30
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)


class Cluster:
    """Posts GraphQL operations to one app or, round-robin, to several server processes."""

    def __init__(self, posters):
        self._posters = posters

    async def post(self, document: str, variables: dict | None = None, *, as_: str, via: int = 0) -> dict:
        token = issue_token(JWT_SECRET, as_)
        status, body = await self._posters[via % len(self._posters)](
            {"query": document, "variables": variables or {}}, {"Authorization": f"Bearer {token}"}
        )
        assert status == 200 and "errors" not in body, body
        return body["data"]

    async def race(self, calls) -> list[dict]:
        """Fire (document, variables, subject) calls at once, spread over the servers; their data in order."""
        return await asyncio.gather(
            *(
                self.post(document, variables, as_=subject, via=i)
                for i, (document, variables, subject) in enumerate(calls)
            )
        )

    async def conversation_of(self, creator: int, as_: str = "shop:s1") -> dict | None:
        query = """query($id: ID!) { creator(id: $id) { conversation {
            id entrance messages(last: 100) { nodes { id senderRole content { __typename
              ... on SystemNotice { code } } } } } } }"""
        return (await self.post(query, {"id": gid("Creator", creator)}, as_=as_))["creator"]["conversation"]


def _wait_healthy(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
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


@pytest.fixture(scope="module")
def race_database(postgres_template):
    """One PostgreSQL database for the module (servers start once); each test resets its rows."""
    yield from clone_database(postgres_template)


@pytest.fixture(scope="module")
def servers(race_database, tmp_path_factory):
    """Two `server.py` processes on the race database; their base URLs. Terminated at the end."""
    directory = tmp_path_factory.mktemp("servers")
    processes, bases = [], []
    try:
        for i in range(2):
            port = free_port()
            env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
            # The servers live for the whole module: rate limits (not under test here) must not interfere.
            env.update(
                DATABASE_URL=race_database,
                INBOX_JWT_SECRET=JWT_SECRET,
                INBOX_PORT=str(port),
                INBOX_DATA_DIR=str(directory / f"server{i}"),
                INBOX_MUTATION_BURST="10000",
                INBOX_QUERY_BURST="10000",
                INBOX_METRICS_PORT="0",
            )  # two servers: no metrics port to share
            log = directory / f"server{i}.log"
            with open(log, "wb") as out:
                command = [sys.executable, "server.py", "serve", "--no-demo"]
                processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
            bases.append((f"http://127.0.0.1:{port}", log))
        for process, (base, log) in zip(processes, bases, strict=True):
            _wait_healthy(base, process, log)
        yield [base for base, _ in bases]
    finally:
        _stop(processes)


@pytest.fixture(params=["one_app", "two_servers", "load_balancer"])
def backend(request) -> tuple[list[str], str] | None:
    """None for one in-process app; or the base URLs of server processes and their database: two
    `server.py` processes, or the load balancer of the local cluster (three processes behind nginx,
    on PgBouncer and a Redis Cluster: tests/support/cluster.py)."""
    if request.param == "one_app":
        return None
    if request.param == "two_servers":
        return request.getfixturevalue("servers"), request.getfixturevalue("race_database")
    topology = request.getfixturevalue("local_cluster")
    return [lb_base(topology)], topology.primary_dsn("postgresql+asyncpg")


@pytest_asyncio.fixture
async def cluster(backend, race_database, tmp_path, aiohttp_client):
    """A fresh world on PostgreSQL, behind one app, two server processes or the load balancer."""
    await fresh_world_at(race_database if backend is None else backend[1])
    if backend is None:
        from server import create_app

        client = await aiohttp_client(create_app(make_settings(race_database, tmp_path)))

        async def post(body, headers):
            response = await client.post("/graphql", json=body, headers=headers)
            return response.status, await response.json()

        yield Cluster([post])
        return

    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:

        def poster(base):
            async def post(body, headers):
                async with session.post(f"{base}/graphql", json=body, headers=headers) as response:
                    return response.status, await response.json()

            return post

        yield Cluster([poster(base) for base in backend[0]])


def error_codes(payloads) -> Counter:
    return Counter(p["userErrors"][0]["code"] if p["userErrors"] else None for p in payloads)


async def test_concurrent_sends_into_a_new_conversation_stop_at_five(cluster):
    results = await cluster.race([(SEND_FULL, text_to_creator(1, f"Hello {i}", f"k{i}"), "shop:s1") for i in range(20)])
    payloads = [r["sendMessage"] for r in results]
    assert error_codes(payloads) == {None: 5, "PRE_REPLY_LIMIT_REACHED": 15}
    assert len({p["conversation"]["id"] for p in payloads if p["conversation"]}) == 1
    conversation = await cluster.conversation_of(1)
    assert len(conversation["messages"]["nodes"]) == 5
    assert (await cluster.post(COUNTS, as_="shop:s1"))["inboxCounts"]["all"] == 1
    assert (await cluster.post(QUOTA, as_="shop:s1"))["outreachQuota"]["used"] == 1


async def test_concurrent_first_messages_never_overshoot_the_weekly_limit(cluster):
    results = await cluster.race(
        [(SEND_FULL, text_to_creator(creator, "Hello", f"k{creator}"), "shop:s1") for creator in range(1, 31)]
    )
    payloads = [r["sendMessage"] for r in results]
    assert error_codes(payloads) == {None: 10, "WEEKLY_OUTREACH_LIMIT_REACHED": 20}
    quota = (await cluster.post(QUOTA, as_="shop:s1"))["outreachQuota"]
    assert (quota["used"], quota["remaining"]) == (10, 0)
    assert (await cluster.post(COUNTS, as_="shop:s1"))["inboxCounts"]["all"] == 10  # refusals opened nothing


async def test_concurrent_bulks_never_overshoot_the_weekly_limit(cluster):
    results = await cluster.race(
        [(SEND_BULK, bulk_input(range(1 + 8 * i, 9 + 8 * i), "Hello", f"b{i}"), "shop:s1") for i in range(3)]
    )
    payloads = [r["sendBulkMessage"] for r in results]
    assert sum(p["sentCount"] for p in payloads) == 10
    outcomes = Counter(r["userErrors"][0]["code"] if r["userErrors"] else None for p in payloads for r in p["results"])
    assert outcomes == {None: 10, "WEEKLY_OUTREACH_LIMIT_REACHED": 14}
    assert (await cluster.post(COUNTS, as_="shop:s1"))["inboxCounts"]["all"] == 10


async def test_concurrent_retries_of_one_key_send_one_message(cluster):
    results = await cluster.race(
        [(SEND_FULL, text_to_creator(2, "Hello once", "same-key"), "shop:s1") for _ in range(10)]
    )
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
    results = await cluster.race([(START_CONVERSATION, start_input(3, entrance), "shop:s1") for entrance in entrances])
    payloads = [r["startConversation"] for r in results]
    assert all(p["userErrors"] == [] for p in payloads), payloads
    assert len({p["conversation"]["id"] for p in payloads}) == 1
    assert len({p["conversation"]["entrance"] for p in payloads}) == 1
    assert (await cluster.post(COUNTS, as_="shop:s1"))["inboxCounts"]["all"] == 1
    assert (await cluster.post(QUOTA, as_="shop:s1"))["outreachQuota"]["used"] == 0


async def test_no_message_lands_after_a_racing_block(cluster):
    """Creators 1-6 already talk with s1, 7-12 do not; each blocks s1 while s1 writes to it. Every send
    lands before the block (its notice comes after it) or is refused, and a refused first message
    opens no conversation."""
    for creator in range(1, 7):
        await cluster.post(SEND_FULL, text_to_shop(1, "Hi", f"hi{creator}"), as_=f"creator:c{creator}")
    calls = []
    for creator in range(1, 13):
        calls.append((BLOCK_SHOP, shop_input(1), f"creator:c{creator}"))
        calls.append((SEND_FULL, text_to_creator(creator, "Hello", f"k{creator}"), "shop:s1"))
    results = await cluster.race(calls)
    for creator in range(1, 13):
        block, sent = results[2 * creator - 2]["blockShop"], results[2 * creator - 1]["sendMessage"]
        assert block["userErrors"] == [] and block["shop"]["isBlocked"] is True, block
        landed = sent["userErrors"] == []
        if not landed:
            assert [(e["code"], e["message"]) for e in sent["userErrors"]] == [
                ("BLOCKED", "This creator is not accepting messages from your shop.")
            ], sent
        conversation = await cluster.conversation_of(creator)
        if conversation is None:
            assert creator > 6 and not landed
            continue
        kinds = [m["content"].get("code") or m["senderRole"] for m in conversation["messages"]["nodes"]]
        before = ["CREATOR"] if creator <= 6 else []
        assert kinds == before + (["SELLER"] if landed else []) + ["SHOP_BLOCKED"], (creator, kinds, sent)


RECEIPTS = """query($id: ID!) { conversation(id: $id) {
  unreadCount otherSideLastReadAt messages(last: 100) { nodes { isMine isReadByOtherSide } } } }"""


async def _receipts(cluster: Cluster, conversation: str, subject: str) -> tuple[int, datetime | None]:
    """(how many of the subject's messages the other side read, when it last moved its position), the
    receipts asserted to be a prefix: a read position is one point of the conversation."""
    view = (await cluster.post(RECEIPTS, {"id": conversation}, as_=subject))["conversation"]
    flags = [m["isReadByOtherSide"] for m in view["messages"]["nodes"] if m["isMine"]]
    read = flags.count(True)
    assert flags == [True] * read + [False] * (len(flags) - read), flags
    moved = view["otherSideLastReadAt"]
    return read, datetime.fromisoformat(moved) if moved else None


async def _assert_unread_matches_receipts(cluster: Cluster, conversation: str, creator: int) -> int:
    """The seller's unread count is the creator's messages its receipts show unread; that count."""
    read, _ = await _receipts(cluster, conversation, f"creator:c{creator}")
    view = (await cluster.post(RECEIPTS, {"id": conversation}, as_="shop:s1"))["conversation"]
    mine = sum(1 for m in view["messages"]["nodes"] if not m["isMine"] and m["isReadByOtherSide"] is None)
    assert view["unreadCount"] == mine - read, (view["unreadCount"], mine, read)
    return view["unreadCount"]


async def test_read_positions_never_move_back_while_messages_arrive(cluster):
    """Two tabs of the seller mark the chat read (up to the newest, up to an old message, as a batch,
    as a folder) while the creator sends: the position the creator's receipts show only moves forward."""
    opened = (await cluster.post(SEND_FULL, text_to_creator(1, "Hello", "k0"), as_="shop:s1"))["sendMessage"]
    conversation = opened["conversation"]["id"]
    old = (await cluster.post(SEND_FULL, text_to_shop(1, "Hi", "r0"), as_="creator:c1"))["sendMessage"]["message"]
    calls = [(SEND_FULL, text_to_shop(1, f"m{n}", f"r{n + 1}"), "creator:c1") for n in range(12)]
    for _ in range(4):
        calls += [
            (MARK_READ, {"input": {"conversationId": conversation}}, "shop:s1"),
            (MARK_READ, {"input": {"conversationId": conversation, "upToMessageId": old["id"]}}, "shop:s1"),
        ]
    calls += [(MARK_MANY_READ, {"ids": [conversation]}, "shop:s1"), (MARK_ALL_READ, {}, "shop:s1")] * 2
    random.Random(15).shuffle(calls)
    race = asyncio.create_task(cluster.race(calls))
    seen = []
    while not race.done():
        seen.append(await _receipts(cluster, conversation, "creator:c1"))
    for data in await race:
        (payload,) = data.values()
        assert payload["userErrors"] == [], payload
    seen.append(await _receipts(cluster, conversation, "creator:c1"))
    positions = [read for read, _ in seen]
    times = [moved for _, moved in seen if moved is not None]
    assert positions == sorted(positions) and times == sorted(times), seen
    await _assert_unread_matches_receipts(cluster, conversation, 1)
    await cluster.post(MARK_READ, {"input": {"conversationId": conversation}}, as_="shop:s1")
    assert (await _receipts(cluster, conversation, "creator:c1"))[0] == 13


async def test_marking_all_read_while_messages_arrive_keeps_every_count_right(cluster):
    """Folder and batch marks race the creators' sends into eight conversations: no deadlock, and
    each unread count is what the receipts show."""
    conversations = {}
    for creator in range(1, 9):
        await cluster.post(SEND_FULL, text_to_creator(creator, "Hello", f"k{creator}"), as_="shop:s1")
        reply = await cluster.post(SEND_FULL, text_to_shop(1, "Hi", f"r{creator}"), as_=f"creator:c{creator}")
        conversations[creator] = reply["sendMessage"]["conversation"]["id"]
    calls = [
        (SEND_FULL, text_to_shop(1, f"More {n}", f"r{creator}-{n}"), f"creator:c{creator}")
        for creator in conversations
        for n in range(6)
    ]
    calls += [(MARK_ALL_READ, {}, "shop:s1")] * 8 + [
        (MARK_MANY_READ, {"ids": list(conversations.values())}, "shop:s1")
    ] * 4
    random.Random(16).shuffle(calls)
    for data in await cluster.race(calls):
        (payload,) = data.values()
        assert payload["userErrors"] == [], payload
    unread = [
        await _assert_unread_matches_receipts(cluster, conversation, creator)
        for creator, conversation in conversations.items()
    ]
    behind = sum(1 for count in unread if count)
    assert (await cluster.post(COUNTS, as_="shop:s1"))["inboxCounts"]["unread"] == behind
    assert (await cluster.post(MARK_ALL_READ, {}, as_="shop:s1"))["markAllConversationsRead"]["markedCount"] == behind
    for creator, conversation in conversations.items():
        assert await _assert_unread_matches_receipts(cluster, conversation, creator) == 0
