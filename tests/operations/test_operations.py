"""Operations: health, readiness, metrics, request logs, production mode, limits, shutdown."""

import asyncio
import json
import logging
import re
import signal
import socket
from urllib.parse import urlparse

import aiohttp
import pytest

from core.metrics import MAX_OPERATION_NAMES
from services.auth import issue_token
from tests.support.app import JWT_SECRET, client_of, make_settings
from tests.support.client import GraphQLClient
from tests.support.gql import INBOX, SEND, text_to_creator
from tests.support.processes import ServerProcess, free_port
from tests.support.world import build_world
from tests.support.ws import WSClient


async def test_health_and_readiness(api):
    assert (await api.http.get("/healthz")).status == 200
    response = await api.http.get("/readyz")
    assert response.status == 200 and (await response.json())["database"] is True


async def test_not_ready_while_redis_is_down(aiohttp_client, database_url, tmp_path, redis_server):
    api = await client_of(aiohttp_client, make_settings(database_url, tmp_path, redis_url=redis_server.url))
    assert (await api.http.get("/readyz")).status == 200
    redis_server.kill()
    response = await api.http.get("/readyz")
    assert response.status == 503 and (await response.json())["redis"] is False


async def _metrics_client(aiohttp_client, database_url, tmp_path, **overrides) -> tuple[GraphQLClient, str]:
    """A client of an app with its metrics listener on a free loopback port, and that listener's URL."""
    port = free_port()
    api = await client_of(aiohttp_client, make_settings(database_url, tmp_path, metrics_port=port, **overrides))
    return api, f"http://127.0.0.1:{port}/metrics"


