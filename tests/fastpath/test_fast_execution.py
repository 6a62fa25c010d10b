"""The speed layer (fastpath/) answers exactly as the plain app, strawberry and SQLAlchemy alone
(INBOX_FAST_PATH=off).

Every request goes to two apps on the same database, one with the layer and one without: status,
media type and body must be byte for byte the same (key order included: clients may rely on it),
on SQLite and on PostgreSQL, for reads, a replayed write, refusals and errors.
"""

import json
import logging
import re
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import update

import fastpath
from fastpath.execution import _SHARED_PLANS
from fastpath.reads import DirectReads
from models.database import GatedEngine
from models.tables import message_t
from schema.view import InboxView
from server import APP_SEAMS
from tests.fastpath.test_statement_count import INBOX_SCREEN, NO_READ_AHEAD, READ_AHEAD
from tests.support.app import client_of, make_settings
from tests.support.gql import (
    BLOCK,
    CONVERSATION,
    COUNTS,
    CREATOR_CONVERSATION,
    INBOX,
    SEND,
    SEND_BULK,
    bulk_input,
    create_collaboration,
    creator_input,
    gid,
    invite_to_creator,
    product_to_creator,
    request_sample,
    say,
    send_ok,
    text_to_creator,
    text_to_shop,
)
from tests.support.world import build_world
from tests.support.ws import TRANSPORT_WS, WSClient

ALIASES_AND_FRAGMENTS = """
query Aliased {
  first: conversations(first: 3) { edges { node { ...Card kind: __typename } } }
  again: conversations(folder: UNREAD, first: 2) { nodes { ...Card id } }
  inboxCounts { all unread }
  viewer { role }
}
fragment Card on Conversation {
  id starred: isStarred unreadCount lastActivityAt
  creator { handle followers: followerCount gmv30d __typename }
  lastMessage { __typename isMine senderRole content { __typename ... on TextContent { words: text } } }
}"""

MARKETPLACE = """
query Market { creators(first: 5, filter: {minFollowers: 0}) { edges { cursor node {
  id handle followerCount mainCategory gmv30d isBlocked conversation { id unreadCount }
} } pageInfo { hasNextPage endCursor } } }"""

NODE = """
query Node($id: ID!) { node(id: $id) { __typename id
  ... on Conversation { unreadCount creator { handle } lastMessage { content { __typename } } }
  ... on Message { senderRole isMine content { __typename ... on TextContent { text } } }
  ... on Creator { handle followerCount } ... on Shop { name status } ... on Product { title price }
} }"""

SKIPPED = """
query Skipped($skip: Boolean!) { conversations(first: 3) { nodes { id creator @skip(if: $skip) { handle } } } }"""

# Each page of at most 100 nodes, each with 100 messages: above the cost limit.
COSTLY = "{ conversations(first: 100) { nodes { messages(last: 100) { nodes { id } } } } }"


@pytest_asyncio.fixture
async def apps(aiohttp_client, database_url, tmp_path):
    """(fast, plain): apps with and without the speed layer on one database holding the test world."""
    clients = []
    for name, fast in (("fast", True), ("plain", False)):
        (tmp_path / name).mkdir()
        clients.append(await client_of(aiohttp_client, make_settings(database_url, tmp_path / name, fast_path=fast)))
    assert [client.http.app[APP_SEAMS].fast for client in clients] == [True, False]
    await build_world(clients[0].engine)
    return clients


async def answer(api, query: str, variables: dict | None = None, as_: str = "shop:s1") -> tuple:
    """(status, media type, body bytes) of a JSON POST."""
    response = await api.http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {api.token(as_)}"},
    )
    return response.status, response.headers.get("Content-Type"), await response.read()


# An internal error's id (random: the one its log line carries) is the one part of an answer allowed to differ.
ERROR_ID = re.compile(rb'(?<=error id )[0-9a-f]{12}|(?<="errorId":")[0-9a-f]{12}')


async def assert_alike(apps, query: str, variables: dict | None = None, as_: str = "shop:s1") -> bytes:
    fast, plain = apps
    status, media_type, body = await answer(fast, query, variables, as_)
    plain_status, plain_media_type, plain_body = await answer(plain, query, variables, as_)
    assert (status, media_type) == (plain_status, plain_media_type), (query, variables, as_)
    assert ERROR_ID.sub(b"<id>", body) == ERROR_ID.sub(b"<id>", plain_body), (query, variables, as_)
    return body


async def chat_world(api) -> str:
    """Conversations of shop s1 with every kind of message; the ID of the one with creator c1."""
    sent = await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    for n in range(6):
        await say(api, gid("Shop", 1), f"Reply {n}", as_="creator:c1")
    await send_ok(api, product_to_creator(1, 1, "k2"), as_="shop:s1")
    await send_ok(api, invite_to_creator(1, await create_collaboration(api), "k3"), as_="shop:s1")
    await request_sample(api, 1, "s1", "Please", as_="creator:c1")
    await send_ok(api, text_to_creator(2, "Hello two", "k4"), as_="shop:s1")
    await api.query(BLOCK, creator_input(2), as_="shop:s1")
    return sent["conversation"]["id"]


