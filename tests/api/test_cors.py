"""CORS (INBOX_CORS_ORIGINS): pages on an allowed origin may send what real clients send and read
X-Request-Id and Retry-After; pages on any other origin get no CORS header at all."""

import pytest

from tests.support.app import client_of, make_settings
from tests.support.world import build_world

ALLOWED, OTHER = "https://app.example", "https://evil.example"
# What browsers ask to send: Apollo Client with clientAwareness, graphql-sse, a tracing id.
CLIENT_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "x-request-id",
    "apollographql-client-name",
    "apollographql-client-version",
    "x-graphql-event-stream-token",
)


@pytest.fixture
async def api(aiohttp_client, database_url, tmp_path):
    return await client_of(aiohttp_client, make_settings(database_url, tmp_path, cors_origins=(ALLOWED,)))


async def _preflight(api, origin: str, headers: str, method: str = "POST"):
    return await api.http.options(
        "/graphql",
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


async def test_preflight_allows_the_headers_real_clients_send(api):
    for method in ("POST", "GET"):
        response = await _preflight(api, ALLOWED, ",".join(CLIENT_HEADERS), method)
        assert response.status == 200, await response.text()
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
        allowed = {header.strip().lower() for header in response.headers["Access-Control-Allow-Headers"].split(",")}
        assert allowed >= set(CLIENT_HEADERS), allowed
    # Apollo Client names the app in every request once clientAwareness is set: the preflight alone.
    response = await _preflight(api, ALLOWED, "apollographql-client-name,apollographql-client-version,content-type")
    assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == ALLOWED


async def test_pages_on_an_allowed_origin_may_read_request_id_and_retry_after(api):
    await build_world(api.engine)
    response = await api.http.post(
        "/graphql",
        json={"query": "{ inboxCounts { all } }"},
        headers={
            "Origin": ALLOWED,
            "Authorization": f"Bearer {api.token('shop:s1')}",
            "apollographql-client-name": "seller-web",
        },
    )
    assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == ALLOWED
    exposed = {header.strip().lower() for header in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed >= {"x-request-id", "retry-after"}, exposed
    assert response.headers["X-Request-Id"]


async def test_another_origin_gets_no_cors_headers(api):
    await build_world(api.engine)
    response = await _preflight(api, OTHER, "content-type,apollographql-client-name")
    assert not [name for name in response.headers if name.lower().startswith("access-control-")], response.headers
    response = await api.http.post(
        "/graphql",
        json={"query": "{ inboxCounts { all } }"},
        headers={"Origin": OTHER, "Authorization": f"Bearer {api.token('shop:s1')}"},
    )
    assert not [name for name in response.headers if name.lower().startswith("access-control-")], response.headers
