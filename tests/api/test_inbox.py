"""The read side of the inbox: viewer, node, folders, filters, pages, counts and messages."""

from datetime import datetime
from decimal import Decimal

from resolvers.ids import encode_cursor
from tests.support.gql import (
    BLOCK,
    COUNTS,
    INBOX,
    act,
    all_pages,
    counts,
    creator_input,
    gid,
    mark_read,
    pk_of,
    request_sample,
    say,
    start,
)
from tests.support.world import build_world, creators_matching

FOLDERS = ("ALL", "UNREAD", "UNREPLIED", "STARRED", "ARCHIVED")

VIEWER = """query { viewer {
  role
  shop { id platformId name status affiliateGmv30d }
  creator { id platformId handle displayName followerCount mainCategory gmv30d }
} }"""

NODE = """query($id: ID!) { node(id: $id) {
  __typename id
  ... on Shop { platformId name status }
  ... on Creator { platformId handle }
  ... on Product { platformId title price currency shop { platformId } }
  ... on Conversation { entrance creator { handle } shop { platformId } lastMessage { id } }
  ... on Message { senderRole isMine conversation { id } content { ... on TextContent { text } } }
  ... on SampleRequest { sampleStatus: status note product { platformId } creator { handle } shop { platformId }
                         conversation { id } }
  ... on TargetCollaboration { name commissionRate collaborationStatus: status products { platformId }
                               shop { platformId } }
} }"""

MESSAGES = """
query Messages($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  conversation(id: $id) {
    lastMessage { id }
    messages(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { id senderRole isMine createdAt content { ... on TextContent { text } } } }
      nodes { id }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}"""

CONVERSATION_STATE = """query($id: ID!) { conversation(id: $id) {
  id entrance createdAt lastActivityAt unreadCount isStarred isArchived isUnreplied isBlocked
  creatorHasReplied messagesRemainingBeforeReply lastMessage { id senderRole isMine }
} }"""


def platform_id(conversation: dict) -> str:
    """The creator's platform id of an INBOX row ("creator7" is c7)."""
    return conversation["creator"]["handle"].replace("creator", "c")


def newest_first(nodes: list[dict]) -> None:
    """The inbox order: lastActivityAt descending, then id descending."""
    keys = [(datetime.fromisoformat(node["lastActivityAt"]), pk_of(node["id"])) for node in nodes]
    assert keys == sorted(keys, reverse=True), keys
    assert len(set(keys)) == len(keys), keys


async def inbox(api, *, as_: str, folder: str = "ALL", filter: dict | None = None, first: int = 100) -> list:
    data = await api.query(INBOX, {"folder": folder, "filter": filter, "first": first}, as_=as_)
    nodes = [edge["node"] for edge in data["conversations"]["edges"]]
    newest_first(nodes)
    return nodes


async def folders(api, *, as_: str, names: dict[str, str]) -> dict[str, list[str]]:
    """Each folder as a list of conversation labels, newest first; the badge counts must agree."""
    found = {}
    for folder in FOLDERS:
        found[folder] = [names[node["id"]] for node in await inbox(api, as_=as_, folder=folder)]
    assert await counts(api, as_=as_) == {folder.lower(): len(found[folder]) for folder in FOLDERS}, found
    return found


async def state(api, conversation_id: str, *, as_: str) -> dict | None:
    return (await api.query(CONVERSATION_STATE, {"id": conversation_id}, as_=as_))["conversation"]


