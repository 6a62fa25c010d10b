"""Folders from the viewer's side: star, archive, read position, unread counts."""

from tests.support.gql import (
    MARK_READ,
    act,
    conversation,
    conversation_action,
    counts,
    folder_ids,
    gid,
    mark_read,
    refused,
    send_ok,
    start,
    text_to_creator,
    text_to_shop,
)
from tests.support.world import build_world, unchanged


async def chat(api) -> str:
    """A conversation s1-c1 with a message from each side; its id."""
    sent = await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    await send_ok(api, text_to_shop(1, "Hi", "r1"), as_="creator:c1")
    return sent["conversation"]["id"]


async def test_star_and_unstar_act_on_the_viewers_side_only(api):
    await build_world(api.engine)
    conversation_id = await chat(api)
    assert (await act(api, "starConversation", conversation_id, as_="shop:s1"))["isStarred"] is True
    async with unchanged(api.engine):
        assert (await act(api, "starConversation", conversation_id, as_="shop:s1"))["isStarred"] is True
    assert await folder_ids(api, "STARRED", as_="shop:s1") == {conversation_id}
    assert await folder_ids(api, "STARRED", as_="creator:c1") == set()
    assert (await conversation(api, conversation_id, as_="creator:c1"))["isStarred"] is False
    assert (await counts(api, as_="shop:s1"))["starred"] == 1

    assert (await act(api, "starConversation", conversation_id, as_="creator:c1"))["isStarred"] is True
    assert (await act(api, "unstarConversation", conversation_id, as_="shop:s1"))["isStarred"] is False
    async with unchanged(api.engine):
        assert (await act(api, "unstarConversation", conversation_id, as_="shop:s1"))["isStarred"] is False
    assert await folder_ids(api, "STARRED", as_="shop:s1") == set()
    assert await folder_ids(api, "STARRED", as_="creator:c1") == {conversation_id}


async def test_archive_and_unarchive_act_on_the_viewers_side_only(api):
    await build_world(api.engine)
    conversation_id = await chat(api)
    await act(api, "starConversation", conversation_id, as_="shop:s1")
    archived = await act(api, "archiveConversation", conversation_id, as_="shop:s1")
    assert archived["isArchived"] is True
    async with unchanged(api.engine):
        assert (await act(api, "archiveConversation", conversation_id, as_="shop:s1"))["isArchived"] is True
    assert await folder_ids(api, "ARCHIVED", as_="shop:s1") == {conversation_id}
    assert await folder_ids(api, "ALL", as_="shop:s1") == set()
    assert await folder_ids(api, "UNREPLIED", as_="shop:s1") == set()
    assert await folder_ids(api, "STARRED", as_="shop:s1") == {conversation_id}  # archived or not
    assert await folder_ids(api, "ALL", as_="creator:c1") == {conversation_id}
    assert await folder_ids(api, "ARCHIVED", as_="creator:c1") == set()
    assert (await counts(api, as_="shop:s1")) == {"all": 0, "unread": 0, "unreplied": 0, "starred": 1, "archived": 1}

    assert (await act(api, "unarchiveConversation", conversation_id, as_="shop:s1"))["isArchived"] is False
    async with unchanged(api.engine):
        assert (await act(api, "unarchiveConversation", conversation_id, as_="shop:s1"))["isArchived"] is False
    assert await folder_ids(api, "ALL", as_="shop:s1") == {conversation_id}
    assert await folder_ids(api, "ARCHIVED", as_="shop:s1") == set()


