"""Creators blocking shops: the shop cannot reach the creator, the creator must unblock to write, a notice
both sides see; both directions of blocking hold at once and lift on their own."""

import asyncio

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from models.database import create_engine
from services import blocks
from services.blocks import blocked_either_way
from tests.support.app import world_api
from tests.support.gql import (
    APPROVE_SAMPLE,
    BLOCK,
    BLOCK_SHOP,
    REQUEST_SAMPLE,
    SEND_BULK,
    SEND_FULL,
    START_CONVERSATION,
    UNBLOCK,
    UNBLOCK_SHOP,
    bulk_input,
    conversation,
    conversation_with,
    counts,
    create_collaboration,
    creator_input,
    gid,
    invite_to_creator,
    pk_of,
    product_to_creator,
    refused,
    request_sample,
    sample_input,
    send,
    send_ok,
    shop_input,
    start,
    start_input,
    text_in,
    text_to_creator,
    text_to_shop,
)
from tests.support.world import build_world, db_snapshot, unchanged
from tests.support.ws import TRANSPORT_WS, WSClient

NOT_ACCEPTING = "This creator is not accepting messages from your shop."
UNBLOCK_FIRST = "Unblock the shop first."


async def block_shop(api, shop: int = 1, *, as_: str = "creator:c1", document: str = BLOCK_SHOP) -> dict:
    (payload,) = (await api.query(document, shop_input(shop), as_=as_)).values()
    assert payload["userErrors"] == [], payload
    return payload


async def block_creator(api, creator: int = 1, *, document: str = BLOCK) -> dict:
    (payload,) = (await api.query(document, creator_input(creator), as_="shop:s1")).values()
    assert payload["userErrors"] == [], payload
    return payload


def notices(messages: list) -> list:
    return [m["content"]["code"] for m in messages if m["content"]["__typename"] == "SystemNotice"]


def blocked_with(payload: dict, message: str) -> None:
    assert [(e["code"], e["message"]) for e in payload["userErrors"]] == [("BLOCKED", message)], payload


async def talking(api, creator: int = 1) -> str:
    """The id of s1's conversation with a creator who wrote first (no outreach rule in the way)."""
    return (await send_ok(api, text_to_shop(1, "Hi shop", f"hi-{creator}"), as_=f"creator:c{creator}"))["conversation"][
        "id"
    ]


async def test_block_and_unblock_a_shop_add_one_notice_both_sides_see(api):
    await build_world(api.engine)
    conversation_id = await talking(api)
    await send_ok(api, text_in(conversation_id, "Hello", "k1"), as_="shop:s1")
    unread = {
        side: (await conversation(api, conversation_id, as_=side))["unreadCount"] for side in ("shop:s1", "creator:c1")
    }

    payload = await block_shop(api)
    assert payload["shop"] == {"id": gid("Shop", 1), "isBlocked": True}
    assert payload["conversation"]["id"] == conversation_id
    assert payload["conversation"]["isBlockedByCreator"] is True and payload["conversation"]["isBlocked"] is False
    async with unchanged(api.engine):
        assert (await block_shop(api))["shop"]["isBlocked"] is True
    for side in ("shop:s1", "creator:c1"):
        seen = await conversation(api, conversation_id, as_=side)
        last = seen["messages"]["nodes"][-1]
        assert (last["senderRole"], last["isMine"], last["content"]["code"]) == ("SYSTEM", False, "SHOP_BLOCKED")
        assert last["content"]["text"]
        assert notices(seen["messages"]["nodes"]) == ["SHOP_BLOCKED"]
        assert seen["lastMessage"]["senderRole"] == "SYSTEM"
        assert seen["unreadCount"] == unread[side]  # notices are never unread

    payload = await block_shop(api, document=UNBLOCK_SHOP)
    assert payload["shop"]["isBlocked"] is False and payload["conversation"]["isBlockedByCreator"] is False
    async with unchanged(api.engine):
        assert (await block_shop(api, document=UNBLOCK_SHOP))["shop"]["isBlocked"] is False
    for side in ("shop:s1", "creator:c1"):
        seen = await conversation(api, conversation_id, as_=side)
        assert notices(seen["messages"]["nodes"]) == ["SHOP_BLOCKED", "SHOP_UNBLOCKED"]
    # Messages flow again both ways.
    await send_ok(api, text_in(conversation_id, "Welcome back", "k2"), as_="shop:s1")
    await send_ok(api, text_in(conversation_id, "Thanks", "r2"), as_="creator:c1")