async def test_viewer_and_node_of_every_type_and_typed_ids(api):
    await build_world(api.engine)
    seller = (await api.query(VIEWER, as_="shop:s2"))["viewer"]
    assert seller == {
        "role": "SELLER",
        "creator": None,
        "shop": {
            "id": gid("Shop", 2),
            "platformId": "s2",
            "name": "Trail Gear",
            "status": "ACTIVE",
            "affiliateGmv30d": "50000.00",
        },
    }
    creator = (await api.query(VIEWER, as_="creator:c7"))["viewer"]
    assert creator == {
        "role": "CREATOR",
        "shop": None,
        "creator": {
            "id": gid("Creator", 7),
            "platformId": "c7",
            "handle": "creator7",
            "displayName": "Creator Number 7",
            "followerCount": 7000,
            "mainCategory": "Food",
            "gmv30d": "700.00",
        },
    }

    sent = await say(api, gid("Creator", 1), "Hello creator", as_="shop:s1")
    conversation_id, message_id = sent["conversation"]["id"], sent["message"]["id"]
    sample = await request_sample(api, 2, "sample-1", "For a review", as_="creator:c1")
    collaboration = (
        await api.query(
            """mutation($products: [ID!]!) { createTargetCollaboration(input: {name: "Spring", productIds: $products,
           commissionRate: "0.15"}) { collaboration { id } userErrors { code } } }""",
            {"products": [gid("Product", 3), gid("Product", 1)]},
            as_="shop:s1",
        )
    )["createTargetCollaboration"]
    assert collaboration["userErrors"] == []
    collaboration_id = collaboration["collaboration"]["id"]

    async def node(global_id):
        return (await api.query(NODE, {"id": global_id}, as_="shop:s1"))["node"]

    assert await node(gid("Shop", 1)) == {
        "__typename": "Shop",
        "id": gid("Shop", 1),
        "platformId": "s1",
        "name": "Glow Lab",
        "status": "ACTIVE",
    }
    assert await node(gid("Creator", 3)) == {
        "__typename": "Creator",
        "id": gid("Creator", 3),
        "platformId": "c3",
        "handle": "creator3",
    }
    assert await node(gid("Product", 4)) == {
        "__typename": "Product",
        "id": gid("Product", 4),
        "platformId": "p4",
        "title": "Tent",
        "price": "199.00",
        "currency": "USD",
        "shop": {"platformId": "s2"},
    }
    conversation = await node(conversation_id)
    assert conversation["__typename"] == "Conversation" and conversation["id"] == conversation_id
    assert conversation["creator"] == {"handle": "creator1"} and conversation["shop"] == {"platformId": "s1"}
    assert conversation["entrance"] == "CREATOR_MESSAGES"
    assert await node(message_id) == {
        "__typename": "Message",
        "id": message_id,
        "senderRole": "SELLER",
        "isMine": True,
        "conversation": {"id": conversation_id},
        "content": {"text": "Hello creator"},
    }
    assert await node(sample["id"]) == {
        "__typename": "SampleRequest",
        "id": sample["id"],
        "sampleStatus": "PENDING",
        "note": "For a review",
        "product": {"platformId": "p2"},
        "creator": {"handle": "creator1"},
        "shop": {"platformId": "s1"},
        "conversation": {"id": conversation_id},
    }
    found = await node(collaboration_id)
    assert Decimal(found.pop("commissionRate")) == Decimal("0.15")
    assert found == {
        "__typename": "TargetCollaboration",
        "id": collaboration_id,
        "name": "Spring",
        "collaborationStatus": "ACTIVE",
        "products": [{"platformId": "p3"}, {"platformId": "p1"}],
        "shop": {"platformId": "s1"},
    }
    # The sample request card is the conversation's newest message.
    assert conversation["lastMessage"]["id"] != message_id

    # Well-formed ids of rows that do not exist are null, for every type.
    for type_name in ("Shop", "Creator", "Product", "Conversation", "Message", "SampleRequest", "TargetCollaboration"):
        assert await node(gid(type_name, 999)) is None, type_name
    assert (
        await api.query(
            "query($id: ID!) { conversation(id: $id) { id } }", {"id": gid("Conversation", 999)}, as_="shop:s1"
        )
    )["conversation"] is None
    assert (await api.query("query($id: ID!) { creator(id: $id) { id } }", {"id": gid("Creator", 999)}, as_="shop:s1"))[
        "creator"
    ] is None

    # IDs are typed: the id of another type is a user error, never a row.
    for document, wrong_id in (
        ("query($id: ID!) { conversation(id: $id) { id } }", gid("Creator", 1)),
        ("query($id: ID!) { conversation(id: $id) { id } }", message_id),
        ("query($id: ID!) { creator(id: $id) { id } }", conversation_id),
        ("query($id: ID!) { creator(id: $id) { id } }", gid("Shop", 1)),
        ("query($id: ID!) { node(id: $id) { id } }", gid("Viewer", 1)),
    ):
        errors = await api.errors(document, {"id": wrong_id}, as_="shop:s1")
        assert [error["extensions"]["code"] for error in errors] == ["BAD_USER_INPUT"], errors


