"""GraphiQL served by the server itself, and used in a real browser: `python server.py` on the demo,
opened at the URLs it prints, with nothing reachable but loopback. Every request the page makes must go
to the server itself."""

import json
import re
from urllib.parse import quote

import aiohttp
import pytest

from schema.graphiql import HERE
from tests.support.app import client_of, make_settings
from tests.support.gql import message_cursor
from tests.support.processes import ServerProcess

INBOX = "query Inbox { conversations(first: 3) { nodes { id creator { handle } } } inboxCounts { all } }"
LIVE = 'subscription Live { messageAdded(after: "%s") { id content { ... on TextContent { text } } } }'
SEND = """mutation Send($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id } userErrors { code message } }
}"""
# The result pane's text (GraphiQL's response editor is a CodeMirror 5 instance), or null.
RESPONSE = "document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue()"
# The headers editor's text (the variables editor beside it is hidden).
HEADERS = (
    "document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')?.CodeMirror.getValue()"
)
RUN = "document.querySelector('.graphiql-execute-button').click(), true"
SHOW_DOCS = "document.querySelector('[aria-label=\"Show Documentation Explorer\"]').click(), true"
# The docs' root types, listed once the schema has loaded.
ROOT_TYPES = "document.querySelector('.graphiql-doc-explorer')?.innerText.includes('subscription: Subscription')"


@pytest.fixture(scope="module")
def demo_server(chromium, tmp_path_factory):
    """`python server.py` as a new user runs it: SQLite, migrated and seeded with the demo. Yields
    the server and the URLs its banner prints, by who. (After `chromium`: without one the tests
    skip before a server starts.)"""
    data = tmp_path_factory.mktemp("graphiql-demo")
    env = {
        "INBOX_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'inbox.db'}",
        "INBOX_JWT_SECRET": "",
        "REDIS_URL": "",
        "INBOX_ENV": "development",
        "PYTHONUNBUFFERED": "1",
    }
    server = ServerProcess(env, data / "server.log", command=("serve",)).start()
    try:
        banner = server.log_path.read_text()
        urls = dict(re.findall(r"demo (seller|creator) \(.*?\): (http://\S+)", banner))
        assert set(urls) == {"seller", "creator"}, banner
        yield server, urls
    finally:
        server.stop()


def token_of(url: str) -> str:
    return url.split("#token=", 1)[1]


async def graphql(server, token: str, query: str, variables: dict) -> dict:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        body = await response.json()
    assert response.status == 200 and "errors" not in body, body
    return body["data"]


async def response_json(page) -> dict:
    """The result pane's JSON once GraphiQL shows one."""
    return json.loads(await page.wait_for(f"(({RESPONSE}) || '').trim().startsWith('{{') && {RESPONSE}"))


async def test_the_page_loads_only_assets_of_the_app_cached_by_version(api, aiohttp_client, database_url, tmp_path):
    page = await api.http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status == 200 and page.content_type == "text/html"
    assets = re.findall(r'(?:src|href)="([^"]+)"', await page.text())
    assert len(assets) == 6 and assets[0] == "data:,"  # the icon: no /favicon.ico request
    for url in assets[1:]:
        path, _, version = url.partition("?v=")
        assert path.startswith("/graphiql/") and len(version) == 16, url
        response = await api.http.get(url)
        assert response.status == 200 and response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert await response.read() == (HERE / path.removeprefix("/graphiql/")).read_bytes()
    for other in ("index.html", "__init__.py", "LICENSE.graphiql", "README.md", "..%2F__init__.py", "missing.js"):
        assert (await api.http.get(f"/graphiql/{other}")).status == 404, other
    production = await client_of(aiohttp_client, make_settings(database_url, tmp_path, environment="production"))
    assert (await production.http.get(assets[-1])).status == 404


@pytest.mark.browser
async def test_printed_seller_url_runs_the_inbox_query(demo_server, devtools):
    server, urls = demo_server
    page = await devtools.new_page()
    await page.goto(f"{urls['seller']}&query={quote(INBOX)}")
    await page.wait_for("!!document.querySelector('.graphiql-execute-button')")
    headers = await page.wait_for(HEADERS)
    assert json.loads(headers) == {"Authorization": f"Bearer {token_of(urls['seller'])}"}
    await page.evaluate(RUN)
    result = await response_json(page)
    assert "errors" not in result, result
    assert len(result["data"]["conversations"]["nodes"]) == 3 and result["data"]["inboxCounts"]["all"] > 3
    # The schema came by introspection: the docs list the root types.
    await page.evaluate(SHOW_DOCS)
    await page.wait_for(ROOT_TYPES)
    page.assert_offline(server.port)


@pytest.mark.browser
async def test_plain_url_shows_the_docs_before_a_token_is_entered(demo_server, devtools):
    server, urls = demo_server
    page = await devtools.new_page()
    await page.goto(urls["seller"].split("#")[0])
    await page.wait_for("!!document.querySelector('.graphiql-execute-button')")
    assert await page.evaluate(HEADERS) == ""
    await page.evaluate(SHOW_DOCS)
    await page.wait_for(ROOT_TYPES)
    page.assert_offline(server.port)


@pytest.mark.browser
async def test_printed_creator_url_runs_a_subscription_over_the_websocket(demo_server, devtools):
    server, urls = demo_server
    token = token_of(urls["creator"])
    found = await graphql(server, token, "{ conversations(first: 1) { nodes { shop { id } } } }", {})
    shop_id = found["conversations"]["nodes"][0]["shop"]["id"]

    async def send(text: str) -> str:
        variables = {"input": {"shopId": shop_id, "clientMessageId": text, "content": {"text": text}}}
        sent = (await graphql(server, token, SEND, variables))["sendMessage"]
        assert sent["userErrors"] == [], sent
        return sent["message"]["id"]

    # Resuming after a message sent first makes the start deterministic: no subscribe race.
    after = message_cursor(await send("graphiql-anchor"))
    page = await devtools.new_page()
    await page.goto(f"{urls['creator']}&query={quote(LIVE % after)}")
    await page.wait_for("!!document.querySelector('.graphiql-execute-button')")
    await page.evaluate(RUN)
    await page.frame_sent("subscribe")
    # GraphiQL sent the headers editor's Authorization as the connection_init payload.
    assert page.frames_sent[0] == {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    sent_id = await send("hello from the test")
    result = await response_json(page)
    assert result["data"] == {"messageAdded": {"id": sent_id, "content": {"text": "hello from the test"}}}
    assert [url for url in page.urls if url.startswith("ws")] == [f"ws://127.0.0.1:{server.port}/graphql"]
    page.assert_offline(server.port)