async def test_the_notice_reaches_both_sides_live(api):
    await build_world(api.engine)
    await talking(api)
    notice = "subscription { messageAdded { senderRole content { ... on SystemNotice { code } } } }"
    sides = {}
    for side in ("shop:s1", "creator:c1"):
        sides[side] = await WSClient.connect(
            api.http.session, str(api.http.make_url("/graphql")), TRANSPORT_WS, api.token(side)
        )
        assert await sides[side].acked()
        await sides[side].subscribe(notice)
    try:
        await api.wait_subscribed(2)
        await block_shop(api)
        for client in sides.values():
            added = (await client.next_payload())["payload"]["data"]["messageAdded"]
            assert added == {"senderRole": "SYSTEM", "content": {"code": "SHOP_BLOCKED"}}
    finally:
        for client in sides.values():
            await client.close()


async def test_the_shop_still_decides_the_creators_pending_sample_requests(api):
    """A request is the creator's own: the shop may still answer it while the creator blocks the shop."""
    await build_world(api.engine)
    sample = await request_sample(api, 1, "req1", as_="creator:c1")
    await block_shop(api)
    payload = (await api.query(APPROVE_SAMPLE, {"input": {"sampleRequestId": sample["id"]}}, as_="shop:s1"))[
        "approveSampleRequest"
    ]
    assert payload["userErrors"] == [] and payload["sampleRequest"]["status"] == "APPROVED", payload
    seen = await conversation(api, payload["sampleRequest"]["conversation"]["id"], as_="creator:c1")
    assert notices(seen["messages"]["nodes"]) == ["SHOP_BLOCKED", "SAMPLE_APPROVED"]


async def test_the_shop_cannot_reach_a_creator_that_blocks_it(api):
    await build_world(api.engine)
    conversation_id = await talking(api)
    collaboration = await create_collaboration(api, (1,))
    await block_shop(api)
    async with unchanged(api.engine):
        for variables in (
            text_in(conversation_id, "Still there?", "k1"),
            text_to_creator(1, "Hello?", "k2"),
            product_to_creator(1, 1, "k3"),
            invite_to_creator(1, collaboration, "k4"),
        ):
            payload = await refused(api, SEND_FULL, variables, as_="shop:s1")
            blocked_with(payload, NOT_ACCEPTING)
            assert payload["message"] is None
        bulk = (await api.query(SEND_BULK, bulk_input([1], "Hello all", "b1"), as_="shop:s1"))["sendBulkMessage"]
        assert (bulk["sentCount"], bulk["failedCount"]) == (0, 1)
        blocked_with(bulk["results"][0], NOT_ACCEPTING)
    # Only that creator: the rest of a bulk send goes out, to creators that never blocked the shop.
    bulk = (await api.query(SEND_BULK, bulk_input([1, 2], "Hello all", "b2"), as_="shop:s1"))["sendBulkMessage"]
    assert (bulk["sentCount"], bulk["failedCount"]) == (1, 1), bulk
    blocked_with(bulk["results"][0], NOT_ACCEPTING)
    assert bulk["results"][1]["userErrors"] == [] and bulk["results"][1]["message"]
    # The conversation itself is still there, for both sides.
    assert (await start(api, 1))["id"] == conversation_id
    assert (await conversation(api, conversation_id, as_="creator:c1"))["isBlockedByCreator"] is True
    # Another shop is not affected.
    await send_ok(api, text_to_creator(1, "Hello from Trail Gear", "k5"), as_="shop:s2")


async def test_a_creator_must_unblock_a_shop_to_write_to_it(api):
    await build_world(api.engine)
    conversation_id = await talking(api)
    await block_shop(api)
    async with unchanged(api.engine):
        for variables in (text_in(conversation_id, "One more thing", "r1"), text_to_shop(1, "Hello?", "r2")):
            payload = await refused(api, SEND_FULL, variables, as_="creator:c1")
            blocked_with(payload, UNBLOCK_FIRST)
        payload = await refused(api, REQUEST_SAMPLE, sample_input(1, "req1"), as_="creator:c1")
        blocked_with(payload, UNBLOCK_FIRST)
        assert payload["sampleRequest"] is None
    await send_ok(api, text_to_shop(2, "Hello other shop", "r3"), as_="creator:c1")
    await block_shop(api, document=UNBLOCK_SHOP)
    await send_ok(api, text_in(conversation_id, "One more thing", "r1"), as_="creator:c1")
    await request_sample(api, 1, "req1", as_="creator:c1")