async def test_seller_folders(api):
    await build_world(api.engine)
    seller, names, ids = "shop:s1", {}, {}

    async def opened(label, creator, text):
        sent = await say(api, gid("Creator", creator), text, as_=seller)
        ids[label] = sent["conversation"]["id"]
        names[ids[label]] = label

    await opened("A", 1, "hi 1")
    await say(api, gid("Shop", 1), "reply 1", as_="creator:c1")
    await opened("B", 2, "hi 2")
    await opened("C", 3, "hi 3")
    await say(api, gid("Shop", 1), "reply 3", as_="creator:c3")
    await mark_read(api, ids["C"], as_=seller)
    await opened("D", 4, "hi 4")
    await say(api, gid("Shop", 1), "reply 4", as_="creator:c4")
    await act(api, "archiveConversation", ids["D"], as_=seller)
    await opened("E", 5, "hi 5")
    await act(api, "starConversation", ids["E"], as_=seller)
    await act(api, "archiveConversation", ids["E"], as_=seller)
    await opened("F", 6, "hi 6")
    await act(api, "archiveConversation", ids["F"], as_=seller)
    found = await folders(api, as_=seller, names=names)
    assert found["ARCHIVED"] == ["F", "E", "D"], found
    await say(api, gid("Shop", 1), "back 6", as_="creator:c6")  # the creator's message un-archives F
    ids["G"] = (await start(api, 7, "FIND_CREATORS", as_=seller))["id"]
    names[ids["G"]] = "G"
    # A block notice is the newest message of A, but a SYSTEM message is neither unread nor a reply.
    blocked = await api.query(BLOCK, creator_input(1), as_=seller)
    assert blocked["blockCreator"]["userErrors"] == [], blocked
    await act(api, "starConversation", ids["B"], as_=seller)

    assert await folders(api, as_=seller, names=names) == {
        "ALL": ["A", "G", "F", "C", "B"],
        "UNREAD": ["A", "F"],
        "UNREPLIED": ["A", "F", "C"],
        "STARRED": ["E", "B"],
        "ARCHIVED": ["E", "D"],
    }
    rows = {names[node["id"]]: node for folder in FOLDERS for node in await inbox(api, as_=seller, folder=folder)}
    flags = {
        label: (row["unreadCount"], row["isStarred"], row["isArchived"], row["isUnreplied"], row["isBlocked"])
        for label, row in rows.items()
    }
    assert flags == {
        "A": (1, False, False, True, True),
        "B": (0, True, False, False, False),
        "C": (0, False, False, True, False),
        "D": (1, False, True, True, False),
        "E": (0, True, True, False, False),
        "F": (1, False, False, True, False),
        "G": (0, False, False, False, False),
    }
    assert rows["A"]["lastMessage"]["senderRole"] == "SYSTEM"
    assert rows["A"]["lastMessage"]["content"]["__typename"] == "SystemNotice"
    assert rows["G"]["lastMessage"] is None and rows["G"]["entrance"] == "FIND_CREATORS"
    assert rows["F"]["lastMessage"]["content"] == {"__typename": "TextContent", "text": "back 6"}

    # Each side has its own folders: the seller's star, archive and read position are not the creator's.
    creator_view = {f"c{n}": await inbox(api, as_=f"creator:c{n}") for n in (1, 2, 4, 5, 7)}
    assert [row["id"] for row in creator_view["c5"]] == [ids["E"]]
    assert (creator_view["c5"][0]["isStarred"], creator_view["c5"][0]["isArchived"]) == (False, False)
    assert creator_view["c4"][0]["isArchived"] is False and creator_view["c4"][0]["isUnreplied"] is False
    assert creator_view["c2"][0]["unreadCount"] == 1 and creator_view["c2"][0]["isUnreplied"] is True
    assert creator_view["c1"][0]["unreadCount"] == 0 and creator_view["c1"][0]["isUnreplied"] is False
    assert creator_view["c1"][0]["isBlocked"] is True
    assert creator_view["c7"] == []

    # Unarchiving and unstarring bring the folders back.
    await act(api, "unarchiveConversation", ids["D"], as_=seller)
    await act(api, "unstarConversation", ids["E"], as_=seller)
    found = await folders(api, as_=seller, names=names)
    assert found["ALL"] == ["A", "G", "F", "D", "C", "B"] and found["UNREAD"] == ["A", "F", "D"]
    assert found["STARRED"] == ["B"] and found["ARCHIVED"] == ["E"]


