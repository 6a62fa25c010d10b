"""Read receipts (Message.isReadByOtherSide, Conversation.otherSideLastReadAt) and marking many
conversations read (markConversationsRead, markAllConversationsRead), on SQLite and PostgreSQL.
The races are in tests/rules/test_races.py, the receipt across two processes in
tests/live/test_live_processes.py."""

import asyncio
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import bindparam, event, insert, select, text, update

from models.migrate import alembic_config
from models.tables import conversation_t, creator_t, message_t, shop_t, state_t
from models.types import utcnow
from services.content import text_content
from services.conversations import lock_conversation
from services.messages import append_message
from tests.support.app import client_of, make_settings, world_api
from tests.support.gql import (
    BLOCK,
    MARK_ALL_READ,
    MARK_MANY_READ,
    MARK_READ,
    SEND_BULK,
    bulk_input,
    conversation_action,
    gid,
    pk_of,
    say,
    send_ok,
    start,
    text_to_creator,
)
from tests.support.world import build_world, unchanged
from tests.support.ws import TRANSPORT_WS, WSClient

RECEIPTS = """query($id: ID!) { conversation(id: $id) {
  id unreadCount otherSideLastReadAt lastMessage { id isReadByOtherSide }
  messages(last: 100) { nodes { id isMine createdAt isReadByOtherSide } } } }"""
INBOX = """query($folder: InboxFolder) { conversations(folder: $folder, first: 100) { nodes {
  id otherSideLastReadAt lastMessage { id isReadByOtherSide } } } }"""
NODE = """query($id: ID!) { node(id: $id) { ... on Message { id isReadByOtherSide } } }"""
UPDATED = """subscription { conversationUpdated {
  id unreadCount otherSideLastReadAt lastMessage { id isReadByOtherSide } } }"""
ADDED = """subscription($after: String) { messageAdded(after: $after) {
  id isMine isReadByOtherSide content { ... on TextContent { text } } } }"""


async def receipts(api, conversation_id: str, *, as_: str) -> dict:
    return (await api.query(RECEIPTS, {"id": conversation_id}, as_=as_))["conversation"]


def flags(view: dict) -> list:
    """isReadByOtherSide of every message of a `receipts` view, oldest first."""
    return [message["isReadByOtherSide"] for message in view["messages"]["nodes"]]


async def mark(api, conversation_id: str, up_to: str | None = None, *, as_: str) -> dict:
    payload = (
        await api.query(MARK_READ, {"input": {"conversationId": conversation_id, "upToMessageId": up_to}}, as_=as_)
    )["markConversationRead"]
    assert payload["userErrors"] == [], payload
    return payload["conversation"]


async def mark_many(api, ids: list[str], *, as_: str) -> dict:
    return (await api.query(MARK_MANY_READ, {"ids": ids}, as_=as_))["markConversationsRead"]


async def mark_all(api, folder: str | None = None, *, as_: str) -> dict:
    variables = {"folder": folder} if folder else {}
    payload = (await api.query(MARK_ALL_READ, variables, as_=as_))["markAllConversationsRead"]
    assert payload["userErrors"] == [], payload
    return payload


async def live(api, subject: str, query: str, variables: dict | None = None) -> WSClient:
    """A subscription of `subject`, live once this returns."""
    before = api.runtime.broker.subscribers_count()
    client = await WSClient.connect(
        api.http.session, str(api.http.make_url("/graphql")), TRANSPORT_WS, api.token(subject)
    )
    assert await client.acked()
    await client.subscribe(query, variables)
    await api.wait_subscribed(before + 1)
    return client


async def updates(client: WSClient, count: int) -> list[dict]:
    return [(await client.next_payload())["payload"]["data"]["conversationUpdated"] for _ in range(count)]


