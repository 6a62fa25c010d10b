"""Faults with nothing lost: PostgreSQL restarted under load (a private cluster, stopped and started)."""

import asyncio

import aiohttp
import pytest

from models.database import create_engine
from models.migrate import upgrade
from services.auth import issue_token
from tests.conftest import JWT_SECRET
from tests.gql import SEND, text_to_shop
from tests.processes import PostgresServer, ServerProcess
from tests.world import build_world


@pytest.fixture
def postgres():
    server = PostgresServer().init()
    yield server
    server.remove()


async def _send(session, url: str, key: str) -> tuple[str, dict]:
    """("ok", message) or (error code, body) of one creator message."""
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET, 'creator:c1')}"}
    try:
        async with session.post(f"{url}/graphql", json={"query": SEND, "variables": text_to_shop(1, key, key)},
                                headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as response:
            assert response.status != 500, await response.text()
            body = await response.json()
    except aiohttp.ClientError as error:
        return "CONNECTION", {"error": str(error)}
    assert "Traceback" not in str(body)
    if body.get("errors"):
        return body["errors"][0]["extensions"]["code"], body
    return "ok", body["data"]["sendMessage"]["message"]


async def test_postgres_restart_under_load_loses_and_duplicates_nothing(postgres, tmp_path):
    await asyncio.to_thread(upgrade, postgres.url)
    engine = create_engine(postgres.url)
    await build_world(engine)
    await engine.dispose()
    server = ServerProcess({"DATABASE_URL": postgres.url, "INBOX_JWT_SECRET": JWT_SECRET,
                            "INBOX_MUTATION_BURST": "10000", "INBOX_QUERY_BURST": "10000"},
                           tmp_path / "server.log").start()
    acknowledged, refused = {}, {}
    try:
        async with aiohttp.ClientSession() as session:
            async def load(keys):
                for key in keys:
                    code, result = await _send(session, server.url, key)
                    (acknowledged if code == "ok" else refused)[key] = result if code == "ok" else code
                    await asyncio.sleep(0.01)

            await load([f"before-{i}" for i in range(20)])
            await asyncio.to_thread(postgres.stop)
            await load([f"down-{i}" for i in range(10)])
            await asyncio.to_thread(postgres.start)
            # No server restart: the pool reconnects by itself.
            async with asyncio.timeout(30):
                while (await _send(session, server.url, "probe"))[0] != "ok":
                    await asyncio.sleep(0.2)
            await load([f"after-{i}" for i in range(20)])
            # Clients retry what failed with the same keys: each lands exactly once.
            await load(list(refused))
    finally:
        server.stop()

    assert [key for key in refused if key.startswith("down")] == [f"down-{i}" for i in range(10)]
    assert {code for key, code in refused.items() if key.startswith("down")} == {"SERVICE_UNAVAILABLE"}
    assert all(key in acknowledged for key in refused), "every refused send succeeded on retry"
    engine = create_engine(postgres.url)
    async with engine.connect() as conn:
        rows = (await conn.exec_driver_sql(
            "SELECT client_message_id, count(*) FROM message WHERE sender_key = 'creator:1' "
            "GROUP BY client_message_id")).all()
    await engine.dispose()
    stored = dict(rows)
    sent = set(acknowledged) | {"probe"}
    assert set(stored) == sent
    assert all(count == 1 for count in stored.values())
