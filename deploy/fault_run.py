"""A bounded fault run through the local cluster: sends at a steady rate while an API process is killed
(and started again), a Redis master fails over and PgBouncer restarts; then the count.

    python -m deploy.fault_run [--sends 2000] [--rate 50] [--json PATH]

Creators c1..cN each write to shop s1 in turn (a unique clientMessageId per message), through the load
balancer, each send retried with its key while the answer is SERVICE_UNAVAILABLE (deploy/clients.py).
Two seller subscribers (through the load balancer) resume with `after` when their stream ends. The run
counts what was acknowledged, what the database holds, duplicates (two rows for one key), losses (an
acknowledged message missing), and, per subscriber, gaps (an acknowledged message never delivered)
and repeats. Any answer other than SERVICE_UNAVAILABLE fails the run (`clients.Refused`).
"""

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from deploy import local_cluster
from deploy.clients import Refused, ResumingSubscriber, SendOutcome, message_cursor, send
from deploy.local_cluster import Cluster
from resolvers.ids import decode_id, encode_id
from services.auth import issue_token

CREATORS = 20
SETTINGS = {"INBOX_MUTATION_BURST": "100000", "INBOX_MUTATION_RATE": "100000"}  # the rate is the run's own


def import_world(cluster: Cluster) -> None:
    """Shop s1 and creators c1..c20, through `server.py import` on the primary."""
    world = {
        "shops": [
            {"platformId": "s1", "name": "Glow Lab", "status": "ACTIVE", "affiliateGmv30d": "500.00", "products": []}
        ],
        "creators": [
            {
                "platformId": f"c{i}",
                "handle": f"creator{i}",
                "displayName": f"Creator {i}",
                "avatarUrl": None,
                "followerCount": 1000,
                "mainCategory": "Beauty",
                "gmv30d": "100.00",
            }
            for i in range(1, CREATORS + 1)
        ],
    }
    path = cluster.path / "world.json"
    path.write_text(json.dumps(world))
    env = {**cluster.api_env(0), "DATABASE_URL": cluster.primary_dsn("postgresql+asyncpg")}
    env.pop("INBOX_DB_POOLER")
    subprocess.run([sys.executable, "server.py", "import", str(path)], cwd=local_cluster.ROOT, env=env, check=True)


async def _faults(cluster: Cluster, seconds: float) -> list[dict[str, Any]]:
    """Kill API process 1 at 20 % of the run (started again at 35 %), fail the Redis master of s1's
    channel over at 50 %, restart PgBouncer at 75 %; when each happened."""
    began = time.monotonic()
    log: list[dict[str, Any]] = []

    async def at(fraction: float, what: str, action: Any, *args: Any) -> None:
        await asyncio.sleep(max(0.0, began + fraction * seconds - time.monotonic()))
        start = time.monotonic() - began
        await asyncio.to_thread(action, cluster, *args)
        log.append({"fault": what, "at_s": round(start, 1), "took_s": round(time.monotonic() - began - start, 1)})

    await at(0.20, "kill API process 1 (SIGKILL)", local_cluster.kill_api, 1)
    await at(0.35, "start API process 1 again", local_cluster.start_api, 1)
    await at(0.50, "fail over the Redis master of inbox:shop:1", _fail_over_shop_master)
    await at(0.75, "restart PgBouncer", local_cluster.restart_pgbouncer)
    return log


def _fail_over_shop_master(cluster: Cluster) -> None:
    local_cluster.fail_over_redis_master(cluster, local_cluster.master_of(cluster, "inbox:shop:1"))