async def test_creator_folders_and_unsent_conversations(api):
    await build_world(api.engine)
    creator, names = "creator:c1", {}
    x = (await say(api, gid("Creator", 1), "hello from s1", as_="shop:s1"))["conversation"]["id"]
    y = (await say(api, gid("Creator", 1), "hello from s2", as_="shop:s2"))["conversation"]["id"]
    names.update({x: "X", y: "Y"})
    assert await folders(api, as_=creator, names=names) == {
        "ALL": ["Y", "X"],
        "UNREAD": ["Y", "X"],
        "UNREPLIED": ["Y", "X"],
        "STARRED": [],
        "ARCHIVED": [],
    }

    await say(api, gid("Shop", 1), "reply to s1", as_=creator)
    await act(api, "starConversation", y, as_=creator)
    await act(api, "archiveConversation", x, as_=creator)
    assert await folders(api, as_=creator, names=names) == {
        "ALL": ["Y"],
        "UNREAD": ["Y"],
        "UNREPLIED": ["Y"],
        "STARRED": ["Y"],
        "ARCHIVED": ["X"],
    }

    await act(api, "archiveConversation", y, as_=creator)
    assert await folders(api, as_=creator, names=names) == {
        "ALL": [],
        "UNREAD": [],
        "UNREPLIED": [],
        "STARRED": ["Y"],
        "ARCHIVED": ["X", "Y"],
    }

    # The shop writes again: X leaves ARCHIVED on the creator's side; Y stays there.
    await say(api, x, "news", as_="shop:s1")
    assert await folders(api, as_=creator, names=names) == {
        "ALL": ["X"],
        "UNREAD": ["X"],
        "UNREPLIED": ["X"],
        "STARRED": ["Y"],
        "ARCHIVED": ["Y"],
    }
    await mark_read(api, x, as_=creator)
    assert await folders(api, as_=creator, names=names) == {
        "ALL": ["X"],
        "UNREAD": [],
        "UNREPLIED": ["X"],
        "STARRED": ["Y"],
        "ARCHIVED": ["Y"],
    }

    # The creator's archive and star never show on the shops' side.
    for shop, conversation_id in (("shop:s1", x), ("shop:s2", y)):
        rows = await inbox(api, as_=shop)
        assert [row["id"] for row in rows] == [conversation_id]
        assert (rows[0]["isStarred"], rows[0]["isArchived"]) == (False, False)
    assert [row["id"] for row in await inbox(api, as_="shop:s1", folder="UNREPLIED")] == []
    assert [row["id"] for row in await inbox(api, as_="shop:s2", folder="UNREPLIED")] == []

    # A conversation the seller opened without a message stays hidden from the creator until the first one.
    opened = await start(api, 3, "FIND_CREATORS", as_="shop:s1")
    assert (await start(api, 3, "TARGETED_PLAN", as_="shop:s1"))["id"] == opened["id"]  # one per pair
    seller_view = await state(api, opened["id"], as_="shop:s1")
    assert seller_view["lastMessage"] is None and seller_view["entrance"] == "FIND_CREATORS"
    assert seller_view["lastActivityAt"] == seller_view["createdAt"]
    assert seller_view["messagesRemainingBeforeReply"] == 5 and seller_view["unreadCount"] == 0
    assert (await inbox(api, as_="shop:s1"))[0]["id"] == opened["id"]

    assert await inbox(api, as_="creator:c3") == []
    assert await state(api, opened["id"], as_="creator:c3") is None
    assert (await api.query("query($id: ID!) { node(id: $id) { id } }", {"id": opened["id"]}, as_="creator:c3"))[
        "node"
    ] is None
    assert await counts(api, as_="creator:c3") == dict.fromkeys(
        ("all", "unread", "unreplied", "starred", "archived"), 0
    )

    sent = await say(api, gid("Creator", 3), "First words", as_="shop:s1")
    assert sent["conversation"]["id"] == opened["id"]
    rows = await inbox(api, as_="creator:c3")
    assert [row["id"] for row in rows] == [opened["id"]]
    assert rows[0]["entrance"] == "FIND_CREATORS" and rows[0]["unreadCount"] == 1
    assert (await state(api, opened["id"], as_="creator:c3"))["lastMessage"]["id"] == sent["message"]["id"]
    assert (await counts(api, as_="creator:c3"))["unread"] == 1