async def test_blocking_a_shop_without_a_conversation_opens_none(api):
    await build_world(api.engine)
    counts_before = await counts(api, as_="creator:c7")
    before = await db_snapshot(api.engine)
    payload = await block_shop(api, as_="creator:c7")
    assert payload["shop"]["isBlocked"] is True and payload["conversation"] is None
    assert await conversation_with(api, 7) is None
    assert await counts(api, as_="creator:c7") == counts_before
    async with unchanged(api.engine):
        for variables in (text_to_creator(7, "Hello", "k1"), product_to_creator(7, 1, "k2")):
            blocked_with(await refused(api, SEND_FULL, variables, as_="shop:s1"), NOT_ACCEPTING)
        blocked_with(
            await refused(api, START_CONVERSATION, start_input(7, "FIND_CREATORS"), as_="shop:s1"), NOT_ACCEPTING
        )
        bulk = (await api.query(SEND_BULK, bulk_input([7], "Hello all", "b1"), as_="shop:s1"))["sendBulkMessage"]
        blocked_with(bulk["results"][0], NOT_ACCEPTING)
        blocked_with(await refused(api, SEND_FULL, text_to_shop(1, "Hello", "r1"), as_="creator:c7"), UNBLOCK_FIRST)
        blocked_with(await refused(api, REQUEST_SAMPLE, sample_input(2, "req1"), as_="creator:c7"), UNBLOCK_FIRST)
    assert await conversation_with(api, 7) is None
    payload = await block_shop(api, as_="creator:c7", document=UNBLOCK_SHOP)
    assert payload["shop"]["isBlocked"] is False and payload["conversation"] is None
    assert await db_snapshot(api.engine) == before  # no trace of the block and its lifting: no conversation, notice
    opened = await start(api, 7, "FIND_CREATORS")
    assert opened["entrance"] == "FIND_CREATORS" and opened["isBlocked"] is False


async def test_both_blocks_hold_at_once_and_lift_on_their_own(api):
    await build_world(api.engine)
    conversation_id = await talking(api)
    await block_creator(api)
    payload = await block_shop(api)
    assert (payload["conversation"]["isBlocked"], payload["conversation"]["isBlockedByCreator"]) == (True, True)
    async with unchanged(api.engine):
        # Each side is told of the other's block first: lifting its own would not let the message through.
        blocked_with(await refused(api, SEND_FULL, text_in(conversation_id, "Hi", "k1"), as_="shop:s1"), NOT_ACCEPTING)
        blocked_with(
            await refused(api, SEND_FULL, text_in(conversation_id, "Hi", "r1"), as_="creator:c1"),
            "This shop has blocked you, so you cannot message it.",
        )

    payload = await block_shop(api, document=UNBLOCK_SHOP)
    assert (payload["conversation"]["isBlocked"], payload["conversation"]["isBlockedByCreator"]) == (True, False)
    async with unchanged(api.engine):
        blocked_with(
            await refused(api, SEND_FULL, text_in(conversation_id, "Hi", "k1"), as_="shop:s1"),
            "You have blocked this creator; unblock the creator first.",
        )
        blocked_with(
            await refused(api, SEND_FULL, text_in(conversation_id, "Hi", "r1"), as_="creator:c1"),
            "This shop has blocked you, so you cannot message it.",
        )
    await block_shop(api)
    payload = await block_creator(api, document=UNBLOCK)
    assert (payload["conversation"]["isBlocked"], payload["creator"]["isBlocked"]) == (False, False)
    seller_view = await conversation(api, conversation_id, as_="shop:s1")
    assert seller_view["isBlocked"] is False  # the creator's block is not the shop's
    async with unchanged(api.engine):
        blocked_with(await refused(api, SEND_FULL, text_in(conversation_id, "Hi", "k1"), as_="shop:s1"), NOT_ACCEPTING)
        blocked_with(
            await refused(api, SEND_FULL, text_in(conversation_id, "Hi", "r1"), as_="creator:c1"), UNBLOCK_FIRST
        )
    await block_shop(api, document=UNBLOCK_SHOP)
    await send_ok(api, text_in(conversation_id, "Hi", "k1"), as_="shop:s1")
    await send_ok(api, text_in(conversation_id, "Hi", "r1"), as_="creator:c1")
    seen = await conversation(api, conversation_id, as_="creator:c1")
    assert notices(seen["messages"]["nodes"]) == [
        "CREATOR_BLOCKED",
        "SHOP_BLOCKED",
        "SHOP_UNBLOCKED",
        "SHOP_BLOCKED",
        "CREATOR_UNBLOCKED",
        "SHOP_UNBLOCKED",
    ]