async def test_receipts_follow_the_other_sides_read_position(api):
    await build_world(api.engine)
    first = await say(api, gid("Creator", 1), "one", as_="shop:s1")
    conversation = first["conversation"]["id"]
    second = await say(api, conversation, "two", as_="shop:s1")
    assert first["message"]["isReadByOtherSide"] is False  # a message just sent is read by no one

    seller = await receipts(api, conversation, as_="shop:s1")
    assert flags(seller) == [False, False] and seller["lastMessage"]["isReadByOtherSide"] is False
    assert seller["otherSideLastReadAt"] is None  # the creator never read anything
    creator = await receipts(api, conversation, as_="creator:c1")
    assert flags(creator) == [None, None]  # only the viewer's own messages have receipts
    assert creator["lastMessage"]["isReadByOtherSide"] is None
    # Sending moved the seller's read position to its own message.
    assert creator["otherSideLastReadAt"] == second["message"]["createdAt"]

    await mark(api, conversation, first["message"]["id"], as_="creator:c1")
    seller = await receipts(api, conversation, as_="shop:s1")
    assert flags(seller) == [True, False] and seller["lastMessage"]["isReadByOtherSide"] is False
    read_at = seller["otherSideLastReadAt"]
    assert datetime.fromisoformat(read_at) >= datetime.fromisoformat(second["message"]["createdAt"])
    # Marking the same or an older message changes nothing, the time included.
    async with unchanged(api.engine):
        await mark(api, conversation, first["message"]["id"], as_="creator:c1")
    assert (await receipts(api, conversation, as_="shop:s1"))["otherSideLastReadAt"] == read_at

    await mark(api, conversation, as_="creator:c1")
    seller = await receipts(api, conversation, as_="shop:s1")
    assert flags(seller) == [True, True] and seller["lastMessage"]["isReadByOtherSide"] is True
    assert datetime.fromisoformat(seller["otherSideLastReadAt"]) > datetime.fromisoformat(read_at)
    async with unchanged(api.engine):
        await mark(api, conversation, first["message"]["id"], as_="creator:c1")
        await mark(api, conversation, as_="creator:c1")

    # The same receipts on every path to a message: the inbox, a node, a retried send.
    (row,) = (await api.query(INBOX, as_="shop:s1"))["conversations"]["nodes"]
    assert row["lastMessage"]["isReadByOtherSide"] is True
    assert row["otherSideLastReadAt"] == seller["otherSideLastReadAt"]
    assert (await api.query(NODE, {"id": first["message"]["id"]}, as_="shop:s1"))["node"]["isReadByOtherSide"] is True
    assert (await api.query(NODE, {"id": first["message"]["id"]}, as_="creator:c1"))["node"][
        "isReadByOtherSide"
    ] is None
    retried = await send_ok(api, text_to_creator(1, "one", first["message"]["clientMessageId"]), as_="shop:s1")
    assert retried["message"]["id"] == first["message"]["id"] and retried["message"]["isReadByOtherSide"] is True


async def test_a_reply_marks_the_senders_side_read_and_the_other_side_sees_it_live(api):
    await build_world(api.engine)
    opened = await say(api, gid("Creator", 1), "Hello", as_="shop:s1")
    conversation = opened["conversation"]["id"]
    seller = await live(api, "shop:s1", UPDATED)
    reply = await say(api, gid("Shop", 1), "Hi!", as_="creator:c1")  # without marking anything read
    (update,) = await updates(seller, 1)
    assert update["otherSideLastReadAt"] == reply["message"]["createdAt"]
    assert update["lastMessage"]["isReadByOtherSide"] is None  # the reply is the creator's
    assert flags(await receipts(api, conversation, as_="shop:s1")) == [True, None]
    # The reply did not read the seller's later messages.
    later = await say(api, conversation, "Great", as_="shop:s1")
    (update,) = await updates(seller, 1)
    assert update["lastMessage"] == {"id": later["message"]["id"], "isReadByOtherSide": False}