async def test_conversation_filters_and_keyset_pages(api):
    await build_world(api.engine)
    for n in range(1, 13):
        await say(api, gid("Creator", n), f"hello {n}", as_="shop:s2")
    cases = [
        None,
        {},
        {"minFollowers": 5000},
        {"maxFollowers": 3000},
        {"minFollowers": 5000, "maxFollowers": 8000},
        {"categories": ["Tech"]},
        {"categories": ["Beauty", "Food"]},
        {"categories": ["Nope"]},
        {"minGmv": "300.00", "maxGmv": "700"},
        {"minGmv": "1150.50"},
        {"maxGmv": "100"},
        {"search": "CREATOR1"},
        {"search": "number 7"},
        {"search": "UMBER 1"},
        {"search": "%"},
        {"search": "_"},
        {"search": ""},
        {"categories": ["Fashion"], "minFollowers": 2000, "search": "creator"},
    ]
    for flt in cases:
        rows = await inbox(api, as_="shop:s2", filter=flt)
        expected = creators_matching(flt, among=range(1, 13))[::-1]  # sent to c1..c12: c12 is the newest
        assert [platform_id(row) for row in rows] == expected, flt
    # Inclusive bounds on both ends.
    rows = await inbox(
        api, as_="shop:s2", filter={"minFollowers": 4000, "maxFollowers": 4000, "minGmv": "400.00", "maxGmv": "400.00"}
    )
    assert [row["creator"]["handle"] for row in rows] == ["creator4"]

    # Keyset pages, newest activity first.
    full = await inbox(api, as_="shop:s2")
    assert [platform_id(row) for row in full] == [f"c{n}" for n in range(12, 0, -1)]
    for size in (2, 5, 11, 12):
        edges, infos = await all_pages(api, INBOX, {"folder": "ALL"}, "conversations", as_="shop:s2", first=size)
        assert [edge["node"]["id"] for edge in edges] == [row["id"] for row in full], size
        assert len(infos) == -(-12 // size), size
        assert [info["hasNextPage"] for info in infos] == [True] * (len(infos) - 1) + [False], size
        assert infos[0]["hasPreviousPage"] is False
    # Cursors: endCursor is the cursor of the page's last edge.
    data = await api.query(INBOX, {"first": 5}, as_="shop:s2")
    connection = data["conversations"]
    assert connection["pageInfo"]["startCursor"] == connection["edges"][0]["cursor"]
    assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]
    after = await api.query(INBOX, {"first": 5, "after": connection["edges"][2]["cursor"]}, as_="shop:s2")
    assert [e["node"]["id"] for e in after["conversations"]["edges"]] == [row["id"] for row in full[3:8]]
    # With a filter: Beauty and Food creators only, two per page.
    flt = {"categories": ["Beauty", "Food"]}
    edges, infos = await all_pages(api, INBOX, {"filter": flt}, "conversations", as_="shop:s2", first=2)
    assert [platform_id(edge["node"]) for edge in edges] == creators_matching(flt, among=range(1, 13))[::-1]
    assert len(infos) == 3
    # first: 0 is an empty page.
    empty = (await api.query(INBOX, {"first": 0}, as_="shop:s2"))["conversations"]
    assert empty["edges"] == [] and empty["pageInfo"]["startCursor"] is None and empty["pageInfo"]["endCursor"] is None
    # A conversation that moves to the top while the client pages down is not served twice.
    page = (await api.query(INBOX, {"first": 4}, as_="shop:s2"))["conversations"]
    await say(api, gid("Shop", 2), "late reply", as_="creator:c5")
    rest_after, cursor = [], page["pageInfo"]["endCursor"]
    while cursor:
        next_page = (await api.query(INBOX, {"first": 3, "after": cursor}, as_="shop:s2"))["conversations"]
        rest_after += next_page["edges"]
        cursor = next_page["pageInfo"]["endCursor"] if next_page["pageInfo"]["hasNextPage"] else None
    walked = [platform_id(e["node"]) for e in page["edges"] + rest_after]
    assert walked == [f"c{n}" for n in range(12, 0, -1) if n != 5]
    # A fresh walk from the top finds c5 first.
    assert platform_id((await inbox(api, as_="shop:s2", first=1))[0]) == "c5"
    # Filters combine with folders: c5 (Fashion), c3 (Food) and c6 (Tech) replied, so they are unread.
    for n in (3, 6):
        await say(api, gid("Shop", 2), f"reply {n}", as_=f"creator:c{n}")
    assert [platform_id(row) for row in await inbox(api, as_="shop:s2", folder="UNREAD")] == ["c6", "c3", "c5"]
    rows = await inbox(api, as_="shop:s2", folder="UNREAD", filter={"categories": ["Tech", "Food"]})
    assert [platform_id(row) for row in rows] == ["c6", "c3"]
    rows = await inbox(api, as_="shop:s2", folder="UNREAD", filter={"categories": ["Tech"]})
    assert [platform_id(row) for row in rows] == ["c6"]