async def test_a_message_from_the_other_side_moves_the_conversation_out_of_archived(api):
    await build_world(api.engine)
    conversation_id = await chat(api)
    await act(api, "archiveConversation", conversation_id, as_="shop:s1")
    await act(api, "archiveConversation", conversation_id, as_="creator:c1")
    # The viewer's own message keeps it archived on the viewer's side...
    await send_ok(api, text_to_creator(1, "One more thing", "k2"), as_="shop:s1")
    assert await folder_ids(api, "ARCHIVED", as_="shop:s1") == {conversation_id}
    # ...and brings it back for the other side.
    assert await folder_ids(api, "ARCHIVED", as_="creator:c1") == set()
    assert await folder_ids(api, "UNREAD", as_="creator:c1") == {conversation_id}

    await send_ok(api, text_to_shop(1, "Sure", "r2"), as_="creator:c1")
    seen = await conversation(api, conversation_id, as_="shop:s1")
    assert seen["isArchived"] is False and seen["isUnreplied"] is True and seen["unreadCount"] == 1
    assert await folder_ids(api, "ALL", as_="shop:s1") == {conversation_id}
    assert await folder_ids(api, "UNREAD", as_="shop:s1") == {conversation_id}
    assert await folder_ids(api, "UNREPLIED", as_="shop:s1") == {conversation_id}


async def test_unread_count_and_the_read_position_only_moves_forward(api):
    await build_world(api.engine)
    ids = []
    for i in range(3):
        ids.append((await send_ok(api, text_to_creator(1, f"Message {i}", f"k{i}"), as_="shop:s1"))["message"]["id"])
    conversation_id = (await conversation(api, gid("Conversation", 1), as_="shop:s1"))["id"]
    assert (await conversation(api, conversation_id, as_="shop:s1"))["unreadCount"] == 0  # own messages
    assert (await conversation(api, conversation_id, as_="creator:c1"))["unreadCount"] == 3
    assert (await counts(api, as_="creator:c1"))["unread"] == 1

    assert (await mark_read(api, conversation_id, ids[1], as_="creator:c1"))["unreadCount"] == 1
    async with unchanged(api.engine):
        assert (await mark_read(api, conversation_id, ids[0], as_="creator:c1"))["unreadCount"] == 1
        assert (await mark_read(api, conversation_id, ids[1], as_="creator:c1"))["unreadCount"] == 1
    assert await folder_ids(api, "UNREAD", as_="creator:c1") == {conversation_id}
    assert (await mark_read(api, conversation_id, as_="creator:c1"))["unreadCount"] == 0
    async with unchanged(api.engine):
        assert (await mark_read(api, conversation_id, as_="creator:c1"))["unreadCount"] == 0
        assert (await mark_read(api, conversation_id, ids[0], as_="creator:c1"))["unreadCount"] == 0
    assert await folder_ids(api, "UNREAD", as_="creator:c1") == set()
    assert (await counts(api, as_="creator:c1"))["unread"] == 0
    # Reading is the viewer's own: the seller's side did not change.
    assert (await conversation(api, conversation_id, as_="shop:s1"))["unreadCount"] == 0

    reply = await send_ok(api, text_to_shop(1, "Got them", "r1"), as_="creator:c1")
    assert reply["conversation"]["unreadCount"] == 0  # the sender has read up to its own message
    assert (await conversation(api, conversation_id, as_="shop:s1"))["unreadCount"] == 1
    await send_ok(api, text_to_creator(1, "Great", "k9"), as_="shop:s1")
    assert (await conversation(api, conversation_id, as_="shop:s1"))["unreadCount"] == 0


async def test_folder_actions_on_a_conversation_the_viewer_cannot_see(api):
    await build_world(api.engine)
    theirs = (await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s2"))["conversation"]["id"]
    opened = (await start(api, 2, "FIND_CREATORS"))["id"]  # not visible to c2 before a message
    message_elsewhere = (await send_ok(api, text_to_creator(3, "Hello", "k3"), as_="shop:s1"))["message"]["id"]
    async with unchanged(api.engine):
        for name in ("starConversation", "archiveConversation"):
            for conversation_id, viewer in ((theirs, "shop:s1"), (theirs, "creator:c2"), (opened, "creator:c2")):
                payload = await refused(
                    api, conversation_action(name), {"input": {"conversationId": conversation_id}}, as_=viewer
                )
                assert payload["userErrors"][0]["code"] == "NOT_FOUND", payload
        payload = await refused(
            api, MARK_READ, {"input": {"conversationId": opened, "upToMessageId": message_elsewhere}}, as_="shop:s1"
        )
        assert payload["userErrors"][0]["code"] == "NOT_FOUND"
        assert payload["userErrors"][0]["field"] == ["input", "upToMessageId"]