async def test_read_moves_reach_the_other_side_and_the_readers_other_tabs(api):
    await build_world(api.engine)
    opened = await say(api, gid("Creator", 1), "Hello", as_="shop:s1")
    conversation = opened["conversation"]["id"]
    seller = await live(api, "shop:s1", UPDATED)
    other_tab = await live(api, "creator:c1", UPDATED)
    await mark(api, conversation, as_="creator:c1")
    (update,) = await updates(seller, 1)
    assert update["lastMessage"]["isReadByOtherSide"] is True and update["otherSideLastReadAt"] is not None
    assert (await updates(other_tab, 1))[0]["unreadCount"] == 0
    # A mark that moves nothing tells no one: after a star (the creator's tab) and a message (both),
    # each stream has exactly those updates.
    await mark(api, conversation, as_="creator:c1")
    await mark_many(api, [conversation], as_="creator:c1")
    await mark_all(api, as_="creator:c1")
    star = conversation_action("starConversation")
    await api.query(star, {"input": {"conversationId": conversation}}, as_="creator:c1")
    again = await say(api, conversation, "Again", as_="shop:s1")
    assert [u["lastMessage"]["id"] for u in await updates(other_tab, 2)] == [
        opened["message"]["id"],
        again["message"]["id"],
    ]
    assert (await updates(seller, 1))[0]["lastMessage"] == {"id": again["message"]["id"], "isReadByOtherSide": False}
    await assert_silent(seller, other_tab)


async def assert_silent(*clients: WSClient) -> None:
    """No stream has another update coming."""
    for client in clients:
        with pytest.raises(TimeoutError):
            await client.next_payload(0.3)


async def test_message_added_shows_receipts_of_replayed_and_live_messages(api):
    await build_world(api.engine)
    anchor = await say(api, gid("Shop", 1), "anchor", as_="creator:c1")
    conversation = anchor["conversation"]["id"]
    read = await say(api, conversation, "read", as_="shop:s1")
    await mark(api, conversation, as_="creator:c1")
    unread = await say(api, conversation, "unread", as_="shop:s1")
    seller = await live(api, "shop:s1", ADDED, {"after": anchor["message"]["id"]})
    replayed = [(await seller.next_payload())["payload"]["data"]["messageAdded"] for _ in range(2)]
    assert [(m["id"], m["isReadByOtherSide"]) for m in replayed] == [
        (read["message"]["id"], True),
        (unread["message"]["id"], False),
    ]
    await say(api, gid("Shop", 1), "theirs", as_="creator:c1")
    theirs = (await seller.next_payload())["payload"]["data"]["messageAdded"]
    assert theirs["isMine"] is False and theirs["isReadByOtherSide"] is None


async def test_bulk_results_show_receipts_of_a_retried_batch(api):
    await build_world(api.engine)
    bulk = SEND_BULK.replace("clientMessageId }", "clientMessageId isReadByOtherSide }")
    sent = (await api.query(bulk, bulk_input([2, 3], "Hello", "batch"), as_="shop:s1"))["sendBulkMessage"]
    assert [r["message"]["isReadByOtherSide"] for r in sent["results"]] == [False, False]
    await say(api, gid("Shop", 1), "Hi", as_="creator:c2")  # c2's reply reads the bulk message
    retried = (await api.query(bulk, bulk_input([2, 3], "Hello", "batch"), as_="shop:s1"))["sendBulkMessage"]
    assert [r["message"]["id"] for r in retried["results"]] == [r["message"]["id"] for r in sent["results"]]
    assert [r["message"]["isReadByOtherSide"] for r in retried["results"]] == [True, False]


async def conversations_with_replies(api, creators, *, shop: int = 1) -> dict[int, str]:
    """A conversation of shop `shop` with each creator, whose reply the seller has not read; ids by creator."""
    ids = {}
    for creator in creators:
        await say(api, gid("Creator", creator), "Hello", as_=f"shop:s{shop}")
        ids[creator] = (await say(api, gid("Shop", shop), "Hi", as_=f"creator:c{creator}"))["conversation"]["id"]
    return ids


