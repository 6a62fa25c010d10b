"""Malformed input is the client's error: BAD_USER_INPUT with HTTP 200, never a 500 or a traceback."""

import base64
import json

from tests.support.gql import gid, say
from tests.support.world import build_world


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CONVERSATIONS = """query($first: Int, $after: String) {
  conversations(first: $first, after: $after) { edges { cursor node { id } } } }"""
CREATORS = """query($first: Int, $after: String, $order: CreatorOrder) {
  creators(first: $first, after: $after, orderBy: $order) { edges { cursor } } }"""
SAMPLES = "query($first: Int, $after: String) { sampleRequests(first: $first, after: $after) { edges { cursor } } }"
PRODUCTS = """query($first: Int, $after: String) {
  viewer { shop { products(first: $first, after: $after) { edges { cursor } }
                  targetCollaborations(first: $first, after: $after) { edges { cursor } } } } }"""
MESSAGES = """query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  conversation(id: $id) {
    messages(first: $first, after: $after, last: $last, before: $before) { edges { cursor } } } }"""

GARBAGE_CURSORS = [
    "not a cursor",
    "!!!!",
    "%%%",
    "\u00e9\u00e8",
    "Zm9v",
    b64("garbage"),
    b64(b"\xff\xfe\xfd"),
    b64("x|y"),
    b64("1|2|3"),
    b64(""),
    b64("|"),
    b64("2024-13-45T00:00:00+00:00|1"),
    b64("2024-01-01T00:00:00|1"),
    b64("2024-01-01T00:00:00+00:00|abc"),
    b64("2024-01-01T00:00:00+00:00|99999999999999999999"),
    b64("0001-01-01T00:00:00+05:00|1"),
    b64("NaN|1"),
    b64("Infinity|1"),
    b64("1e999999|1"),
    b64("99999999999|1"),
    b64("99999999999999999999"),
    b64("-99999999999999999999"),
    b64("1.5"),
    b64("\u00b2"),
]


async def assert_bad_input(
    api, document: str, variables: dict | None = None, *, as_: str = "shop:s1", code: str = "BAD_USER_INPUT"
) -> None:
    status, body = await api.post(document, variables, as_=as_)
    text = json.dumps(body)
    assert status == 200, (status, body)
    assert "Traceback" not in text and "INTERNAL_SERVER_ERROR" not in text, body
    assert body.get("errors"), body
    assert [error["extensions"]["code"] for error in body["errors"]] == [code] * len(body["errors"]), (
        document,
        variables,
        body,
    )


async def world_with_conversation(api) -> str:
    await build_world(api.engine, creators=3)
    sent = await say(api, gid("Creator", 1), "hello", as_="shop:s1")
    await say(api, gid("Shop", 1), "hello back", as_="creator:c1")
    return sent["conversation"]["id"]


async def test_bad_page_sizes_cursors_and_ids(api):
    conversation = await world_with_conversation(api)
    for size in (101, -1, 1000, -2147483648, 2147483647):
        await assert_bad_input(api, CONVERSATIONS, {"first": size})
        await assert_bad_input(api, CREATORS, {"first": size})
        await assert_bad_input(api, SAMPLES, {"first": size})
        await assert_bad_input(api, SAMPLES, {"first": size}, as_="creator:c1")
        await assert_bad_input(api, PRODUCTS, {"first": size})
        await assert_bad_input(api, MESSAGES, {"id": conversation, "first": size})
        await assert_bad_input(api, MESSAGES, {"id": conversation, "last": size})
    for literal in ("conversations(first: 101) { edges { cursor } }", "creators(first: -1) { edges { cursor } }"):
        await assert_bad_input(api, f"query {{ {literal} }}")
    # Beyond GraphQL's Int, and not an Int at all.
    await assert_bad_input(api, CONVERSATIONS, {"first": 2**31})
    await assert_bad_input(api, CONVERSATIONS, {"first": "ten"})
    await assert_bad_input(api, CONVERSATIONS, {"first": 1.5})
    await assert_bad_input(api, 'query { conversations(first: "ten") { edges { cursor } } }')
    # Paging a chat both ways at once is ambiguous.
    await assert_bad_input(api, MESSAGES, {"id": conversation, "first": 2, "last": 2})
    # The limits themselves are fine.
    for size in (0, 100):
        status, body = await api.post(CONVERSATIONS, {"first": size}, as_="shop:s1")
        assert status == 200 and "errors" not in body, body

    # Malformed cursors.
    for cursor in GARBAGE_CURSORS:
        await assert_bad_input(api, CONVERSATIONS, {"after": cursor})
    for cursor in GARBAGE_CURSORS:
        if cursor not in (b64("99999999999|1"), b64("1.5")):  # amounts are decimals: these two are fine
            await assert_bad_input(api, CREATORS, {"after": cursor, "order": "GMV_DESC"})
    # Integer keys and counts: too big for the column, not digits, or the wrong shape.
    for cursor in (
        "not a cursor",
        b64("garbage"),
        b64(b"\xff\xfe\xfd"),
        b64("1|2|3"),
        b64("99999999999|1"),
        b64("99999999999999999999"),
        b64("1.5"),
        b64("\u00b2"),
    ):
        await assert_bad_input(api, CONVERSATIONS, {"after": cursor}, as_="creator:c1")
        await assert_bad_input(api, CREATORS, {"after": cursor, "order": "FOLLOWERS_DESC"})
        await assert_bad_input(api, SAMPLES, {"after": cursor})
        await assert_bad_input(api, PRODUCTS, {"after": cursor})
        await assert_bad_input(api, MESSAGES, {"id": conversation, "after": cursor})
        await assert_bad_input(api, MESSAGES, {"id": conversation, "before": cursor})
    # A cursor of one connection is not a cursor of another.
    edges = (await api.query(CONVERSATIONS, {}, as_="shop:s1"))["conversations"]["edges"]
    await assert_bad_input(api, MESSAGES, {"id": conversation, "after": edges[0]["cursor"]})
    await assert_bad_input(api, MESSAGES, {"id": conversation, "after": edges[0]["node"]["id"]})
    await assert_bad_input(api, CREATORS, {"after": edges[0]["cursor"]})

    # Malformed ids.
    conversation_query = "query($id: ID!) { conversation(id: $id) { id } }"
    for bad in (
        "",
        "garbage",
        "!!!",
        "%%%",
        b64("Conversation"),
        b64("Conversation:"),
        b64("Conversation:abc"),
        b64("Conversation:-1"),
        b64("Conversation:1.0"),
        b64("Conversation:\u00b2"),
        b64("Conversation:99999999999999999999"),
        b64(":1"),
        b64(b"\xff\xfe:1"),
        b64("Nope:1"),
        gid("Creator", 1),
        gid("Message", 1),
    ):
        await assert_bad_input(api, conversation_query, {"id": bad})
    for bad in ("", "garbage", b64("Nope:1"), b64("Shop:x"), b64("Message:99999999999999999999")):
        await assert_bad_input(api, "query($id: ID!) { node(id: $id) { id } }", {"id": bad})
    for bad in ("garbage", gid("Shop", 1)):
        await assert_bad_input(api, "query($id: ID!) { creator(id: $id) { id } }", {"id": bad})
    # Mutations decode their ids the same way.
    send = """mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }"""
    await assert_bad_input(
        api, send, {"input": {"creatorId": "garbage", "clientMessageId": "k1", "content": {"text": "hi"}}}
    )
    await assert_bad_input(
        api, send, {"input": {"conversationId": gid("Creator", 1), "clientMessageId": "k2", "content": {"text": "hi"}}}
    )
    await assert_bad_input(
        api,
        send,
        {
            "input": {
                "conversationId": conversation,
                "clientMessageId": "k3",
                "content": {"productId": gid("Creator", 1)},
            }
        },
    )
    await assert_bad_input(
        api,
        """mutation($id: ID!) { starConversation(input: {conversationId: $id}) {
        userErrors { code } } }""",
        {"id": b64("Conversation:99999999999")},
    )
    # A bad id writes nothing: the conversation still has its two messages only.
    data = await api.query(
        "query($id: ID!) { conversation(id: $id) { messages { nodes { id } } } }", {"id": conversation}, as_="shop:s1"
    )
    assert len(data["conversation"]["messages"]["nodes"]) == 2


