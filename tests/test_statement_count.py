"""The inbox list screen costs a fixed number of SQL statements, whatever the page size (no N+1)."""

from tests.gql import (
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
from tests.world import build_world

MAX_STATEMENTS = 8

# Every field the inbox list shows, for every kind of newest message.
INBOX_SCREEN = """
query InboxScreen($first: Int, $after: String) {
  conversations(first: $first, after: $after) {
    edges { cursor node {
      id lastActivityAt unreadCount isStarred isArchived isUnreplied isBlocked
      creator { id handle displayName avatarUrl followerCount mainCategory }
      lastMessage {
        id senderRole isMine createdAt
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
    bulk = (await api.query(SEND_BULK, bulk_input(range(1, 101), "Hello from Trail Gear", "launch"),
                            as_="shop:s2"))["sendBulkMessage"]
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
        "creator101", "creator29", "creator26", "creator21", "creator11"]
    kinds = [edge["node"]["lastMessage"]["content"]["__typename"] for edge in small["edges"]]
    assert kinds == ["TextContent", "TextContent", "SystemNotice", "SampleRequestCard", "ProductCard"]
    assert len(large["edges"]) == 100 and large["pageInfo"]["hasNextPage"] is True
    large_kinds = [edge["node"]["lastMessage"]["content"]["__typename"] for edge in large["edges"]]
    assert (large_kinds.count("ProductCard"), large_kinds.count("SampleRequestCard"),
            large_kinds.count("SystemNotice")) == (10, 5, 3)
    card = next(edge["node"] for edge in large["edges"] if edge["node"]["creator"]["handle"] == "creator22")
    assert card["lastMessage"]["content"]["sampleRequest"]["product"]["title"] == "Tent"
    assert card["unreadCount"] == 1 and card["isUnreplied"] is True
    blocked = next(edge["node"] for edge in large["edges"] if edge["node"]["creator"]["handle"] == "creator27")
    assert blocked["isBlocked"] is True and blocked["lastMessage"]["content"]["code"] == "CREATOR_BLOCKED"

    print(f"statements: {len(small_statements)} for 5 rows, {len(large_statements)} for 100 rows")
    assert len(small_statements) == len(large_statements), (
        f"5 rows: {len(small_statements)} statements, 100 rows: {len(large_statements)}\n"
        f"--- 5 rows ---\n{listing(small_statements)}\n--- 100 rows ---\n{listing(large_statements)}")
    assert len(large_statements) <= MAX_STATEMENTS, (
        f"{len(large_statements)} statements for one inbox page (at most {MAX_STATEMENTS}):\n"
        f"{listing(large_statements)}")