async def test_mark_conversations_read_marks_what_the_viewer_sees_and_refuses_the_rest(api):
    await build_world(api.engine)
    ids = await conversations_with_replies(api, (1, 2, 3))
    theirs = (await conversations_with_replies(api, (4,), shop=2))[4]
    opened = (await start(api, 5))["id"]  # no message yet: the creator does not see it
    missing = gid("Conversation", 999)
    payload = await mark_many(api, [ids[2], theirs, missing, ids[1], ids[2]], as_="shop:s1")
    assert payload["conversations"] == [{"id": ids[2], "unreadCount": 0}, {"id": ids[1], "unreadCount": 0}]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("NOT_FOUND", ["input", "conversationIds", "1"]),
        ("NOT_FOUND", ["input", "conversationIds", "2"]),
    ]
    assert (await receipts(api, ids[3], as_="shop:s1"))["unreadCount"] == 1
    for creator in (1, 2):
        assert flags(await receipts(api, ids[creator], as_=f"creator:c{creator}")) == [None, True]
    assert (await receipts(api, theirs, as_="shop:s2"))["unreadCount"] == 1
    refused = await mark_many(api, [opened], as_="creator:c5")
    assert refused["conversations"] == [] and refused["userErrors"][0]["code"] == "NOT_FOUND"

    async with unchanged(api.engine):
        assert await mark_many(api, [], as_="shop:s1") == {"conversations": [], "userErrors": []}
        # More than 100, counted as given: refused whole, even if every id is a good one.
        for given in ([ids[3]] * 101, [ids[3], *[gid("Conversation", n) for n in range(1000, 1100)]]):
            payload = await mark_many(api, given, as_="shop:s1")
            assert payload["conversations"] == [] and [(e["code"], e["field"]) for e in payload["userErrors"]] == [
                ("INVALID_INPUT", ["input", "conversationIds"])
            ], payload
        for bad in ("not an id", gid("Message", 1)):
            errors = await api.errors(MARK_MANY_READ, {"ids": [ids[3], bad]}, as_="shop:s1")
            assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    payload = await mark_many(api, [ids[3]] * 100, as_="shop:s1")
    assert payload == {"conversations": [{"id": ids[3], "unreadCount": 0}], "userErrors": []}


async def test_mark_all_marks_the_folder_as_the_folder_defines_it(api):
    await build_world(api.engine)
    ids = await conversations_with_replies(api, (1, 2, 3, 4, 5))
    star, archive = conversation_action("starConversation"), conversation_action("archiveConversation")
    for creator, action in ((2, star), (3, archive), (4, archive), (4, star)):
        await api.query(action, {"input": {"conversationId": ids[creator]}}, as_="shop:s1")
    await say(api, ids[5], "Answered", as_="shop:s1")  # read by answering: nothing to mark
    creators = {creator: await live(api, f"creator:c{creator}", UPDATED) for creator in (1, 2, 3, 4)}

    starred = await mark_all(api, "STARRED", as_="shop:s1")  # starred ones, archived or not
    assert starred["markedCount"] == 2
    assert starred["inboxCounts"] == {"all": 3, "unread": 1, "unreplied": 2, "starred": 2, "archived": 2}
    for creator in (2, 4):
        (update,) = await updates(creators[creator], 1)
        assert update["id"] == ids[creator] and update["otherSideLastReadAt"] is not None
    everything = await mark_all(api, as_="shop:s1")  # ALL leaves archived ones alone
    assert everything["markedCount"] == 1 and everything["inboxCounts"]["unread"] == 0
    assert (await receipts(api, ids[3], as_="shop:s1"))["unreadCount"] == 1
    archived = await mark_all(api, "ARCHIVED", as_="shop:s1")
    assert archived["markedCount"] == 1
    # c1 and c3 heard of their own conversation only, and only once it was marked.
    for creator in (1, 3):
        (update,) = await updates(creators[creator], 1)
        assert update["id"] == ids[creator] and update["otherSideLastReadAt"] is not None
    await assert_silent(*creators.values())
    for creator in ids:
        assert (await receipts(api, ids[creator], as_="shop:s1"))["unreadCount"] == 0
    async with unchanged(api.engine):
        for folder in ("ALL", "UNREAD", "UNREPLIED", "STARRED", "ARCHIVED"):
            assert (await mark_all(api, folder, as_="shop:s1"))["markedCount"] == 0