async def test_shop_is_blocked_answers_for_the_viewer_creator(api):
    await build_world(api.engine)
    await talking(api)
    await block_shop(api)
    await block_shop(api, 3, as_="creator:c2")  # a suspended shop can be blocked too
    query = "query($id: ID!) { node(id: $id) { ... on Shop { isBlocked } } }"
    seen = {
        (viewer, shop): (await api.query(query, {"id": gid("Shop", shop)}, as_=viewer))["node"]["isBlocked"]
        for viewer in ("shop:s1", "shop:s2", "creator:c1", "creator:c2")
        for shop in (1, 2, 3)
    }
    assert {key for key, blocked in seen.items() if blocked} == {("creator:c1", 1), ("creator:c2", 3)}
    inbox = """query { conversations { nodes { isBlocked isBlockedByCreator shop { id isBlocked } } } }"""
    (row,) = (await api.query(inbox, as_="creator:c1"))["conversations"]["nodes"]
    assert row == {"isBlocked": False, "isBlockedByCreator": True, "shop": {"id": gid("Shop", 1), "isBlocked": True}}
    (row,) = (await api.query(inbox, as_="shop:s1"))["conversations"]["nodes"]
    assert row == {"isBlocked": False, "isBlockedByCreator": True, "shop": {"id": gid("Shop", 1), "isBlocked": False}}


async def test_only_creators_block_shops(api):
    await build_world(api.engine)
    async with unchanged(api.engine):
        for document in (BLOCK_SHOP, UNBLOCK_SHOP):
            errors = await api.errors(document, shop_input(1), as_="shop:s1")
            assert errors[0]["extensions"]["code"] == "FORBIDDEN"
        payload = await refused(api, BLOCK_SHOP, shop_input(999), as_="creator:c1")
        assert payload["userErrors"] == [
            {"code": "NOT_FOUND", "message": "The shop was not found.", "field": ["input", "shopId"]}
        ]
        errors = await api.errors(BLOCK_SHOP, {"input": {"shopId": gid("Creator", 1)}}, as_="creator:c1")
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_blocked_either_way(api):
    await build_world(api.engine)
    await block_creator(api, 1)
    await block_shop(api, 1, as_="creator:c2")
    async with api.engine.connect() as conn:
        found = {
            pair: bool((await conn.execute(select(blocked_either_way(*pair)))).scalar())
            for pair in ((1, 1), (1, 2), (1, 3), (2, 2))
        }
    assert found == {(1, 1): True, (1, 2): True, (1, 3): False, (2, 2): False}


# A creator's inbox, with both block fields.
CREATOR_INBOX = """
query CreatorInbox($first: Int) {
  conversations(first: $first) { nodes { id isBlocked %s shop { id name %s } lastMessage { id } } }
}"""


async def test_the_block_fields_cost_no_statement_per_row(api):
    """isBlockedByCreator comes with the inbox row (no statement of its own); Shop.isBlocked is one
    batched statement for the whole page."""
    await build_world(api.engine, creators=2)
    for shop in (1, 2):
        await send_ok(api, text_to_shop(shop, "Hello", f"r{shop}"), as_="creator:c1")
    await block_shop(api, 2)

    async def statements(first: int, conversation_field: str, shop_field: str) -> tuple[int, list]:
        with api.count_statements() as seen:
            data = await api.query(CREATOR_INBOX % (conversation_field, shop_field), {"first": first}, as_="creator:c1")
        return len(list(seen)), data["conversations"]["nodes"]

    plain, _ = await statements(1, "", "")
    for first in (1, 2):
        with_flag, rows = await statements(first, "isBlockedByCreator", "")
        assert with_flag == plain
        assert [row["isBlockedByCreator"] for row in rows] == [True, False][:first]
        with_shop, rows = await statements(first, "isBlockedByCreator", "isBlocked")
        assert with_shop == plain + 1
        assert [row["shop"]["isBlocked"] for row in rows] == [True, False][:first]