async def run(cluster: Cluster, sends: int, rate: float, faults: bool = True) -> dict[str, Any]:
    shop = encode_id("Shop", 1)
    seller = issue_token(cluster.jwt_secret, "shop:s1")
    creators = [issue_token(cluster.jwt_secret, f"creator:c{i}") for i in range(1, CREATORS + 1)]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        # A first message: the subscribers start after it, at a known point.
        anchor = await send(session, cluster.url, creators[0], _input(shop, "anchor"))
        assert anchor.message is not None
        after = message_cursor(anchor.message["id"])
        subscribers = [ResumingSubscriber(session, cluster.url, seller, after) for _ in range(2)]
        receiving = [asyncio.create_task(_receive(subscriber)) for subscriber in subscribers]
        await asyncio.sleep(1)  # subscribed
        injected = asyncio.create_task(_faults(cluster, sends / rate) if faults else asyncio.sleep(0, []))
        started = time.monotonic()
        tasks = []
        for n in range(sends):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            variables = _input(shop, f"fault-{n}")
            tasks.append(asyncio.create_task(send(session, cluster.url, creators[n % CREATORS], variables)))
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        fault_log = await injected
        acknowledged = {o.message["id"] for o in outcomes if isinstance(o, SendOutcome) and o.message is not None}
        await _until_delivered(subscribers, acknowledged, seconds=60)
        for task in receiving:
            if task.done():
                task.result()  # a subscriber refused (clients.Refused): the run fails with it
            task.cancel()
        await asyncio.gather(*receiving, return_exceptions=True)
        for subscriber in subscribers:
            await subscriber.close()
    stored = await _stored(cluster)
    refused = [repr(o) for o in outcomes if not isinstance(o, SendOutcome)]
    return {
        "sends": sends,
        "rate_per_s": rate,
        "faults": fault_log,
        "acknowledged": len(acknowledged),
        "never_acknowledged": sends - len(acknowledged) - len(refused),
        "refused_other_than_unavailable": len(refused),
        "refusal_sample": refused[:3],
        "service_unavailable_answers": sum(o.unavailable for o in outcomes if isinstance(o, SendOutcome)),
        "stored": len(stored),
        "duplicated": len(stored) - len(set(stored.values())),  # more rows than keys
        "lost": len(acknowledged - set(stored)),
        "subscribers": [_gaps(subscriber, acknowledged) for subscriber in subscribers],
    }


async def _until_delivered(subscribers: list[ResumingSubscriber], acknowledged: set[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(
        not acknowledged <= {message["id"] for message in s.received} for s in subscribers
    ):
        await asyncio.sleep(0.2)


def _input(shop: str, key: str) -> dict:
    """A creator's message to the shop, its text its key."""
    return {"input": {"shopId": shop, "clientMessageId": key, "content": {"text": key}}}


async def _receive(subscriber: ResumingSubscriber) -> None:
    while True:
        await subscriber.next(120)


def _gaps(subscriber: ResumingSubscriber, acknowledged: set[str]) -> dict[str, Any]:
    ids = [message["id"] for message in subscriber.received]
    return {
        "received": len(ids),
        "gaps": len(acknowledged - set(ids)),
        "resumed": subscriber.resumed,
        "redelivered_on_resume": subscriber.redelivered,  # dropped by id (deploy/clients.py)
        "out_of_order_in_a_conversation": _out_of_order(subscriber.received),
    }


def _out_of_order(messages: list[dict[str, Any]]) -> int:
    """Messages that arrived after a newer one of their conversation (never, within one stream)."""
    newest: dict[str, int] = {}
    late = 0
    for message in messages:
        pk, conversation = decode_id(message["id"], "Message"), message["conversation"]["id"]
        late += pk < newest.get(conversation, 0)
        newest[conversation] = max(pk, newest.get(conversation, 0))
    return late


async def _stored(cluster: Cluster) -> dict[str, str]:
    """The run's messages as the primary holds them: global id -> client key."""
    conn = await asyncpg.connect(cluster.primary_dsn())
    try:
        rows = await conn.fetch("SELECT id, client_message_id FROM message WHERE client_message_id LIKE 'fault-%'")
    finally:
        await conn.close()
    return {encode_id("Message", row["id"]): row["client_message_id"] for row in rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.fault_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's directory (its logs) afterwards")
    parser.add_argument("--no-faults", action="store_true", help="the same load without the faults (a baseline)")
    args = parser.parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="inbox-fault-run-"))
    cluster = local_cluster.start(directory, SETTINGS)
    try:
        import_world(cluster)
        figures = asyncio.run(run(cluster, args.sends, args.rate, faults=not args.no_faults))
    except Refused as refusal:
        figures = {"failed": str(refusal)}
    finally:
        local_cluster.stop(directory, remove=not args.keep)
        if args.keep:
            print(f"logs kept in {directory}", file=sys.stderr)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    ok = figures.get("lost") == 0 and figures.get("duplicated") == 0
    ok = ok and all(s["gaps"] == 0 for s in figures.get("subscribers", [{}]))
    sys.exit(0 if ok and not figures.get("refused_other_than_unavailable") else 1)


if __name__ == "__main__":
    main()