async def test_messages_pages_forward_and_backward(api):
    await build_world(api.engine)
    texts = [f"m{n}" for n in range(1, 26)]
    conversation_id = (await say(api, gid("Creator", 1), texts[0], as_="shop:s1"))["conversation"]["id"]
    for n, text in enumerate(texts[1:], start=2):
        await say(api, conversation_id, text, as_="creator:c1" if n % 2 == 0 else "shop:s1")

    async def page(as_="shop:s1", **args):
        return (await api.query(MESSAGES, {"id": conversation_id, **args}, as_=as_))["conversation"]

    def text_of(connection):
        return [edge["node"]["content"]["text"] for edge in connection["edges"]]

    latest = await page()
    messages = latest["messages"]
    assert text_of(messages) == texts[5:]  # the latest 20, oldest first
    assert messages["pageInfo"]["hasPreviousPage"] is True and messages["pageInfo"]["hasNextPage"] is False
    assert [node["id"] for node in messages["nodes"]] == [edge["node"]["id"] for edge in messages["edges"]]
    assert latest["lastMessage"]["id"] == messages["edges"][-1]["node"]["id"]
    stamps = [datetime.fromisoformat(edge["node"]["createdAt"]) for edge in messages["edges"]]
    assert stamps == sorted(stamps)
    assert [pk_of(edge["node"]["id"]) for edge in messages["edges"]] == sorted(
        pk_of(edge["node"]["id"]) for edge in messages["edges"]
    )

    first = (await page(first=10))["messages"]
    assert text_of(first) == texts[:10]
    assert first["pageInfo"]["hasNextPage"] is True and first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]

    older = (await page(last=5, before=messages["pageInfo"]["startCursor"]))["messages"]
    assert text_of(older) == texts[:5]
    assert older["pageInfo"]["hasPreviousPage"] is False and older["pageInfo"]["hasNextPage"] is True
    newer = (await page(first=10, after=messages["edges"][16]["cursor"]))["messages"]  # after m22
    assert text_of(newer) == texts[22:] and newer["pageInfo"]["hasNextPage"] is False
    # A message's cursor is its ID; the bare id cursors of earlier releases still page the same.
    assert all(edge["cursor"] == edge["node"]["id"] for edge in messages["edges"])
    legacy = encode_cursor(pk_of(messages["edges"][16]["node"]["id"]))
    assert (await page(first=10, after=legacy))["messages"] == newer
    assert (await page(first=0))["messages"]["edges"] == []

    for size in (7, 25):
        edges, infos = await all_pages(
            api, MESSAGES, {"id": conversation_id}, "conversation.messages", as_="shop:s1", first=size
        )
        assert [edge["node"]["content"]["text"] for edge in edges] == texts, size
        assert [info["hasNextPage"] for info in infos] == [True] * (len(infos) - 1) + [False]
        edges, infos = await all_pages(
            api, MESSAGES, {"id": conversation_id}, "conversation.messages", as_="creator:c1", first=size, backward=True
        )
        assert [edge["node"]["content"]["text"] for edge in edges] == texts, size
        assert [info["hasPreviousPage"] for info in infos] == [True] * (len(infos) - 1) + [False]

    # isMine and senderRole from each side: odd messages are the seller's.
    for viewer, mine in (("shop:s1", "SELLER"), ("creator:c1", "CREATOR")):
        nodes = [edge["node"] for edge in (await page(as_=viewer, first=25))["messages"]["edges"]]
        assert [node["senderRole"] for node in nodes] == ["SELLER" if n % 2 else "CREATOR" for n in range(1, 26)]
        assert [node["isMine"] for node in nodes] == [node["senderRole"] == mine for node in nodes]


