"""Webhook dispatch across `server.py` processes on one PostgreSQL: they share the outbox without making
any attempt twice, a process killed after sending but before recording the outcome leaves the
delivery to be made again, with the same eventId and body, once its lease ends, a graceful stop hands
its attempt back at once, and a database restart stops nothing for good."""

import asyncio
from collections import Counter

import aiohttp
from sqlalchemy import select

from models.database import create_engine
from models.migrate import upgrade
from models.tables import webhook_delivery_t
from tests.support.app import JWT_SECRET
from tests.support.gql import SEND, text_to_shop
from tests.support.processes import ServerProcess, post_mutation
from tests.support.receiver import Receiver
from tests.support.webhooks import CREATE
from tests.support.world import build_world_at


def server(postgres_url: str, tmp_path, name: str, **env: str) -> ServerProcess:
    settings = {
        "DATABASE_URL": postgres_url,
        "INBOX_JWT_SECRET": JWT_SECRET,
        "INBOX_DATA_DIR": str(tmp_path),
        "INBOX_WEBHOOK_ALLOW_PRIVATE": "1",
        "INBOX_WEBHOOK_POLL_SECONDS": "0.5",
        **env,
    }
    return ServerProcess(settings, tmp_path / f"{name}.log")


async def deliveries(url: str) -> list:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(webhook_delivery_t).order_by(webhook_delivery_t.c.id))).all())
    finally:
        await engine.dispose()


async def wait_settled(url: str, count: int, timeout: float = 30) -> list:
    async with asyncio.timeout(timeout):
        while True:
            rows = await deliveries(url)
            if len(rows) >= count and all(row.status != "PENDING" for row in rows):
                return rows
            await asyncio.sleep(0.2)


async def test_two_processes_share_the_outbox_and_make_no_attempt_twice(postgres_url, tmp_path):
    await build_world_at(postgres_url)
    receiver = await Receiver(delay=0.02).start()
    servers = [server(postgres_url, tmp_path, f"server{n}").start() for n in range(2)]
    try:
        async with aiohttp.ClientSession() as session:
            create = {"input": {"url": receiver.url, "eventTypes": ["MESSAGE_CREATED"]}}
            await post_mutation(session, servers[0], CREATE, create, "shop:s1")

            async def talk(creator: int) -> None:
                for n in range(3):
                    variables = text_to_shop(1, f"hello {n}", f"c{creator}-{n}")
                    await post_mutation(session, servers[(creator + n) % 2], SEND, variables, f"creator:c{creator}")

            await asyncio.gather(*(talk(creator) for creator in range(1, 41)))
        rows = await wait_settled(postgres_url, 120)
        await receiver.wait_for(120)
        await asyncio.sleep(1.0)  # anything made twice would arrive by now
    finally:
        for process in servers:
            process.stop()
        await receiver.stop()
    assert len(rows) == 120 and {row.status for row in rows} == {"DELIVERED"}
    assert {row.attempts for row in rows} == {1}
    arrivals = Counter(r.event_id for r in receiver.received)
    assert set(arrivals) == {row.event_id for row in rows} and set(arrivals.values()) == {1}


async def handed_over(postgres_url: str, tmp_path, lease: str, end_first, within: float):
    """(the first request, the second's, the delivery row): the receiver holds the first attempt of an event
    unanswered while `end_first(process)` ends the process that made it; then another process starts."""
    await build_world_at(postgres_url)
    receiver = await Receiver(delay=60).start()
    env = {"INBOX_WEBHOOK_LEASE_SECONDS": lease, "INBOX_WEBHOOK_TIMEOUT_SECONDS": "5"}
    first = server(postgres_url, tmp_path, "first", **env).start()
    second = server(postgres_url, tmp_path, "second", **env)
    try:
        async with aiohttp.ClientSession() as session:
            create = {"input": {"url": receiver.url, "eventTypes": ["MESSAGE_CREATED"]}}
            await post_mutation(session, first, CREATE, create, "shop:s1")
            await post_mutation(session, first, SEND, text_to_shop(1, "catch me", "k1"), "creator:c1")
            (sent,) = await receiver.wait_for(1)
            await asyncio.to_thread(end_first, first)
            receiver.delay = 0
            second.start()
            _, again = await receiver.wait_for(2, timeout=within)
        (row,) = await wait_settled(postgres_url, 1)
    finally:
        first.stop()
        second.stop()
        await receiver.stop()
    return sent, again, row


def kill(process: ServerProcess) -> None:
    assert process.process is not None
    process.process.kill()  # SIGKILL: after sending, before the outcome
    process.process.wait(5)


async def test_a_process_killed_before_recording_leaves_the_event_to_be_sent_again(postgres_url, tmp_path):
    sent, again, row = await handed_over(postgres_url, tmp_path, "8", kill, within=20)
    assert (again.event_id, again.body) == (sent.event_id, sent.body)
    assert again.headers["webhook-timestamp"] >= sent.headers["webhook-timestamp"]
    assert (row.status, row.attempts, row.event_id) == ("DELIVERED", 2, sent.event_id)


async def test_a_process_stopped_gracefully_hands_its_attempt_back_at_once(postgres_url, tmp_path):
    # SIGTERM mid-attempt; redelivered long before the 60-s lease would have ended.
    sent, again, row = await handed_over(postgres_url, tmp_path, "60", ServerProcess.stop, within=10)
    assert again.event_id == sent.event_id and (row.status, row.attempts) == ("DELIVERED", 2)
    assert "Traceback" not in (tmp_path / "first.log").read_text()


async def test_deliveries_go_on_after_the_database_restarts(postgres, tmp_path):
    """The dispatcher outlives a PostgreSQL restart: warnings while it is down, no traceback, and the
    events of before and after are delivered (its LISTEN connection opened again)."""
    await asyncio.to_thread(upgrade, postgres.url)
    await build_world_at(postgres.url)
    receiver = await Receiver().start()
    app = server(postgres.url, tmp_path, "app").start()
    try:
        async with aiohttp.ClientSession() as session:
            create = {"input": {"url": receiver.url, "eventTypes": ["MESSAGE_CREATED"]}}
            await post_mutation(session, app, CREATE, create, "shop:s1")
            await post_mutation(session, app, SEND, text_to_shop(1, "before", "k1"), "creator:c1")
            await receiver.wait_for(1)
            await asyncio.to_thread(postgres.stop, "fast")
            await asyncio.sleep(2)  # several rounds find it gone
            await asyncio.to_thread(postgres.start)
            async with asyncio.timeout(20):
                while True:  # the app's pool reconnects by itself
                    try:
                        await post_mutation(session, app, SEND, text_to_shop(1, "after", "k2"), "creator:c1")
                        break
                    except AssertionError:
                        await asyncio.sleep(0.5)
            (_, after) = await receiver.wait_for(2, timeout=20)
    finally:
        app.stop()
        await receiver.stop()
    assert after.payload["data"]["message"]["content"]["text"] == "after"
    log = (tmp_path / "app.log").read_text()
    assert "Traceback" not in log and "webhook dispatch: the database is unavailable" in log
