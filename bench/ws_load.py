"""WebSocket load: `messageAdded` subscriptions over graphql-transport-ws (aiohttp client).

* `latency()`: N creators subscribe (spread over the given API processes), a sender posts
  sendMessage as shop s1 into their conversations at a steady rate, alternating the processes
  at random, so most messages cross processes through Redis; each message's text carries its
  number, and the time from just before its POST to its arrival on the creator's socket is
  the send-to-receive latency. Sender and receivers share one clock (one process).
* `idle()`: N creators each open one WebSocket with one subscription on one process; the
  server's RSS before and after gives the memory per idle subscription.

Everything is bounded in time; every socket is closed at the end.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field

import aiohttp
import psutil

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

from bench.scenarios import SEND, SUBSCRIPTION, encode_id

PROTOCOL = "graphql-transport-ws"


@dataclass
class Subscriber:
    ws: aiohttp.ClientWebSocketResponse
    reader: asyncio.Task | None = None
    received: int = 0
    errors: list = field(default_factory=list)


async def subscribe(
    session: aiohttp.ClientSession, url: str, token: str, on_text=None, timeout: float = 30
) -> Subscriber:
    """Connect, authenticate in connection_init, start one messageAdded subscription."""
    ws = await session.ws_connect(
        url, protocols=(PROTOCOL,), timeout=aiohttp.ClientWSTimeout(ws_close=5), autoping=True, heartbeat=None
    )
    try:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        ack = await ws.receive_json(timeout=timeout)
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
    except BaseException:
        await ws.close()
        raise
    sub = Subscriber(ws)
    sub.reader = asyncio.create_task(_read(sub, on_text))
    return sub


async def _read(sub: Subscriber, on_text) -> None:
    async for msg in sub.ws:
        if msg.type != aiohttp.WSMsgType.TEXT:
            continue
        data = msg.json()
        kind = data.get("type")
        if kind == "next":
            sub.received += 1
            payload = data.get("payload") or {}
            if payload.get("errors"):
                sub.errors.append(payload["errors"])
            elif on_text is not None:
                content = ((payload.get("data") or {}).get("messageAdded") or {}).get("content") or {}
                on_text(content.get("text") or "")
        elif kind == "ping":
            await sub.ws.send_json({"type": "pong"})
        elif kind in ("error", "complete"):
            sub.errors.append(data)


async def close_all(subs: list[Subscriber], concurrency: int = 500) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def close(sub: Subscriber):
        async with gate:
            if sub.reader is not None:
                sub.reader.cancel()
            try:
                await asyncio.wait_for(sub.ws.close(), 5)
            except (TimeoutError, OSError, aiohttp.ClientError):
                pass

    await asyncio.gather(*(close(sub) for sub in subs))


async def open_many(
    session, targets: list[tuple[str, str]], concurrency: int, deadline: float, on_text=None
) -> tuple[list[Subscriber], list[str]]:
    """Subscribe each (url, token), `concurrency` handshakes at a time, until `deadline`."""
    gate = asyncio.Semaphore(concurrency)
    subs: list[Subscriber] = []
    failures: list[str] = []

    async def one(url: str, token: str):
        async with gate:
            if time.monotonic() > deadline:
                failures.append("deadline")
                return
            try:
                subs.append(await subscribe(session, url, token, on_text))
            except Exception as error:  # counted and reported, the rest goes on
                failures.append(f"{type(error).__name__}: {error}"[:200])

    await asyncio.gather(*(one(url, token) for url, token in targets))
    return subs, failures


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


# --- send-to-receive latency ------------------------------------------------------------------


async def _latency(
    urls: list[str],
    seller_token: str,
    pairs: list[tuple[int, str]],
    rate: float,
    seconds: float,
    nonce: str,
    warmup: float,
) -> dict:
    """pairs: (conversation pk, creator token); subscriber i is the creator of pair i.

    The first `warmup` seconds of sends (at the same rate) open the client's HTTP connections
    and warm the servers, as wrk's warm-up does; only the sends after them are measured."""
    sent: dict[int, float] = {}
    received: dict[int, float] = {}
    prefix = f"wsbench {nonce} "

    def on_text(text: str):
        if text.startswith(prefix):
            number = int(text[len(prefix) :])
            received.setdefault(number, time.perf_counter())

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        targets = [(urls[i % len(urls)], creator_token) for i, (_, creator_token) in enumerate(pairs)]
        opened_at = time.monotonic()
        subs, failures = await open_many(session, targets, 50, time.monotonic() + 120, on_text)
        open_seconds = time.monotonic() - opened_at
        try:
            await asyncio.sleep(3)  # every subscription has read its starting point
            http_ms: list[float] = []
            send_errors: list[str] = []
            headers = {"Authorization": f"Bearer {seller_token}"}
            rng = random.Random(7)
            skipped = int(rate * warmup)
            total = skipped + int(rate * seconds)

            async def send(n: int):
                conversation = pairs[n % len(pairs)][0]
                body = {
                    "query": SEND,
                    "variables": {
                        "input": {
                            "conversationId": encode_id("Conversation", conversation),
                            "clientMessageId": f"wsbench-{nonce}-{n}",
                            "content": {"text": f"{prefix}{n}"},
                        }
                    },
                }
                url = urls[rng.randrange(len(urls))]
                start = time.perf_counter()
                if n >= skipped:
                    sent[n] = start
                try:
                    async with session.post(
                        url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
                    ) as response:
                        answer = await response.json()
                    payload = (answer.get("data") or {}).get("sendMessage") or {}
                    if answer.get("errors") or payload.get("userErrors"):
                        send_errors.append(str(answer.get("errors") or payload.get("userErrors"))[:300])
                except Exception as error:
                    send_errors.append(f"{type(error).__name__}: {error}"[:300])
                if n >= skipped:
                    http_ms.append((time.perf_counter() - start) * 1000)

            tasks = []
            start_at = time.perf_counter() + 0.2
            for n in range(total):
                delay = start_at + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(send(n)))
            send_seconds = time.perf_counter() - start_at - warmup
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
            wait_until = time.monotonic() + 10  # stragglers
            while any(n not in received for n in sent) and time.monotonic() < wait_until:
                await asyncio.sleep(0.1)
        finally:
            await close_all(subs)
    latencies = [(received[n] - sent[n]) * 1000 for n in received if n in sent]
    by_second = [
        [
            (received[n] - sent[n]) * 1000
            for n in range(skipped + int(i * rate), skipped + int((i + 1) * rate))
            if n in received
        ]
        for i in range(int(seconds))
    ]
    return {
        "warmup_s": warmup,
        "p99_ms_by_second": [round(_percentile(ms, 0.99), 1) for ms in by_second],
        "subscribers": len(subs),
        "subscribe_failures": len(failures),
        "failure_sample": failures[:3],
        "subscribe_seconds": round(open_seconds, 1),
        "processes": len(urls),
        "sends": len(sent),
        "achieved_send_rate": len(sent) / send_seconds if send_seconds else 0,
        "send_errors": len(send_errors),
        "send_error_sample": send_errors[:3],
        "received": len(latencies),
        "lost": len(sent) - len(latencies),
        "subscription_errors": sum(len(s.errors) for s in subs),
        "p50_ms": _percentile(latencies, 0.5),
        "p99_ms": _percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "mean_ms": statistics.mean(latencies) if latencies else float("nan"),
        "http_p50_ms": _percentile(http_ms, 0.5),
        "http_p99_ms": _percentile(http_ms, 0.99),
    }