async def test_conversation_counters_and_flags(api):
    await build_world(api.engine)
    sent = await say(api, gid("Creator", 1), "one", as_="shop:s1")
    conversation = sent["conversation"]
    assert (conversation["messagesRemainingBeforeReply"], conversation["creatorHasReplied"]) == (4, False)
    assert (await say(api, conversation["id"], "two", as_="shop:s1"))["conversation"][
        "messagesRemainingBeforeReply"
    ] == 3
    for text in ("three", "four", "five"):
        await say(api, conversation["id"], text, as_="shop:s1")
    assert (await state(api, conversation["id"], as_="shop:s1"))["messagesRemainingBeforeReply"] == 0
    creator_view = await state(api, conversation["id"], as_="creator:c1")
    assert creator_view["messagesRemainingBeforeReply"] is None and creator_view["creatorHasReplied"] is False
    assert creator_view["unreadCount"] == 5

    await say(api, gid("Shop", 1), "hi!", as_="creator:c1")
    for viewer in ("shop:s1", "creator:c1"):
        view = await state(api, conversation["id"], as_=viewer)
        assert (view["messagesRemainingBeforeReply"], view["creatorHasReplied"]) == (None, True), viewer
    row = (await inbox(api, as_="shop:s1"))[0]
    assert (row["messagesRemainingBeforeReply"], row["creatorHasReplied"]) == (None, True)

    # A sample request card is the creator's message: it counts as a reply too.
    opened = await start(api, 2, "FIND_CREATORS", as_="shop:s1")
    assert (opened["messagesRemainingBeforeReply"], opened["creatorHasReplied"]) == (5, False)
    await request_sample(api, 1, "s-1", as_="creator:c2")
    view = await state(api, opened["id"], as_="shop:s1")
    assert (view["messagesRemainingBeforeReply"], view["creatorHasReplied"]) == (None, True)
    assert (view["unreadCount"], view["isUnreplied"]) == (1, True)
    assert view["lastMessage"]["senderRole"] == "CREATOR" and view["lastMessage"]["isMine"] is False

    # Unread counts and the read position, between shop s2 and creator c3.
    first = await say(api, gid("Creator", 3), "one", as_="shop:s2")
    conversation_id = first["conversation"]["id"]
    await say(api, conversation_id, "two", as_="shop:s2")
    third = await say(api, conversation_id, "three", as_="shop:s2")
    seller = await state(api, conversation_id, as_="shop:s2")
    creator = await state(api, conversation_id, as_="creator:c3")
    assert (seller["unreadCount"], seller["isUnreplied"]) == (0, False)
    assert (creator["unreadCount"], creator["isUnreplied"]) == (3, True)
    assert seller["lastMessage"] == {"id": third["message"]["id"], "senderRole": "SELLER", "isMine": True}
    assert creator["lastMessage"] == {"id": third["message"]["id"], "senderRole": "SELLER", "isMine": False}

    assert (await mark_read(api, conversation_id, as_="creator:c3", up_to=first["message"]["id"]))["unreadCount"] == 2
    assert (await counts(api, as_="creator:c3"))["unread"] == 1
    assert (await mark_read(api, conversation_id, as_="creator:c3"))["unreadCount"] == 0
    creator = await state(api, conversation_id, as_="creator:c3")
    assert (creator["unreadCount"], creator["isUnreplied"]) == (0, True)  # reading is not replying
    assert await counts(api, as_="creator:c3") == {"all": 1, "unread": 0, "unreplied": 1, "starred": 0, "archived": 0}

    reply = await say(api, gid("Shop", 2), "four", as_="creator:c3")
    seller = await state(api, conversation_id, as_="shop:s2")
    creator = await state(api, conversation_id, as_="creator:c3")
    assert (seller["unreadCount"], seller["isUnreplied"]) == (1, True)
    assert (creator["unreadCount"], creator["isUnreplied"]) == (0, False)
    assert seller["lastMessage"]["id"] == creator["lastMessage"]["id"] == reply["message"]["id"]
    assert datetime.fromisoformat(seller["lastActivityAt"]) > datetime.fromisoformat(seller["createdAt"])
    assert (await api.query(COUNTS, as_="shop:s2"))["inboxCounts"] == {
        "all": 1,
        "unread": 1,
        "unreplied": 1,
        "starred": 0,
        "archived": 0,
    }