async def test_mark_all_counts_conversations_with_unread_messages_only(api):
    """A side behind only by a notice moves (its other side sees when), but it had nothing unread."""
    await build_world(api.engine)
    ids = {shop: (await conversations_with_replies(api, (1,), shop=shop))[1] for shop in (1, 2)}
    await say(api, ids[1], "Welcome", as_="shop:s1")  # unread for c1
    blocked = (await api.query(BLOCK, {"input": {"creatorId": gid("Creator", 1)}}, as_="shop:s2"))["blockCreator"]
    assert blocked["userErrors"] == [] and blocked["conversation"]["lastMessage"]["senderRole"] == "SYSTEM"
    shops = {shop: await live(api, f"shop:s{shop}", UPDATED) for shop in (1, 2)}
    payload = await mark_all(api, as_="creator:c1")
    assert payload["markedCount"] == 1 and payload["inboxCounts"]["unread"] == 0
    for shop, client in shops.items():
        (update,) = await updates(client, 1)
        assert update["id"] == ids[shop] and update["otherSideLastReadAt"] is not None
    assert (await updates(shops[1], 0)) == [] and (await receipts(api, ids[1], as_="shop:s1"))["lastMessage"][
        "isReadByOtherSide"
    ] is True


async def test_a_tab_hears_of_every_conversation_marked_without_falling_behind(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path, subscription_queue_size=4)
    await seed_unread_inbox(api.engine, range(1, 13))
    other_tab = await live(api, "shop:s1", UPDATED)
    assert (await mark_all(api, as_="shop:s1"))["markedCount"] == 12
    seen = await updates(other_tab, 12)
    assert len({update["id"] for update in seen}) == 12 and {update["unreadCount"] for update in seen} == {0}


async def test_migration_0003_dates_existing_read_positions_by_the_message_read(engine, database_url):
    await build_world(engine)
    created = utcnow().replace(microsecond=0)
    async with engine.begin() as conn:
        conversation = (
            await conn.execute(
                insert(conversation_t).returning(conversation_t.c.id),
                dict(
                    shop_id=1,
                    creator_id=1,
                    entrance="CREATOR_INITIATED",
                    created_at=created,
                    last_activity_at=created,
                    creator_has_replied=True,
                    seller_message_count=0,
                ),
            )
        ).scalar_one()
        message = (
            await conn.execute(
                insert(message_t).returning(message_t.c.id),
                dict(conversation_id=conversation, sender_role="CREATOR", kind="TEXT", text="Hi", created_at=created),
            )
        ).scalar()
        await conn.execute(
            insert(state_t),
            [
                dict(
                    conversation_id=conversation,
                    side="SELLER",
                    owner_id=1,
                    creator_id=1,
                    visible=True,
                    starred=False,
                    archived=False,
                    last_read_message_id=0,
                    unread_count=1,
                    unreplied=True,
                    last_activity_at=created,
                ),
                dict(
                    conversation_id=conversation,
                    side="CREATOR",
                    owner_id=1,
                    creator_id=1,
                    visible=True,
                    starred=False,
                    archived=False,
                    last_read_message_id=message,
                    unread_count=0,
                    unreplied=False,
                    last_activity_at=created,
                ),
            ],
        )
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0002")
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "0003")
    await engine.dispose()  # pooled connections cached statements of the altered table
    async with engine.connect() as conn:
        read_at = dict((await conn.execute(select(state_t.c.side, state_t.c.last_read_at))).all())
    assert read_at == {"SELLER": None, "CREATOR": created}