async def test_reads_answer_alike(apps):
    fast, _ = apps
    conversation = await chat_world(fast)
    page = await assert_alike(apps, INBOX, {"first": 2})
    end_cursor = json.loads(page)["data"]["conversations"]["pageInfo"]["endCursor"]
    chat = await assert_alike(apps, READ_AHEAD, {"id": conversation, "last": 3})
    start_cursor = json.loads(chat)["data"]["conversation"]["messages"]["pageInfo"]["startCursor"]
    cases = [
        (INBOX, {"first": 10}, "shop:s1"),
        (INBOX, {"first": 10, "after": end_cursor}, "shop:s1"),
        (INBOX, {"folder": "ARCHIVED"}, "shop:s1"),
        (INBOX, {"filter": {"search": "creator"}}, "shop:s1"),
        (INBOX, {"first": 10}, "creator:c1"),
        (INBOX, {"first": 10}, "creator:c2"),
        (INBOX_SCREEN, {"first": 10}, "shop:s1"),
        (READ_AHEAD, {"id": conversation, "last": 50}, "shop:s1"),
        (READ_AHEAD, {"id": conversation, "last": 3, "before": start_cursor}, "shop:s1"),
        (NO_READ_AHEAD, {"id": conversation, "last": 3}, "shop:s1"),
        (READ_AHEAD, {"id": conversation, "last": 5}, "creator:c1"),
        (READ_AHEAD, {"id": conversation, "last": 5}, "shop:s2"),  # another shop's: null
        (
            "query($id: ID!) { conversation(id: $id) { id messages(first: 2, after: null) { nodes { id } } } }",
            {"id": conversation},
            "shop:s1",
        ),
        (CONVERSATION, {"id": conversation}, "shop:s1"),
        (CONVERSATION, {"id": conversation}, "creator:c1"),
        (CREATOR_CONVERSATION, {"id": gid("Creator", 1)}, "shop:s1"),
        (COUNTS, None, "shop:s1"),
        (COUNTS, None, "creator:c1"),
        (ALIASES_AND_FRAGMENTS, None, "shop:s1"),
        (ALIASES_AND_FRAGMENTS, None, "creator:c1"),
        (MARKETPLACE, None, "shop:s1"),
        (SKIPPED, {"skip": True}, "shop:s1"),
        (SKIPPED, {"skip": False}, "shop:s1"),
        *(
            (NODE, {"id": node}, "shop:s1")
            for node in (
                conversation,
                gid("Message", 1),
                gid("Message", 999),
                gid("Creator", 3),
                gid("Shop", 1),
                gid("Product", 1),
            )
        ),
    ]
    for query, variables, subject in cases:
        await assert_alike(apps, query, variables, subject)
    # The speed layer did run: the conversation cards were completed by a generated plan.
    assert any(key[0].name == "Conversation" and plan is not None for key, plan in _SHARED_PLANS.items())


async def test_errors_and_refusals_answer_alike(apps):
    fast, _ = apps
    conversation = await chat_world(fast)
    cases = [
        ("query($after: String) { conversations(after: $after) { nodes { id } } }", {"after": "not-a-cursor"}),
        (
            "query($id: ID!) { conversation(id: $id) { id messages(first: 2, last: 2) { edges { cursor } } } }",
            {"id": conversation},
        ),
        (READ_AHEAD, {"id": conversation, "last": 3, "before": "not-a-cursor"}),
        (NODE, {"id": "not-an-id"}),
        ("{ conversationz { nodes { id } } }", None),  # with its "Did you mean" suggestion
        ("query($f: Int) { conversations(first: $f) { nodes { id } } }", {"f": "ten"}),
        ("{ conversations {", None),
        (COSTLY, None),
        ("subscription { messageAdded { id } }", None),
        (SEND_BULK, bulk_input([1, 2, 1], "Hi", "b1")),  # refused before writing anything
    ]
    for query, variables in cases:
        await assert_alike(apps, query, variables)


async def test_a_replayed_write_answers_alike(apps):
    fast, _ = apps
    first = await answer(fast, SEND, text_to_shop(1, "Once", "once"), as_="creator:c5")
    assert first[0] == 200 and b'"userErrors":[]' in first[2]
    await assert_alike(apps, SEND, text_to_shop(1, "Once", "once"), as_="creator:c5")  # the same message again