def latency(urls, seller_token, pairs, rate=200.0, seconds=10.0, nonce="x", warmup=2.0) -> dict:
    runner = uvloop.run if uvloop is not None else asyncio.run
    return runner(_latency(urls, seller_token, pairs, rate, seconds, nonce, warmup))


# --- idle subscriptions: memory ---------------------------------------------------------------


async def _idle(url: str, pid: int, tokens: list[str], settle: float, budget: float) -> dict:
    process = psutil.Process(pid)
    rss_before = process.memory_info().rss
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        subs, failures = await open_many(session, [(url, t) for t in tokens], 100, started + budget)
        open_seconds = time.monotonic() - started
        try:
            await asyncio.sleep(settle)
            rss_after = process.memory_info().rss
            alive = sum(1 for s in subs if not s.ws.closed)
            errors = sum(len(s.errors) for s in subs)
            # still serving requests while holding them?
            async with session.get(
                url.replace("/graphql", "/healthz"), timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                healthy = response.status == 200
        finally:
            await close_all(subs)
    per_sub = (rss_after - rss_before) / max(1, alive)
    return {
        "subscriptions": alive,
        "subscribe_failures": len(failures),
        "failure_sample": failures[:3],
        "subscription_errors": errors,
        "open_seconds": round(open_seconds, 1),
        "rss_before_mb": rss_before / 2**20,
        "rss_after_mb": rss_after / 2**20,
        "per_subscription_kb": per_sub / 1024,
        "healthy_while_holding": healthy,
        "connections": alive,
        "subscriptions_per_connection": 1,
    }


def idle(url: str, pid: int, tokens: list[str], settle: float = 5, budget: float = 240) -> dict:
    runner = uvloop.run if uvloop is not None else asyncio.run
    return runner(_idle(url, pid, tokens, settle, budget))
