"""Who may see each field: the table in docs/rules.md ("Who sees what"), checked for the four kinds of
viewer. Shop s1 and creator c1 talk; s2 is another shop, c2 another creator."""

import pytest

from tests.support.gql import BLOCK_SHOP, create_collaboration, gid, request_sample, say, shop_input
from tests.support.world import build_world

OWNER, OTHER_SELLER, CREATOR, OTHER_CREATOR = "shop:s1", "shop:s2", "creator:c1", "creator:c2"
EVERYONE = {OWNER, OTHER_SELLER, CREATOR, OTHER_CREATOR}
PARTICIPANTS = {OWNER, CREATOR}
SELLERS_AND_SELF = {OWNER, OTHER_SELLER, CREATOR}

NODE = "query($id: ID!) { node(id: $id) { %s } }"

# (field, document, the id it takes, where the value is, who sees a value). Everyone else gets
# null, an empty list, or a node that answers as if it did not exist.
TABLE = [
    ("Shop.name", NODE % "... on Shop { name }", "shop", ("node", "name"), EVERYONE),
    ("Shop.status", NODE % "... on Shop { status }", "shop", ("node", "status"), EVERYONE),
    ("Shop.affiliateGmv30d", NODE % "... on Shop { affiliateGmv30d }", "shop", ("node", "affiliateGmv30d"), {OWNER}),
    (
        "Product.shop.affiliateGmv30d",
        NODE % "... on Product { shop { affiliateGmv30d } }",
        "product",
        ("node", "shop", "affiliateGmv30d"),
        {OWNER},
    ),
    (
        "Conversation.shop.affiliateGmv30d",
        NODE % "... on Conversation { shop { affiliateGmv30d } }",
        "conversation",
        ("node", "shop", "affiliateGmv30d"),
        {OWNER},
    ),
    (
        "Shop.products",
        NODE % "... on Shop { products { nodes { id } } }",
        "shop",
        ("node", "products", "nodes"),
        {OWNER},
    ),
    (
        "Shop.targetCollaborations",
        NODE % "... on Shop { targetCollaborations { nodes { id } } }",
        "shop",
        ("node", "targetCollaborations", "nodes"),
        {OWNER},
    ),
    (
        "Creator (profile)",
        NODE % "... on Creator { handle followerCount }",
        "creator",
        ("node", "handle"),
        SELLERS_AND_SELF,
    ),
    (
        "Creator.gmv30d",
        "query($id: ID!) { creator(id: $id) { gmv30d } }",
        "creator",
        ("creator", "gmv30d"),
        SELLERS_AND_SELF,
    ),
    (
        "Creator.conversation",
        "query($id: ID!) { creator(id: $id) { conversation { id } } }",
        "creator",
        ("creator", "conversation"),
        {OWNER},
    ),
    ("Product", NODE % "... on Product { title price }", "product", ("node", "title"), EVERYONE),
    ("Conversation", NODE % "... on Conversation { id unreadCount }", "conversation", ("node", "id"), PARTICIPANTS),
    (
        "Conversation.isBlockedByCreator",
        NODE % "... on Conversation { isBlockedByCreator }",
        "conversation",
        ("node", "isBlockedByCreator"),
        PARTICIPANTS,
    ),
    (
        "Conversation.messages",
        "query($id: ID!) { conversation(id: $id) { messages { nodes { id } } } }",
        "conversation",
        ("conversation", "messages", "nodes"),
        PARTICIPANTS,
    ),
    (
        "Message",
        NODE % "... on Message { content { ... on TextContent { text } } }",
        "message",
        ("node", "content"),
        PARTICIPANTS,
    ),
    (
        "Message.clientMessageId (its sender's)",
        NODE % "... on Message { clientMessageId }",
        "message",
        ("node", "clientMessageId"),
        {OWNER},
    ),
    (
        "Message.isReadByOtherSide (its sender's)",
        NODE % "... on Message { isReadByOtherSide }",
        "message",
        ("node", "isReadByOtherSide"),
        {OWNER},
    ),
    (
        "Conversation.otherSideLastReadAt",
        NODE % "... on Conversation { otherSideLastReadAt }",
        "conversation",
        ("node", "otherSideLastReadAt"),
        PARTICIPANTS,
    ),
    ("SampleRequest", NODE % "... on SampleRequest { note }", "sample", ("node", "note"), PARTICIPANTS),
    (
        "searchMessages (in the conversation)",
        'query($id: ID!) { searchMessages(query: "hello", conversationId: $id) { nodes { id } } }',
        "conversation",
        ("searchMessages", "nodes"),
        PARTICIPANTS,
    ),
    (
        "searchMessages (every conversation)",
        'query { searchMessages(query: "FROM S1") { nodes { id } } }',
        "conversation",
        ("searchMessages", "nodes"),
        PARTICIPANTS,
    ),
    (
        "TargetCollaboration",
        NODE % "... on TargetCollaboration { name commissionRate }",
        "collaboration",
        ("node", "name"),
        {OWNER},
    ),
]


async def _scenario(api) -> dict[str, str]:
    await build_world(api.engine)
    sent = await say(api, gid("Creator", 1), "Hello from s1", as_=OWNER)
    sample = await request_sample(api, 1, "req-1", "a note", as_=CREATOR)
    return {
        "shop": gid("Shop", 1),
        "product": gid("Product", 1),
        "creator": gid("Creator", 1),
        "conversation": sent["conversation"]["id"],
        "message": sent["message"]["id"],
        "sample": sample["id"],
        "collaboration": await create_collaboration(api, (1,), as_=OWNER),
    }


def _value(data, path: tuple[str, ...]):
    for key in path:
        if data is None:
            return None
        data = data[key]
    return data


@pytest.mark.parametrize("viewer", [OWNER, OTHER_SELLER, CREATOR, OTHER_CREATOR])
async def test_each_field_is_seen_by_exactly_the_viewers_in_the_table(api, viewer):
    ids = await _scenario(api)
    wrong = []
    for field, document, id_kind, path, seen_by in TABLE:
        value = _value(await api.query(document, {"id": ids[id_kind]}, as_=viewer), path)
        if bool(value not in (None, [])) != (viewer in seen_by):
            wrong.append((field, value))
    assert wrong == [], f"{viewer} sees what the table says it does not, or the reverse"


@pytest.mark.parametrize("viewer", [OWNER, OTHER_SELLER, CREATOR, OTHER_CREATOR])
async def test_shop_is_blocked_is_the_viewer_creators_own_block(api, viewer):
    """Shop.isBlocked is true only for the creator that blocks the shop (everyone else gets false),
    and only creators may block a shop."""
    ids = await _scenario(api)
    payload = (await api.query(BLOCK_SHOP, shop_input(1), as_=CREATOR))["blockShop"]
    assert payload["userErrors"] == [], payload
    for document, path in (
        (NODE % "... on Shop { isBlocked }", ("node", "isBlocked")),
        (NODE % "... on Product { shop { isBlocked } }", ("node", "shop", "isBlocked")),
    ):
        id_kind = "shop" if "on Shop" in document else "product"
        assert _value(await api.query(document, {"id": ids[id_kind]}, as_=viewer), path) is (viewer == CREATOR)
    if viewer in (OWNER, OTHER_SELLER):
        errors = await api.errors(BLOCK_SHOP, shop_input(2), as_=viewer)
        assert [error["extensions"]["code"] for error in errors] == ["FORBIDDEN"]