async def test_bad_values_and_bad_requests(api):
    await build_world(api.engine, creators=3)
    await assert_bad_input(api, "query { conversations(folder: NOPE) { edges { cursor } } }")
    await assert_bad_input(api, 'query { conversations(folder: "ALL") { edges { cursor } } }')
    await assert_bad_input(
        api, "query($f: InboxFolder) { conversations(folder: $f) { edges { cursor } } }", {"f": "NOPE"}
    )
    await assert_bad_input(
        api,
        "query($f: InboxFolder) { conversations(folder: $f) { edges { cursor } } }",
        {"f": "unread"},
        as_="creator:c1",
    )
    await assert_bad_input(api, "query { creators(orderBy: NAME_ASC) { edges { cursor } } }")
    await assert_bad_input(
        api, "query($o: CreatorOrder) { creators(orderBy: $o) { edges { cursor } } }", {"o": "NAME_ASC"}
    )
    await assert_bad_input(
        api, "query($s: SampleRequestStatus) { sampleRequests(status: $s) { edges { cursor } } }", {"s": "LOST"}
    )
    filtered = "query($f: CreatorFilter) { conversations(filter: $f) { edges { cursor } } }"
    for flt in (
        {"minGmv": "lots"},
        {"maxGmv": "NaN"},
        {"minGmv": "Infinity"},
        {"maxGmv": "1e999999"},
        {"minFollowers": "many"},
        {"minFollowers": 2**31},
        {"categories": [1]},
        {"search": 5},
        {"nope": 1},
    ):
        await assert_bad_input(api, filtered, {"f": flt})
        await assert_bad_input(api, filtered.replace("conversations", "creators"), {"f": flt})
    # The same values as literals.
    await assert_bad_input(api, 'query { creators(filter: {maxGmv: "NaN"}) { edges { cursor } } }')
    await assert_bad_input(api, 'query { creators(filter: {minFollowers: "x"}) { edges { cursor } } }')

    # Requests that are not GraphQL requests at all: 400 with a JSON error body.
    headers = {"Authorization": f"Bearer {api.token('shop:s1')}", "Content-Type": "application/json"}
    for raw in ("{not json", "", "[1, 2", '{"query": ', "\xff"):
        response = await api.http.post("/graphql", data=raw.encode("utf-8", "surrogateescape"), headers=headers)
        text = await response.text()
        assert response.status == 400, (raw, response.status, text)
        assert response.content_type == "application/json", (raw, text)
        body = json.loads(text)
        assert body["errors"] and body["errors"][0]["message"], body
        assert "Traceback" not in text
    for payload in ({}, {"query": None}, {"variables": {}}):
        response = await api.http.post("/graphql", json=payload, headers=headers)
        text = await response.text()
        assert 400 <= response.status < 500, (payload, response.status, text)
        assert response.content_type == "application/json" and json.loads(text)["errors"], text
    # A syntax error in the document is the client's too.
    status, body = await api.post("query { conversations(", as_="shop:s1")
    assert status in (200, 400) and body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED", body