async def test_a_forbidden_null_answers_alike(apps):
    """A null where the schema forbids one (here a text message without text) takes graphql-core's
    path in the speed layer: the same internal error (logged, with an id), the null carried up."""
    fast, _ = apps
    conversation = await chat_world(fast)
    await say(fast, gid("Shop", 1), "Last words", as_="creator:c1")  # the conversation's newest message
    async with fast.engine.begin() as conn:
        await conn.execute(update(message_t).where(message_t.c.text == "Last words").values(text=None))
    # Documents without cards: a DataLoader batch started beside the failing field would outlive the
    # answer (graphql-core does not wait for it), and the test's end would cut its read short.
    chat = """query($id: ID!) { conversation(id: $id) { id
      messages(last: 5) { nodes { id content { __typename ... on TextContent { text } } } } } }"""
    for query, variables in ((INBOX, {"first": 10}), (chat, {"id": conversation})):
        body = await assert_alike(apps, query, variables)
        assert b'"code":"INTERNAL_SERVER_ERROR"' in body and b'"text"]' in body  # the error's path ends there


async def test_a_websocket_query_answers_alike(apps):
    fast, plain = apps
    conversation = await chat_world(fast)
    payloads = []
    for api in apps:
        client = await WSClient.connect(
            api.http.session, str(api.http.make_url("/graphql")), TRANSPORT_WS, api.token("shop:s1")
        )
        try:
            assert await client.acked()
            await client.subscribe(READ_AHEAD, {"id": conversation, "last": 5})
            payloads.append(await client.next_payload())
        finally:
            await client.close()
    assert payloads[0] == payloads[1] and list(payloads[0]["payload"]) == list(payloads[1]["payload"])


async def test_production_errors_answer_alike(aiohttp_client, database_url, tmp_path):
    """Production hides suggestions: the plain app validates without them too."""
    clients = []
    for name, fast in (("fast", True), ("plain", False)):
        (tmp_path / name).mkdir()
        settings = make_settings(database_url, tmp_path / name, fast_path=fast, environment="production")
        clients.append(await client_of(aiohttp_client, settings))
    await build_world(clients[0].engine)
    for query, variables in (
        ("{ conversationz { nodes { id } } }", None),
        ("{ conversations(folder: UNRED) { nodes { id } } }", None),
        ("query($f: InboxFolder) { conversations(folder: $f) { nodes { id } } }", {"f": "UNRED"}),
        ("{ __schema { types { name } } }", None),
    ):
        body = await assert_alike(clients, query, variables)
        assert b"Did you mean" not in body


async def test_other_library_versions_turn_the_fast_path_off_with_one_warning(
    aiohttp_client, database_url, tmp_path, monkeypatch, caplog
):
    installed = fastpath.installed_version
    monkeypatch.setattr(
        fastpath, "installed_version", lambda package: "3.4.0" if package == "graphql-core" else installed(package)
    )
    with caplog.at_level(logging.WARNING, logger="inbox.fastpath"):
        api = await client_of(aiohttp_client, make_settings(database_url, tmp_path, fast_path=True))
    assert [record.getMessage() for record in caplog.records if record.name == "inbox.fastpath"] == [
        "fast path off: installed graphql-core 3.4.0 (checked against 3.3.2); "
        "the app runs plain strawberry and SQLAlchemy"
    ]
    assert api.http.app[APP_SEAMS] is fastpath.PLAIN
    assert type(api.runtime.engine) is GatedEngine and not isinstance(api.runtime.engine, DirectReads)
    assert type(_view(api)) is InboxView
    await build_world(api.engine)
    data = await api.query(COUNTS, as_="shop:s1")
    assert data == {"inboxCounts": {"all": 0, "unread": 0, "unreplied": 0, "starred": 0, "archived": 0}}


def _view(api) -> InboxView:
    """The view answering /graphql."""
    route = next(route for route in api.http.app.router.routes() if route.resource.canonical == "/graphql")
    return route.handler


def test_pyproject_pins_the_versions_the_layer_checks():
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    for package, version in fastpath.PINNED.items():
        assert re.search(rf'"{re.escape(package)}(\[\w+\])?=={re.escape(version)}"', pyproject), package


def test_the_schema_is_the_plain_app_s():
    """The speed layer's root query type (its read ahead) declares the plain one's fields exactly."""
    from fastpath.schema import build_fast_schema
    from schema.build import build_schema
    from schema.limits import Limits

    for production in (False, True):
        assert build_fast_schema(Limits(), production).as_str() == build_schema(Limits(), production).as_str()


def test_inbox_fast_path_is_on_or_off():
    from core.config import Settings

    assert Settings.from_env({}).fast_path is True
    assert Settings.from_env({"INBOX_FAST_PATH": "off"}).fast_path is False
    assert Settings.from_env({"INBOX_FAST_PATH": "ON"}).fast_path is True
    with pytest.raises(ValueError, match="INBOX_FAST_PATH must be on or off, not 'no'"):
        Settings.from_env({"INBOX_FAST_PATH": "no"})