async def test_the_read_time_never_goes_back(api):
    """A move forward keeps a later read time already there (a racing mark that read its clock later,
    or another server's clock ahead): otherSideLastReadAt only grows."""
    await build_world(api.engine)
    conversation = (await say(api, gid("Creator", 1), "Hello", as_="shop:s1"))["conversation"]["id"]
    ahead = utcnow().replace(microsecond=0) + timedelta(hours=1)
    async with api.engine.begin() as conn:
        await conn.execute(update(state_t).where(state_t.c.side == "CREATOR").values(last_read_at=ahead))
    for act in ("mark", "mark many", "mark all", "reply"):
        await say(api, conversation, f"Before the {act}", as_="shop:s1")
        if act == "mark":
            await mark(api, conversation, as_="creator:c1")
        elif act == "mark many":
            await mark_many(api, [conversation], as_="creator:c1")
        elif act == "mark all":
            await mark_all(api, as_="creator:c1")
        else:
            await say(api, gid("Shop", 1), "Thanks", as_="creator:c1")
        seller = await receipts(api, conversation, as_="shop:s1")
        assert set(flags(seller)) - {None} == {True}, act  # the position moved
        assert datetime.fromisoformat(seller["otherSideLastReadAt"]) == ahead, act


MARKS = {
    "markConversationRead": (MARK_READ, lambda conversation: {"input": {"conversationId": conversation}}),
    "markConversationsRead": (MARK_MANY_READ, lambda conversation: {"ids": [conversation]}),
    "markAllConversationsRead": (MARK_ALL_READ, lambda conversation: {}),
}


@pytest.mark.parametrize("name", list(MARKS))
async def test_a_mark_waiting_for_a_send_marks_its_message_too(api, name):
    """A message arrives while the seller marks the chat read: the mark waits for it (the conversation
    is locked), then reads up to it. Never the old position with the new message counted read."""
    await build_world(api.engine)
    opened = await say(api, gid("Creator", 1), "Hello", as_="shop:s1")
    conversation = opened["conversation"]["id"]
    await say(api, gid("Shop", 1), "Hi", as_="creator:c1")  # unread for the seller
    document, variables = MARKS[name]
    async with api.engine.begin() as conn:  # a send by the creator, not committed yet
        locked = await lock_conversation(conn, pk_of(conversation))
        await append_message(conn, locked, "CREATOR", text_content("Late"), sender_key="creator:1")
        mark_task = asyncio.create_task(api.query(document, variables(conversation), as_="shop:s1"))
        await asyncio.sleep(0.5)
        assert not mark_task.done()  # waiting for the send's transaction
    (payload,) = (await mark_task).values()
    assert payload["userErrors"] == [], payload
    assert (await receipts(api, conversation, as_="shop:s1"))["unreadCount"] == 0
    assert flags(await receipts(api, conversation, as_="creator:c1")) == [None, True, True]


# --- Statement counts: a fixed number, whatever the number of conversations --------------------


async def seed_unread_inbox(engine, creators, shop: str = "s1") -> list[int]:
    """A conversation of `shop` with each of `creators` (numbers), each with one message from the
    creator that the seller has not read; written directly, for inboxes of thousands. Their ids."""
    now = utcnow()
    async with engine.begin() as conn:
        shop_pk = (await conn.execute(select(shop_t.c.id).where(shop_t.c.platform_id == shop))).scalar_one()
        platform_ids = [f"c{n}" for n in creators]
        by_platform = dict(
            (
                await conn.execute(
                    select(creator_t.c.platform_id, creator_t.c.id).where(creator_t.c.platform_id.in_(platform_ids))
                )
            ).all()
        )
        creator_pks = [by_platform[platform_id] for platform_id in platform_ids]
        conversations = (
            (
                await conn.execute(
                    insert(conversation_t).returning(conversation_t.c.id, sort_by_parameter_order=True),
                    [
                        dict(
                            shop_id=shop_pk,
                            creator_id=creator,
                            entrance="CREATOR_INITIATED",
                            created_at=now,
                            last_activity_at=now,
                            creator_has_replied=True,
                            seller_message_count=0,
                        )
                        for creator in creator_pks
                    ],
                )
            )
            .scalars()
            .all()
        )
        messages = (
            (
                await conn.execute(
                    insert(message_t).returning(message_t.c.id, sort_by_parameter_order=True),
                    [
                        dict(
                            conversation_id=conversation, sender_role="CREATOR", kind="TEXT", text="Hi", created_at=now
                        )
                        for conversation in conversations
                    ],
                )
            )
            .scalars()
            .all()
        )
        await conn.execute(
            update(conversation_t)
            .where(conversation_t.c.id == bindparam("key"))
            .values(last_message_id=bindparam("message")),
            [
                {"key": conversation, "message": message}
                for conversation, message in zip(conversations, messages, strict=True)
            ],
        )
        common = dict(visible=True, starred=False, archived=False, last_activity_at=now)
        await conn.execute(
            insert(state_t),
            [
                row
                for conversation, creator, message in zip(conversations, creator_pks, messages, strict=True)
                for row in (
                    dict(
                        conversation_id=conversation,
                        side="SELLER",
                        owner_id=shop_pk,
                        creator_id=creator,
                        last_read_message_id=0,
                        unread_count=1,
                        unreplied=True,
                        **common,
                    ),
                    dict(
                        conversation_id=conversation,
                        side="CREATOR",
                        owner_id=creator,
                        creator_id=creator,
                        last_read_message_id=message,
                        unread_count=0,
                        unreplied=False,
                        last_read_at=now,
                        **common,
                    ),
                )
            ],
        )
    return list(conversations)


