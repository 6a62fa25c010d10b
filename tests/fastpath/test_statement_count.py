"""Screens cost a fixed number of SQL statements, whatever the page size (no N+1): the inbox list, and the
chat screen (a conversation and its messages, one statement with the speed layer on PostgreSQL). The
counts are exact, with INBOX_FAST_PATH on and off."""

from server import APP_SEAMS
from tests.support.app import world_api
from tests.support.gql import (
    BLOCK,
    SEND_BULK,
    bulk_input,
    conversation_action,
    creator_input,
    gid,
    product_to_creator,
    request_sample,
    say,
    send_ok,
)
from tests.support.world import build_world
from tests.support.ws import TRANSPORT_WS, WSClient

# One inbox page, on SQLite and PostgreSQL alike: the viewer's shop (authentication), the page (each
# conversation joined with its creator, shop, newest message and block flag), then one batch for the
# sample requests of its sample cards and one for the products of those and of its product cards.
INBOX_PAGE_STATEMENTS = 4

# Every field the inbox list shows, for every kind of newest message.
INBOX_SCREEN = """
query InboxScreen($first: Int, $after: String) {
  conversations(first: $first, after: $after) {
    edges { cursor node {
      id lastActivityAt unreadCount isStarred isArchived isUnreplied isBlocked otherSideLastReadAt
      creator { id handle displayName avatarUrl followerCount mainCategory }
      lastMessage {
        id senderRole isMine createdAt isReadByOtherSide
        content {
          __typename
          ... on TextContent { text }
          ... on SystemNotice { code text }
          ... on ProductCard { product { id title imageUrl } }
          ... on SampleRequestCard { sampleRequest { id status product { id title } } }
          ... on CollaborationInvite { collaboration { id name } }
        }
      }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def busy_inbox(api) -> None:
    """Shop s2 talks with 105 creators; the newest messages are of every kind, older ones too."""
    await build_world(api.engine, creators=120)
    bulk = (await api.query(SEND_BULK, bulk_input(range(1, 101), "Hello from Trail Gear", "launch"), as_="shop:s2"))[
        "sendBulkMessage"
    ]
    assert (bulk["sentCount"], bulk["failedCount"]) == (100, 0), bulk
    for creator in range(101, 106):
        await say(api, gid("Creator", creator), "Hello", as_="shop:s2")
    for creator in range(12, 21):
        await send_ok(api, product_to_creator(creator, 4, f"card-{creator}"), as_="shop:s2")
    for creator in range(22, 26):
        await request_sample(api, 4, f"sample-{creator}", as_=f"creator:c{creator}")
    for creator in (27, 28):
        assert (await api.query(BLOCK, creator_input(creator), as_="shop:s2"))["blockCreator"]["userErrors"] == []
    reply = await say(api, gid("Shop", 2), "Sounds good", as_="creator:c30")
    await act_on(api, "starConversation", reply["conversation"]["id"], as_="shop:s2")
    archived = await say(api, gid("Creator", 31), "Archiving you", as_="shop:s2")
    await act_on(api, "archiveConversation", archived["conversation"]["id"], as_="shop:s2")
    # The five newest: a product card, a sample card, a block notice, a reply and a text.
    await send_ok(api, product_to_creator(11, 4, "card-11"), as_="shop:s2")
    await request_sample(api, 4, "sample-21", as_="creator:c21")
    assert (await api.query(BLOCK, creator_input(26), as_="shop:s2"))["blockCreator"]["userErrors"] == []
    await say(api, gid("Shop", 2), "Count me in", as_="creator:c29")
    await say(api, gid("Creator", 101), "Following up", as_="shop:s2")


async def act_on(api, action: str, conversation_id: str, *, as_: str) -> None:
    data = await api.query(conversation_action(action), {"input": {"conversationId": conversation_id}}, as_=as_)
    assert data[action]["userErrors"] == [], data


async def statements_for(api, first: int) -> tuple[list[str], dict]:
    with api.count_statements() as statements:
        status, body = await api.post(INBOX_SCREEN, {"first": first}, as_="shop:s2")
    assert status == 200 and "errors" not in body, body
    return list(statements), body["data"]["conversations"]


def listing(statements: list[str]) -> str:
    return "\n\n".join(f"[{n}] {statement}" for n, statement in enumerate(statements, 1))


async def test_inbox_page_costs_the_same_statements_for_5_and_100_rows(api):
    await busy_inbox(api)
    small_statements, small = await statements_for(api, 5)
    large_statements, large = await statements_for(api, 100)

    assert [edge["node"]["creator"]["handle"] for edge in small["edges"]] == [
        "creator101",
        "creator29",
        "creator26",
        "creator21",
        "creator11",
    ]
    kinds = [edge["node"]["lastMessage"]["content"]["__typename"] for edge in small["edges"]]
    assert kinds == ["TextContent", "TextContent", "SystemNotice", "SampleRequestCard", "ProductCard"]
    assert len(large["edges"]) == 100 and large["pageInfo"]["hasNextPage"] is True
    large_kinds = [edge["node"]["lastMessage"]["content"]["__typename"] for edge in large["edges"]]
    assert (
        large_kinds.count("ProductCard"),
        large_kinds.count("SampleRequestCard"),
        large_kinds.count("SystemNotice"),
    ) == (10, 5, 3)
    card = next(edge["node"] for edge in large["edges"] if edge["node"]["creator"]["handle"] == "creator22")
    assert card["lastMessage"]["content"]["sampleRequest"]["product"]["title"] == "Tent"
    assert card["unreadCount"] == 1 and card["isUnreplied"] is True
    blocked = next(edge["node"] for edge in large["edges"] if edge["node"]["creator"]["handle"] == "creator27")
    assert blocked["isBlocked"] is True and blocked["lastMessage"]["content"]["code"] == "CREATOR_BLOCKED"

    print(f"statements: {len(small_statements)} for 5 rows, {len(large_statements)} for 100 rows")
    assert (len(small_statements), len(large_statements)) == (INBOX_PAGE_STATEMENTS, INBOX_PAGE_STATEMENTS), (
        f"{INBOX_PAGE_STATEMENTS} statements expected for one inbox page\n"
        f"--- 5 rows ---\n{listing(small_statements)}\n--- 100 rows ---\n{listing(large_statements)}"
    )


# The chat screen: a conversation and its latest messages.
CHAT_SCREEN = """
query ChatScreen($id: ID!, $last: Int, $before: String) {
  conversation(id: $id) {
    id unreadCount isBlocked otherSideLastReadAt creator { handle }
    %s
  }
}"""
MESSAGES = """messages(last: $last, before: $before) {
  edges { cursor node { id senderRole isMine clientMessageId createdAt isReadByOtherSide content {
    __typename ... on TextContent { text } ... on ProductCard { product { title } } } } }
  pageInfo { hasPreviousPage hasNextPage startCursor endCursor }
}"""
# The same fields behind a fragment: the conversation lookup does not look into fragments.
READ_AHEAD = CHAT_SCREEN % MESSAGES
NO_READ_AHEAD = CHAT_SCREEN % ("... on Conversation { %s }" % MESSAGES)
# The chat screen: the viewer's shop (authentication), the conversation, its page of messages, then one
# batch for the products of its product cards. With the speed layer's read ahead (fastpath/readahead.py)
# PostgreSQL reads the conversation and the page in one statement (ARRAY(SELECT ...)); SQLite has no
# arrays of rows, and the plain app (INBOX_FAST_PATH=off) no read ahead: they read them one after the other.
CHAT_STATEMENTS = {"read ahead": 3, "plain": 4}


def chat_statements_expected(api) -> dict[str, int]:
    if api.http.app[APP_SEAMS].fast and api.engine.dialect.name == "postgresql":
        return CHAT_STATEMENTS
    return {"read ahead": CHAT_STATEMENTS["plain"], "plain": CHAT_STATEMENTS["plain"]}


async def chat_statements(api, query: str, variables: dict) -> tuple[list[str], dict]:
    with api.count_statements() as statements:
        status, body = await api.post(query, variables, as_="shop:s2")
    assert status == 200 and "errors" not in body, body
    return list(statements), body["data"]["conversation"]


async def test_chat_screen_reads_conversation_and_messages_in_one_statement_on_postgresql(api):
    await build_world(api.engine, creators=5)
    first = await say(api, gid("Creator", 1), "Hello", as_="shop:s2")
    conversation = first["conversation"]["id"]
    for n in range(4):
        await say(api, conversation, f"Message {n}", as_="shop:s2")
        if n == 1:
            await say(api, gid("Shop", 2), "Sure", as_="creator:c1")
    await send_ok(api, product_to_creator(1, 4, "card-1"), as_="shop:s2")
    await say(api, gid("Shop", 2), "Thanks", as_="creator:c1")  # 8 messages

    for variables in ({"id": conversation, "last": 5}, {"id": conversation, "last": 50}):
        ahead_statements, ahead = await chat_statements(api, READ_AHEAD, variables)
        plain_statements, plain = await chat_statements(api, NO_READ_AHEAD, variables)
        assert ahead == plain
        counted = {"read ahead": len(ahead_statements), "plain": len(plain_statements)}
        assert counted == chat_statements_expected(api), (
            f"last {variables['last']}: {counted}\n"
            f"--- read ahead ---\n{listing(ahead_statements)}\n--- plain ---\n{listing(plain_statements)}"
        )
    assert [edge["node"]["content"]["__typename"] for edge in ahead["messages"]["edges"]][-2:] == [
        "ProductCard",
        "TextContent",
    ]
    assert len(ahead["messages"]["edges"]) == 8 and ahead["messages"]["pageInfo"]["hasPreviousPage"] is False

    # Paging back from a cursor, and a conversation the viewer may not see (another shop's).
    before = (await chat_statements(api, READ_AHEAD, {"id": conversation, "last": 3}))[1]
    cursor = before["messages"]["pageInfo"]["startCursor"]
    _, older = await chat_statements(api, READ_AHEAD, {"id": conversation, "last": 3, "before": cursor})
    _, older_plain = await chat_statements(api, NO_READ_AHEAD, {"id": conversation, "last": 3, "before": cursor})
    assert older == older_plain and older["messages"]["pageInfo"]["hasNextPage"] is True
    status, body = await api.post(READ_AHEAD, {"id": conversation, "last": 5}, as_="shop:s1")
    assert status == 200 and body["data"]["conversation"] is None, body


async def test_chat_screen_refuses_bad_page_arguments_at_the_messages_field(api):
    await build_world(api.engine, creators=2)
    conversation = (await say(api, gid("Creator", 1), "Hello", as_="shop:s2"))["conversation"]["id"]
    query = "query($id: ID!) { conversation(id: $id) { id messages(first: 2, last: 2) { edges { cursor } } } }"
    status, body = await api.post(query, {"id": conversation}, as_="shop:s2")
    # messages is non-null, so the error nulls the conversation, as without the read ahead.
    assert status == 200 and body["data"]["conversation"] is None, body
    assert body["errors"][0]["path"] == ["conversation", "messages"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_page_read_ahead_answers_its_own_operation_only(api):
    """A WebSocket's context lives as long as the socket: a page one query read ahead must not
    answer a later query of the same page."""
    await build_world(api.engine, creators=2)
    conversation = (await say(api, gid("Creator", 1), "Hello", as_="shop:s2"))["conversation"]["id"]
    client = await WSClient.connect(
        api.http.session, str(api.http.make_url("/graphql")), TRANSPORT_WS, api.token("shop:s2")
    )
    try:
        assert await client.acked()
        pages = []
        for query in (READ_AHEAD, NO_READ_AHEAD):
            await client.subscribe(query, {"id": conversation, "last": 5})
            answer = await client.next_payload()
            assert (await client.next_payload())["type"] == "complete"
            pages.append(
                [
                    edge["node"]["content"]["text"]
                    for edge in answer["payload"]["data"]["conversation"]["messages"]["edges"]
                ]
            )
            await say(api, conversation, "Again", as_="shop:s2")
        assert pages == [["Hello"], ["Hello", "Again"]]
    finally:
        await client.close()


async def test_read_receipts_cost_no_statement_on_a_page_of_50(aiohttp_client, database_url, tmp_path):
    """A chat page of 50 messages and an inbox page of 50 conversations cost the same statements with
    and without the receipts: they come with the conversation's row (the other side's read position)."""
    api = await world_api(aiohttp_client, database_url, tmp_path, mutation_burst=1000)
    await build_world(api.engine, creators=60)
    conversation = (await say(api, gid("Shop", 2), "Hello", as_="creator:c1"))["conversation"]["id"]
    for n in range(30):
        await say(api, conversation, f"Seller {n}", as_="shop:s2")
        await say(api, conversation, f"Creator {n}", as_="creator:c1")
    await say(api, conversation, "Unread", as_="shop:s2")
    for creator in range(2, 52):
        theirs = (await say(api, gid("Shop", 2), "Hi", as_=f"creator:c{creator}"))["conversation"]["id"]
        await say(api, theirs, "Hello back", as_="shop:s2")

    receipts, plain = "isReadByOtherSide", ""
    chat = """query($id: ID!) { conversation(id: $id) { id otherSideLastReadAt %s } }"""
    messages = "messages(last: 50) { edges { node { id isMine %s } } }"
    inbox = "query { conversations(first: 50) { nodes { id %s lastMessage { id isMine %s } } } }"
    for document in (chat % messages, chat % ("... on Conversation { %s }" % messages)):
        with_receipts, page = await chat_statements(api, document % receipts, {"id": conversation})
        without, _ = await chat_statements(api, document % plain, {"id": conversation})
        assert len(with_receipts) == len(without), f"{listing(with_receipts)}\n---\n{listing(without)}"
        flags = [(edge["node"]["isMine"], edge["node"]["isReadByOtherSide"]) for edge in page["messages"]["edges"]]
        assert len(flags) == 50 and flags[-1] == (True, False)  # the seller's last message: unread
        assert all(read is (None if not mine else True) for mine, read in flags[:-1]), flags
    with api.count_statements() as with_receipts:
        page = await api.query(inbox % ("otherSideLastReadAt", receipts), as_="shop:s2")
    with api.count_statements() as without:
        await api.query(inbox % ("", plain), as_="shop:s2")
    assert len(with_receipts) == len(without), f"{listing(with_receipts)}\n---\n{listing(without)}"
    rows = page["conversations"]["nodes"]
    assert len(rows) == 50 and {row["lastMessage"]["isReadByOtherSide"] for row in rows} == {False}


# A page of search results, with what a results list shows of each message and its conversation.
SEARCH_SCREEN = """
query SearchScreen($first: Int) {
  searchMessages(query: "HELLO", first: $first) {
    edges { cursor snippet node {
      id senderRole isMine createdAt content { __typename ... on TextContent { text } }
      conversation { id unreadCount creator { handle avatarUrl } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def test_a_search_page_costs_the_same_statements_for_5_and_50_results(api):
    await build_world(api.engine, creators=60)
    bulk = (await api.query(SEND_BULK, bulk_input(range(1, 56), "Hello from Trail Gear", "launch"), as_="shop:s2"))[
        "sendBulkMessage"
    ]
    assert (bulk["sentCount"], bulk["failedCount"]) == (55, 0), bulk
    costs = {}
    for first in (5, 50):
        with api.count_statements() as statements:
            status, body = await api.post(SEARCH_SCREEN, {"first": first}, as_="shop:s2")
        assert status == 200 and "errors" not in body, body
        edges = body["data"]["searchMessages"]["edges"]
        assert len(edges) == first and body["data"]["searchMessages"]["pageInfo"]["hasNextPage"] is True
        assert {edge["node"]["conversation"]["creator"]["handle"] for edge in edges} == {
            f"creator{n}" for n in range(55, 55 - first, -1)
        }
        costs[first] = list(statements)
    # The viewer's shop status (every request of a seller), the page, its conversations with their creators.
    assert [len(costs[5]), len(costs[50])] == [3, 3], f"{listing(costs[5])}\n---\n{listing(costs[50])}"