async def _scrape(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200 and response.content_type == "text/plain", response
        return await response.text()


async def test_metrics_count_operations_and_statements(aiohttp_client, database_url, tmp_path):
    api, metrics_url = await _metrics_client(aiohttp_client, database_url, tmp_path)
    await build_world(api.engine)
    await api.query(INBOX, {"first": 5}, as_="shop:s1")
    await api.post("{ nope }", as_="shop:s1")
    text = await _scrape(metrics_url)
    assert 'inbox_operations_total{operation="Inbox",outcome="ok",type="query"} 1.0' in text
    assert 'outcome="GRAPHQL_VALIDATION_FAILED"' in text
    assert 'inbox_sql_statements_per_operation_count{type="query"}' in text
    assert "inbox_subscriptions 0.0" in text and "inbox_broker_publish_failures_total 0.0" in text


async def test_metrics_are_served_on_their_own_loopback_listener_only(aiohttp_client, database_url, tmp_path):
    api, metrics_url = await _metrics_client(aiohttp_client, database_url, tmp_path)
    await build_world(api.engine)
    await api.query("query Me { viewer { role } }", as_="shop:s1")
    for path in ("/metrics", "/metrics/", "/graphql/../metrics"):
        response = await api.http.get(path)
        assert response.status == 404 and "inbox_operations" not in await response.text(), path
    assert 'operation="Me"' in await _scrape(metrics_url)
    listener = urlparse(metrics_url)
    with socket.create_connection((listener.hostname, listener.port), timeout=1):
        pass  # listening on loopback...
    outside = _non_loopback_address()
    if outside:  # ... and only there
        with pytest.raises(OSError):
            socket.create_connection((outside, listener.port), timeout=1).close()


def _non_loopback_address() -> str | None:
    """An address of this machine other than loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, the kernel only picks a route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


async def test_metrics_label_at_most_a_bounded_number_of_operation_names(
    aiohttp_client, database_url, tmp_path, caplog
):
    """Clients choose operation names: 1,000 distinct ones (valid and failing documents) give at most
    MAX_OPERATION_NAMES values of the `operation` label, the rest counted as "other"."""
    api, metrics_url = await _metrics_client(aiohttp_client, database_url, tmp_path, query_burst=10_000)
    await build_world(api.engine)
    for i in range(500):
        await api.query(f"query Op{i} {{ viewer {{ role }} }}", as_="shop:s1")
        await api.post(f"query Bad{i} {{ nope }}", as_="shop:s1")
    caplog.set_level(logging.INFO, logger="inbox.requests")
    long_name = "L" * 5_000
    await api.query(f"query {long_name} {{ viewer {{ role }} }}", as_="shop:s1")
    text = await _scrape(metrics_url)
    series = {}
    for line in text.splitlines():
        if line.startswith("inbox_operations_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            series[labels["operation"]] = series.get(labels["operation"], 0) + float(line.rsplit(" ", 1)[1])
    assert len(series) <= MAX_OPERATION_NAMES + 2, sorted(series)
    assert {"Op0", "Op99"} <= set(series) and "Bad0" not in series
    assert sum(series.values()) == 1_001 and series["other"] >= 1_001 - MAX_OPERATION_NAMES
    logged = [json.loads(r.getMessage())["operation"] for r in caplog.records if r.name == "inbox.requests"]
    assert logged == [long_name[:64]]


async def test_each_worker_serves_its_own_metrics_on_the_next_port(postgres_url, tmp_path, redis_server):
    """`serve --workers 2`: worker i on INBOX_METRICS_PORT + i, so Prometheus scrapes every process,
    and together they count every operation the public port answered."""
    from models.database import create_engine

    engine = create_engine(postgres_url)
    await build_world(engine)
    await engine.dispose()
    port = _free_port_pair()
    server = ServerProcess(
        {
            "DATABASE_URL": postgres_url,
            "INBOX_JWT_SECRET": JWT_SECRET,
            "REDIS_URL": redis_server.url,
            "INBOX_METRICS_PORT": str(port),
        },
        tmp_path / "server.log",
        ("--workers", "2"),
    ).start()
    try:
        urls = [f"http://127.0.0.1:{port + i}/metrics" for i in range(2)]
        async with asyncio.timeout(20):
            while not all([await _answers(url) for url in urls]):
                await asyncio.sleep(0.1)
        headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET, 'shop:s1')}"}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            for _ in range(20):  # a connection each: SO_REUSEPORT spreads them over the workers
                async with session.post(
                    f"{server.url}/graphql", json={"query": "query Me { viewer { role } }"}, headers=headers
                ) as response:
                    assert response.status == 200
            async with session.get(f"{server.url}/metrics") as response:
                assert response.status == 404
        counted = 0.0
        for url in urls:
            line = 'inbox_operations_total{operation="Me",outcome="ok",type="query"} '
            counted += sum(float(row[len(line) :]) for row in (await _scrape(url)).splitlines() if row.startswith(line))
        assert counted == 20
    finally:
        server.stop()


def _free_port_pair() -> int:
    """A port that is free, and so is the next one."""
    while True:
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue


async def _answers(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def test_one_json_log_line_per_operation_without_secrets(api, caplog):
    await build_world(api.engine)
    caplog.set_level(logging.INFO, logger="inbox.requests")
    await api.query(SEND, text_to_creator(1, "a very private text", "k1"), as_="shop:s1")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "inbox.requests"]
    assert len(lines) == 1
    line = lines[0]
    assert line["principal"] == "shop:1" and line["operation"] == "Send" and line["outcome"] == "ok"
    assert line["request_id"] and line["duration_ms"] >= 0 and line["sql_statements"] > 0
    assert "private" not in caplog.text and api.token("shop:s1") not in caplog.text


async def test_oversized_body_is_refused_cleanly(api):
    await build_world(api.engine)
    response = await api.http.post(
        "/graphql",
        data=b"{" + b" " * 300_000 + b"}",
        headers={"Authorization": f"Bearer {api.token('shop:s1')}", "Content-Type": "application/json"},
    )
    assert response.status == 413
    assert (await response.json())["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_cors_allows_configured_origins_only(aiohttp_client, database_url, tmp_path):
    api = await client_of(aiohttp_client, make_settings(database_url, tmp_path, cors_origins=("https://app.example",)))
    allowed = await api.http.options(
        "/graphql", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    )
    assert allowed.headers.get("Access-Control-Allow-Origin") == "https://app.example"
    other = await api.http.options(
        "/graphql", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_production_hides_graphiql_introspection_and_suggestions(aiohttp_client, database_url, tmp_path):
    api = await client_of(aiohttp_client, make_settings(database_url, tmp_path, environment="production"))
    await build_world(api.engine)
    page = await api.http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status == 404 or "graphiql" not in (await page.text()).lower()
    errors = await api.errors("{ __schema { types { name } } }", as_="shop:s1")
    assert "introspection" in errors[0]["message"].lower()
    errors = await api.errors("{ conversationz { nodes { id } } }", as_="shop:s1")
    assert "Did you mean" not in errors[0]["message"]


async def test_graceful_shutdown_closes_websockets_with_a_reconnect_hint(postgres_url, tmp_path):
    server = ServerProcess(
        {"DATABASE_URL": postgres_url, "INBOX_JWT_SECRET": JWT_SECRET, "INBOX_SHUTDOWN_GRACE_SECONDS": "5"},
        tmp_path / "server.log",
    ).start()
    try:
        from models.database import create_engine

        engine = create_engine(postgres_url)
        await build_world(engine)
        await engine.dispose()
        async with aiohttp.ClientSession() as session:
            client = await WSClient.connect(
                session, f"{server.url}/graphql", "graphql-transport-ws", issue_token(JWT_SECRET, "creator:c1")
            )
            assert await client.acked()
            server.process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionError):
                await client.next_payload(10)
            assert client.ws.close_code == 1012
        assert await asyncio.to_thread(server.process.wait, 10) == 0
    finally:
        server.stop()


async def test_unexpected_errors_are_masked_with_an_id_that_is_logged(
    aiohttp_client, database_url, tmp_path, monkeypatch, caplog
):
    from services import marketplace

    api = await client_of(aiohttp_client, make_settings(database_url, tmp_path, environment="production"))
    await build_world(api.engine)

    async def broken(_conn):  # a bug of ours, carrying a detail no client may see
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(marketplace, "categories", broken)
    caplog.set_level(logging.ERROR)
    status, body = await api.post("{ categories }", as_="shop:s1")
    error = body["errors"][0]
    assert status == 200 and error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["message"] == f"Internal server error (error id {error['extensions']['errorId']})."
    assert "secret" not in json.dumps(body) and "Traceback" not in json.dumps(body)
    assert error["extensions"]["errorId"] in caplog.text and "secret internal detail" in caplog.text


async def test_malformed_posts_get_a_400_with_a_code_and_well_formed_ones_any_json_content_type(api):
    """Nearly every request takes the view's one-operation JSON lane; anything else goes through
    strawberry's full handling, which refuses malformed requests as before."""
    await build_world(api.engine)
    auth = {"Authorization": f"Bearer {api.token('shop:s1')}"}
    malformed = [
        b"{not json",
        b"[1]",
        b"0",
        json.dumps({"query": 5}).encode(),
        json.dumps({"variables": {}}).encode(),
        json.dumps({"query": "{ viewer { role } }", "variables": [1]}).encode(),
        json.dumps({"query": "query A { viewer { role } }", "operationName": "B"}).encode(),
    ]
    for body in malformed:
        response = await api.http.post("/graphql", data=body, headers={**auth, "Content-Type": "application/json"})
        assert response.status == 400, body
        answer = await response.json()
        assert answer["errors"][0]["extensions"]["code"] == "BAD_REQUEST", (body, answer)
    query = json.dumps({"query": "query Me { viewer { role } }", "operationName": "Me"}).encode()
    for content_type in ("application/json", "application/json; charset=utf-8"):
        response = await api.http.post("/graphql", data=query, headers={**auth, "Content-Type": content_type})
        assert response.status == 200 and await response.json() == {
            "data": {"viewer": {"role": "SELLER"}},
            "extensions": {"cost": 1},
        }, content_type