async def mark_all_statements(api, as_: str) -> tuple[list[str], dict]:
    with api.count_statements() as statements:
        payload = await mark_all(api, as_=as_)
    return list(statements), payload


async def test_mark_all_runs_a_fixed_number_of_statements(aiohttp_client, database_url, tmp_path):
    api = await world_api(aiohttp_client, database_url, tmp_path)
    await build_world(api.engine, creators=300)
    await seed_unread_inbox(api.engine, range(1, 11), shop="s1")
    await seed_unread_inbox(api.engine, range(1, 301), shop="s2")
    few, few_payload = await mark_all_statements(api, "shop:s1")
    many, many_payload = await mark_all_statements(api, "shop:s2")
    assert (few_payload["markedCount"], many_payload["markedCount"]) == (10, 300)
    # The seller's shop status, the mark (one statement on PostgreSQL; a read and a write on SQLite), the counts.
    expected = 3 if api.engine.dialect.name == "postgresql" else 4
    assert len(few) == len(many) == expected, "\n".join(many)


async def test_mark_all_of_5000_conversations_on_postgresql(aiohttp_client, postgres_url, tmp_path):
    conversations = 5000
    api = await client_of(aiohttp_client, make_settings(postgres_url, tmp_path))
    await build_world(api.engine, creators=conversations)
    await seed_unread_inbox(api.engine, range(1, conversations + 1))
    async with api.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    creator = await live(api, "creator:c4321", UPDATED)
    with api.count_statements() as statements, statement_times(api.engine) as times:
        started = time.perf_counter()
        payload = await mark_all(api, as_="shop:s1")
        elapsed = time.perf_counter() - started
    assert payload["markedCount"] == conversations and payload["inboxCounts"]["unread"] == 0
    assert len(statements) == 3, "\n".join(statements)
    (update,) = await updates(creator, 1)
    assert update["lastMessage"]["isReadByOtherSide"] is True and update["otherSideLastReadAt"] is not None
    # The time is the machine's (the bench measures it, docs/performance.md has the figures): shown, not asserted.
    print(
        f"markAllConversationsRead of {conversations:,} conversations on PostgreSQL: the mark statement "
        f"{max(times) * 1000:.1f} ms, the mutation {elapsed * 1000:.1f} ms (events to {conversations:,} creators)"
    )


@contextmanager
def statement_times(engine):
    """The duration of each SQL statement run inside the block, in seconds."""
    times: list[float] = []
    starts: list[float] = []

    def before(*_args):
        starts.append(time.perf_counter())

    def after(*_args):
        times.append(time.perf_counter() - starts.pop())

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    try:
        yield times
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)
        event.remove(engine.sync_engine, "after_cursor_execute", after)