async def _waiting_for_locks(engine: AsyncEngine, count: int) -> None:
    """Until `count` backends of the database wait for a lock."""
    for _ in range(500):
        async with engine.connect() as conn:
            waiting = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'"
                    )
                )
            ).scalar_one()
        if waiting >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} lock waiters never appeared")


@pytest.mark.parametrize("direction", ["creator_blocks_shop", "shop_blocks_creator"])
async def test_a_send_queued_behind_a_block_is_refused(aiohttp_client, postgres_url, tmp_path, direction):
    """The block's transaction has the conversation's lock and the send waits for it: the send's
    locking read started before the block committed, and still it must not land after it (PostgreSQL:
    SQLite runs one writer at a time)."""
    api = await world_api(aiohttp_client, postgres_url, tmp_path)
    conversation_id = await talking(api)
    if direction == "creator_blocks_shop":
        block, blocker, sender = (BLOCK_SHOP, shop_input(1), "creator:c1"), "creator:c1", "shop:s1"
        expected = NOT_ACCEPTING
    else:
        block, blocker, sender = (BLOCK, creator_input(1), "shop:s1"), "shop:s1", "creator:c1"
        expected = "This shop has blocked you, so you cannot message it."
    holder = create_engine(postgres_url)
    try:
        async with holder.connect() as conn, conn.begin():
            # Hold the conversation's row lock, so the block and then the send queue up for it, in that order.
            await conn.execute(
                text("SELECT id FROM conversation WHERE id = :id FOR UPDATE"), {"id": pk_of(conversation_id)}
            )
            blocking = asyncio.create_task(api.query(block[0], block[1], as_=blocker))
            await _waiting_for_locks(holder, 1)
            sending = asyncio.create_task(send(api, text_in(conversation_id, "Quick!", "k1"), as_=sender))
            await _waiting_for_locks(holder, 2)
        (blocked,) = (await blocking).values()
        assert blocked["userErrors"] == [], blocked
        blocked_with(await sending, expected)
    finally:
        await holder.dispose()
    messages = (await conversation(api, conversation_id, as_="shop:s1"))["messages"]["nodes"]
    assert [m["senderRole"] for m in messages] == ["CREATOR", "SYSTEM"]


async def test_a_first_message_racing_a_block_of_a_pair_without_a_conversation_is_refused(
    aiohttp_client, postgres_url, tmp_path, monkeypatch
):
    """The block found no conversation and has not committed yet when the shop's first message
    comes: that message must wait and be refused (the block came first), not open a conversation
    the committed block never saw. The block is held at that point by wrapping its lookup."""
    api = await world_api(aiohttp_client, postgres_url, tmp_path)
    found, go = asyncio.Event(), asyncio.Event()
    lookup = blocks.lock_pair

    async def held_after_lookup(*args: object) -> object:
        row = await lookup(*args)
        found.set()
        await go.wait()
        return row

    monkeypatch.setattr(blocks, "lock_pair", held_after_lookup)
    holder = create_engine(postgres_url)
    try:
        blocking = asyncio.create_task(api.query(BLOCK_SHOP, shop_input(1), as_="creator:c7"))
        await found.wait()
        sending = asyncio.create_task(send(api, text_to_creator(7, "Hello", "k1"), as_="shop:s1"))
        queued = asyncio.create_task(_waiting_for_locks(holder, 1))
        await asyncio.wait({sending, queued}, return_when=asyncio.FIRST_COMPLETED)
        queued.cancel()
        go.set()
        (blocked,) = (await blocking).values()
        assert blocked["userErrors"] == [] and blocked["conversation"] is None, blocked
        blocked_with(await sending, NOT_ACCEPTING)
    finally:
        await holder.dispose()
    assert await conversation_with(api, 7) is None
