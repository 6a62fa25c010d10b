"""Webhooks: latency from commit to the receiver's request at a steady 100 events/s, and deliveries per
second draining a backlog (`python -m bench run --only webhooks`).

Two API processes (`server.py serve`, production settings, INBOX_WEBHOOK_ALLOW_PRIVATE=1 for the local
receiver) on a fresh PostgreSQL database with the demo seeded. The receiver is an aiohttp server in
this process answering 204 at once. Events are creators' messages to shop s1, sent through both
processes in turn at a fixed pace; an event's latency is its arrival minus its payload's `timestamp`
(taken in the transaction, just before the commit). The backlog is 5,000 deliveries written in one
statement, due at once; its rate is from that commit to the last arrival.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import time
from datetime import datetime

import aiohttp
import asyncpg
from aiohttp import web

from bench import servers

DATABASE = "inbox_bench_webhooks"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
RATE = 100  # events per second
SECONDS = 20
BACKLOG = 5000
SEND = """mutation($input: SendMessageInput!) { sendMessage(input: $input) { userErrors { code } } }"""
CREATE = """mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { endpoint { id } userErrors { code message } }
}"""


class Receiver:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str, bytes]] = []  # (time.time(), webhook-id, body)
        self.port = _free_port()
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def _handle(self, request: web.Request) -> web.Response:
        self.arrivals.append((time.time(), request.headers["webhook-id"], await request.read()))
        return web.Response(status=204)

    async def until(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.arrivals) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


def _prepare(database_url: str, env: dict) -> None:
    async def recreate() -> None:
        conn = await asyncpg.connect(ADMIN_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await conn.close()

    asyncio.run(recreate())
    for command in (["migrate"], ["seed-demo"]):
        subprocess.run([servers.PYTHON, "server.py", *command], cwd=servers.REPO, env=env, check=True)


async def _post(session: aiohttp.ClientSession, url: str, token: str, query: str, variables: dict) -> dict:
    async with session.post(
        url, json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        body = await response.json()
    (payload,) = body["data"].values()
    assert payload["userErrors"] == [], payload
    return payload


async def _steady(urls: list[str], tokens: list[str], receiver: Receiver) -> dict:
    """RATE events a second for SECONDS, each a creator's message to shop s1 through the servers in turn."""
    total = RATE * SECONDS
    async with aiohttp.ClientSession() as session:
        start = time.monotonic()

        async def send(n: int) -> None:
            await asyncio.sleep(max(0.0, start + n / RATE - time.monotonic()))
            text = {"shopId": _shop_gid(), "clientMessageId": f"bench-{n}", "content": {"text": f"event {n}"}}
            await _post(session, urls[n % len(urls)], tokens[n % len(tokens)], SEND, {"input": text})

        await asyncio.gather(*(send(n) for n in range(total)))
        sent_seconds = time.monotonic() - start
    await receiver.until(total, 30)
    latencies = sorted(
        (arrived - datetime.fromisoformat(json.loads(body)["timestamp"]).timestamp()) * 1000
        for arrived, _, body in receiver.arrivals
    )
    ids = [event_id for _, event_id, _ in receiver.arrivals]
    return {
        "events": total,
        "offered_per_s": RATE,
        "achieved_send_per_s": round(total / sent_seconds, 1),
        "delivered": len(set(ids)),
        "duplicates": len(ids) - len(set(ids)),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        "max_ms": round(latencies[-1], 1),
    }


async def _backlog(dsn: str, receiver: Receiver) -> dict:
    """BACKLOG deliveries due at once, copies of a delivered one with new event ids."""
    before = len(receiver.arrivals)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(
                """INSERT INTO webhook_delivery (endpoint_id, event_id, event_type, body, status, attempts,
                       next_attempt_at, retry_since, created_at)
                   SELECT d.endpoint_id, 'msg_backlog_' || n, d.event_type, d.body, 'PENDING', 0, now(), now(), now()
                   FROM generate_series(1, $1) AS n, (SELECT * FROM webhook_delivery ORDER BY id LIMIT 1) AS d""",
                BACKLOG,
            )
            await conn.execute("SELECT pg_notify('inbox_webhooks', '')")
        committed = time.time()
    finally:
        await conn.close()
    await receiver.until(before + BACKLOG, 120)
    arrivals = receiver.arrivals[before:]
    seconds = arrivals[-1][0] - committed
    return {
        "deliveries": len(arrivals),
        "seconds": round(seconds, 2),
        "deliveries_per_s": round(len(arrivals) / seconds),
    }


def run() -> int:
    database_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DATABASE}"
    dsn = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
    env = servers.api_env(database_url, 0)
    _prepare(database_url, env)

    async def measure() -> dict:
        receiver = Receiver()
        await receiver.start()
        try:
            with servers.Processes() as procs:
                api = []
                for n in range(2):
                    server = servers.api_server(f"api-webhooks-{n}", database_url, _free_port())
                    server.env.update(INBOX_WEBHOOK_ALLOW_PRIVATE="1")
                    procs.start(server)
                    api.append(server.url)
                shop = servers.token("shop:s1", database_url)
                creators = [servers.token(f"creator:c{n}", database_url) for n in range(1, 21)]
                async with aiohttp.ClientSession() as session:
                    url = f"http://127.0.0.1:{receiver.port}/hook"
                    await _post(
                        session, api[0], shop, CREATE, {"input": {"url": url, "eventTypes": ["MESSAGE_CREATED"]}}
                    )
                steady = await _steady(api, creators, receiver)
                backlog = await _backlog(dsn, receiver)
        finally:
            if receiver.runner is not None:
                await receiver.runner.cleanup()
        return {"processes": 2, "steady": steady, "backlog": backlog}

    result = asyncio.run(measure())
    print(json.dumps(result, indent=2))
    return 0


def _shop_gid() -> str:
    import base64

    return base64.urlsafe_b64encode(b"Shop:1").decode().rstrip("=")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
