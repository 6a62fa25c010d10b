"""CORS in a real browser (headless Chromium): a page on an allowed origin calls the API the way Apollo
Client does with clientAwareness (its `apollographql-client-*` headers force a preflight) and reads
X-Request-Id and Retry-After; a page on another origin cannot call it at all."""

import json

import pytest
import pytest_asyncio
from aiohttp import web

from services.auth import issue_token
from tests.support.app import JWT_SECRET
from tests.support.processes import ServerProcess, free_port

PAGE = "<!doctype html><title>seller web</title>"
FETCH = """fetch(%(api)s, {method: 'POST', body: JSON.stringify({query: '{ inboxCounts { all } }'}), headers: {
    'Content-Type': 'application/json', 'Authorization': %(authorization)s, 'X-Request-Id': 'page-1',
    'apollographql-client-name': 'seller-web', 'apollographql-client-version': '1.4.0'}})
  .then(async response => ({status: response.status, requestId: response.headers.get('X-Request-Id'),
                            retryAfter: response.headers.get('Retry-After'), body: await response.json()}))
  .catch(error => ({failed: String(error)}))"""


@pytest.fixture(scope="module")
def origins():
    """The page origins: the one INBOX_CORS_ORIGINS allows, and another."""
    return f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def api_server(chromium, origins, tmp_path_factory):
    """The API on SQLite with the demo, allowing the first origin, with a burst of two queries."""
    data = tmp_path_factory.mktemp("cors-browser")
    env = {
        "INBOX_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'inbox.db'}",
        "INBOX_JWT_SECRET": JWT_SECRET,
        "REDIS_URL": "",
        "INBOX_CORS_ORIGINS": origins[0],
        "INBOX_QUERY_BURST": "2",
        "INBOX_QUERY_RATE": "0.01",
    }
    server = ServerProcess(env, data / "server.log", command=("serve",)).start()
    yield server
    server.stop()


@pytest_asyncio.fixture
async def page_sites(origins):
    """A static page served on both origins."""

    async def page(_request):
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    for origin in origins:
        await web.TCPSite(runner, "127.0.0.1", int(origin.rsplit(":", 1)[1])).start()
    yield
    await runner.cleanup()


async def _fetch_from(devtools, origin: str, api_url: str) -> dict:
    page = await devtools.new_page()
    await page.goto(origin + "/")
    await page.wait_for("document.title === 'seller web'")
    authorization = f"Bearer {issue_token(JWT_SECRET, 'shop:s1')}"
    return await page.evaluate(FETCH % {"api": json.dumps(api_url), "authorization": json.dumps(authorization)})


@pytest.mark.browser
@pytest.mark.usefixtures("page_sites")
async def test_a_page_on_an_allowed_origin_calls_the_api_like_apollo_client(api_server, origins, devtools):
    api_url = f"{api_server.url}/graphql"
    answer = await _fetch_from(devtools, origins[0], api_url)
    assert answer.get("status") == 200 and answer["body"]["data"]["inboxCounts"]["all"] > 0, answer
    assert answer["requestId"] == "page-1", answer  # readable: exposed
    await _fetch_from(devtools, origins[0], api_url)  # the burst's second query
    refused = await _fetch_from(devtools, origins[0], api_url)
    assert refused["body"]["errors"][0]["extensions"]["code"] == "RATE_LIMITED", refused
    assert int(refused["retryAfter"]) >= 1, refused  # readable: exposed
    other = await _fetch_from(devtools, origins[1], api_url)
    assert "Failed to fetch" in other.get("failed", ""), other
