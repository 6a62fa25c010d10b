"""Sending messages: one conversation per pair, entrances, the five-before-a-reply rule, content rules,
and a shop that lost access. Every refusal is checked to have written nothing."""

from tests.support.gql import (
    APPROVE_SAMPLE,
    BLOCK,
    CONVERSATION,
    MARK_ALL_READ,
    MARK_MANY_READ,
    REJECT_SAMPLE,
    SEND_BULK,
    SEND_FULL,
    START_CONVERSATION,
    bulk_input,
    conversation,
    conversation_with,
    counts,
    creator_input,
    folder_ids,
    gid,
    product_to_creator,
    quota,
    refused,
    request_sample,
    send_ok,
    start,
    start_input,
    text_in,
    text_to_creator,
    text_to_shop,
)
from tests.support.world import build_world, db_snapshot, row_counts, set_shop_status, unchanged

TEXT_FIELD = ["input", "content", "text"]


# --- One conversation per shop and creator --------------------------------------------------------


async def test_every_entrance_leads_to_the_single_conversation(api):
    await build_world(api.engine)
    first = await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    conversation_id = first["conversation"]["id"]
    assert first["conversation"]["entrance"] == "CREATOR_MESSAGES"

    again = await send_ok(api, text_to_creator(1, "Second", "k2"), as_="shop:s1")
    assert again["conversation"]["id"] == conversation_id
    assert (await start(api, 1, "FIND_CREATORS"))["id"] == conversation_id
    reply = await send_ok(api, text_to_shop(1, "Hi shop", "r1"), as_="creator:c1")
    assert reply["conversation"]["id"] == conversation_id
    by_id = await send_ok(api, text_in(conversation_id, "Third", "k3"), as_="shop:s1")
    assert by_id["conversation"]["id"] == conversation_id

    assert await folder_ids(api, "ALL", as_="shop:s1") == {conversation_id}
    assert await folder_ids(api, "ALL", as_="creator:c1") == {conversation_id}
    seen = await conversation(api, conversation_id, as_="creator:c1")
    assert [m["content"]["text"] for m in seen["messages"]["nodes"]] == ["Hello", "Second", "Hi shop", "Third"]
    assert seen["entrance"] == "CREATOR_MESSAGES"


async def test_entrance_is_recorded_only_when_the_conversation_opens(api):
    await build_world(api.engine)
    opened = await start(api, 2, "FIND_CREATORS")
    assert opened["entrance"] == "FIND_CREATORS"
    assert (await start(api, 2, "TARGETED_PLAN"))["entrance"] == "FIND_CREATORS"
    sent = await send_ok(api, text_to_creator(2, "Hello", "k1", entrance="BULK_MESSAGE"), as_="shop:s1")
    assert sent["conversation"]["id"] == opened["id"]
    assert sent["conversation"]["entrance"] == "FIND_CREATORS"
    await send_ok(api, text_to_shop(1, "Hi", "r1"), as_="creator:c2")
    assert (await conversation(api, opened["id"], as_="shop:s1"))["entrance"] == "FIND_CREATORS"


async def test_opening_a_conversation_uses_no_outreach_unit(api):
    await build_world(api.engine)
    for creator in range(1, 13):  # more than the shop's weekly limit of 10
        await start(api, creator, "FIND_CREATORS")
    assert (await quota(api))["used"] == 0
    assert (await quota(api))["remaining"] == 10
    assert (await counts(api, as_="shop:s1"))["all"] == 12
    # The creator does not see a conversation until a message arrives.
    assert await folder_ids(api, "ALL", as_="creator:c1") == set()
    await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    assert (await quota(api))["used"] == 1
    assert len(await folder_ids(api, "ALL", as_="creator:c1")) == 1


async def test_default_and_given_entrances(api):
    await build_world(api.engine)
    seller = await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    assert seller["conversation"]["entrance"] == "CREATOR_MESSAGES"
    given = await send_ok(api, text_to_creator(2, "Hello", "k2", entrance="TARGETED_PLAN"), as_="shop:s1")
    assert given["conversation"]["entrance"] == "TARGETED_PLAN"
    creator = await send_ok(api, text_to_shop(1, "Hi shop", "r1"), as_="creator:c3")
    assert (await conversation_with(api, 3))["entrance"] == "CREATOR_INITIATED"
    assert creator["conversation"]["id"] == (await conversation_with(api, 3))["id"]
    bulk = (await api.query(SEND_BULK, bulk_input([4], "Hello all", "b1"), as_="shop:s1"))["sendBulkMessage"]
    assert bulk["sentCount"] == 1, bulk
    assert (await conversation_with(api, 4))["entrance"] == "BULK_MESSAGE"
    sample = await request_sample(api, 1, "req1", as_="creator:c5")
    assert sample["conversation"]["entrance"] == "SAMPLE_REQUEST"
    assert (await conversation_with(api, 5))["entrance"] == "SAMPLE_REQUEST"


async def test_a_refused_send_opens_no_conversation(api):
    await build_world(api.engine)
    blocked = (await api.query(BLOCK, creator_input(1), as_="shop:s1"))["blockCreator"]
    assert blocked["userErrors"] == [] and blocked["conversation"] is None
    async with unchanged(api.engine):
        payload = await refused(api, SEND_FULL, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
        assert payload["userErrors"][0]["code"] == "BLOCKED"
        assert payload["message"] is None and payload["conversation"] is None
        payload = await refused(api, SEND_FULL, text_to_shop(1, "Hello", "r1"), as_="creator:c1")
        assert payload["userErrors"][0]["code"] == "BLOCKED"
        payload = await refused(api, SEND_FULL, text_to_creator(2, "   ", "k2"), as_="shop:s1")
        assert payload["userErrors"][0]["code"] == "INVALID_INPUT"
        payload = await refused(api, SEND_FULL, text_to_shop(2, "\x00bad", "r2"), as_="creator:c2")
        assert payload["userErrors"][0]["code"] == "INVALID_INPUT"
    assert await conversation_with(api, 1) is None
    assert await conversation_with(api, 2) is None
    assert await folder_ids(api, "ALL", as_="shop:s1") == set()
    assert await folder_ids(api, "ALL", as_="creator:c2") == set()
    assert (await quota(api))["used"] == 0


async def test_seller_and_creator_target_shapes(api):
    await build_world(api.engine)
    variables = {"input": {"shopId": gid("Shop", 1), "clientMessageId": "k1", "content": {"text": "Hi"}}}
    async with unchanged(api.engine):
        payload = await refused(api, SEND_FULL, variables, as_="shop:s1")
        assert payload["userErrors"][0]["code"] == "INVALID_INPUT"
        both = text_to_creator(1, "Hi", "k2")
        both["input"]["conversationId"] = gid("Conversation", 999)
        assert (await refused(api, SEND_FULL, both, as_="shop:s1"))["userErrors"][0]["code"] == "INVALID_INPUT"
        unknown = text_to_creator(999, "Hi", "k3")
        payload = await refused(api, SEND_FULL, unknown, as_="shop:s1")
        assert payload["userErrors"][0]["code"] == "NOT_FOUND"
        assert payload["userErrors"][0]["field"] == ["input", "creatorId"]
        payload = await refused(api, SEND_FULL, text_to_creator(1, "Hi", "r3"), as_="creator:c1")
        assert payload["userErrors"][0]["code"] == "INVALID_INPUT"


async def test_cannot_write_into_another_shops_conversation(api):
    await build_world(api.engine)
    theirs = await send_ok(api, text_to_creator(1, "Hello from s2", "k1"), as_="shop:s2")
    conversation_id = theirs["conversation"]["id"]
    async with unchanged(api.engine):
        payload = await refused(api, SEND_FULL, text_in(conversation_id, "Hi", "k1"), as_="shop:s1")
        assert payload["userErrors"][0]["code"] == "NOT_FOUND"
        payload = await refused(api, SEND_FULL, text_in(conversation_id, "Hi", "r1"), as_="creator:c2")
        assert payload["userErrors"][0]["code"] == "NOT_FOUND"


# --- Five messages before a reply -----------------------------------------------------------------


async def test_five_messages_before_the_creator_replies(api):
    await build_world(api.engine)
    remaining = []
    for i in range(3):
        remaining.append(
            (await send_ok(api, text_to_creator(1, f"Message {i}", f"t{i}"), as_="shop:s1"))["conversation"][
                "messagesRemainingBeforeReply"
            ]
        )
    for i in range(2):
        remaining.append(
            (await send_ok(api, product_to_creator(1, 1 + i, f"p{i}"), as_="shop:s1"))["conversation"][
                "messagesRemainingBeforeReply"
            ]
        )
    assert remaining == [4, 3, 2, 1, 0]
    conversation_id = (await conversation_with(api, 1))["id"]

    async with unchanged(api.engine):
        for variables in (
            text_to_creator(1, "Sixth", "t6"),
            product_to_creator(1, 3, "p6"),
            text_in(conversation_id, "Sixth again", "t7"),
        ):
            payload = await refused(api, SEND_FULL, variables, as_="shop:s1")
            error = payload["userErrors"][0]
            assert error["code"] == "PRE_REPLY_LIMIT_REACHED" and "5" in error["message"], payload
            assert payload["message"] is None
    seen = await conversation(api, conversation_id, as_="shop:s1")
    assert len(seen["messages"]["nodes"]) == 5
    assert seen["messagesRemainingBeforeReply"] == 0 and seen["creatorHasReplied"] is False
    assert (await conversation(api, conversation_id, as_="creator:c1"))["messagesRemainingBeforeReply"] is None

    await send_ok(api, text_to_shop(1, "Thanks, tell me more", "r1"), as_="creator:c1")
    seen = await conversation(api, conversation_id, as_="shop:s1")
    assert seen["creatorHasReplied"] is True and seen["messagesRemainingBeforeReply"] is None
    for i in range(8):  # lifted for good
        sent = await send_ok(api, text_to_creator(1, f"After reply {i}", f"a{i}"), as_="shop:s1")
        assert sent["conversation"]["messagesRemainingBeforeReply"] is None
        assert sent["conversation"]["creatorHasReplied"] is True
    assert len((await conversation(api, conversation_id, as_="shop:s1"))["messages"]["nodes"]) == 14
    assert (await quota(api))["used"] == 1


async def test_limit_is_per_conversation(api):
    await build_world(api.engine)
    for i in range(5):
        await send_ok(api, text_to_creator(1, f"To c1 {i}", f"a{i}"), as_="shop:s1")
    await send_ok(api, text_to_creator(2, "To c2", "b0"), as_="shop:s1")
    sent = await send_ok(api, text_to_creator(1, "Hi", "c1-6"), as_="shop:s2")
    assert sent["conversation"]["messagesRemainingBeforeReply"] == 4


# --- Content ----------------------------------------------------------------------------------------


async def test_text_is_trimmed_and_limited_to_2000_characters(api):
    await build_world(api.engine)
    sent = await send_ok(api, text_to_creator(1, "  \n Hello there \t\n ", "k1"), as_="shop:s1")
    assert sent["message"]["content"] == {"__typename": "TextContent", "text": "Hello there"}
    longest = "x" * 2000
    sent = await send_ok(api, text_to_creator(1, f"   {longest}   ", "k2"), as_="shop:s1")
    assert sent["message"]["content"]["text"] == longest
    sent = await send_ok(api, text_to_creator(1, "line one\n\tline two", "k3"), as_="shop:s1")
    assert sent["message"]["content"]["text"] == "line one\n\tline two"

    async with unchanged(api.engine):
        for text in ("x" * 2001, "", "   \n\t  ", "bell\x07", "null\x00byte", "escape\x1b[31m", "del\x7f"):
            payload = await refused(
                api, SEND_FULL, text_to_creator(1, text, f"bad-{len(text)}-{text[-1:]!r}"), as_="shop:s1"
            )
            error = payload["userErrors"][0]
            assert error["code"] == "INVALID_INPUT" and error["field"] == TEXT_FIELD, (text, payload)
        payload = await refused(api, SEND_FULL, text_to_shop(1, "y" * 2001, "r1"), as_="creator:c1")
        assert payload["userErrors"][0]["field"] == TEXT_FIELD


async def test_creators_send_text_only(api):
    await build_world(api.engine)
    await send_ok(api, text_to_shop(1, "Hi", "r1"), as_="creator:c1")
    product = {
        "input": {"shopId": gid("Shop", 1), "clientMessageId": "r2", "content": {"productId": gid("Product", 1)}}
    }
    collaboration = {
        "input": {
            "shopId": gid("Shop", 1),
            "clientMessageId": "r3",
            "content": {"collaborationId": gid("TargetCollaboration", 1)},
        }
    }
    async with unchanged(api.engine):
        for variables in (product, collaboration):
            payload = await refused(api, SEND_FULL, variables, as_="creator:c1")
            assert payload["userErrors"][0]["code"] == "INVALID_INPUT", payload
        # Into a new conversation: refused, and nothing opened.
        product["input"]["shopId"] = gid("Shop", 2)
        assert (await refused(api, SEND_FULL, product, as_="creator:c1"))["userErrors"][0]["code"] == "INVALID_INPUT"


async def test_product_card_must_be_the_shops_own(api):
    await build_world(api.engine)
    sent = await send_ok(api, product_to_creator(1, 2, "k1"), as_="shop:s1")
    assert sent["message"]["content"] == {"__typename": "ProductCard", "product": {"id": gid("Product", 2)}}
    async with unchanged(api.engine):
        for product in (4, 5, 999):  # s2's, s3's, none
            payload = await refused(api, SEND_FULL, product_to_creator(2, product, f"k{product}"), as_="shop:s1")
            error = payload["userErrors"][0]
            assert error["code"] == "INVALID_INPUT" and error["field"] == ["input", "content", "productId"]
    assert await conversation_with(api, 2) is None
    assert (await quota(api))["used"] == 1


# --- Access lost --------------------------------------------------------------------------------------

SELLER_OPERATIONS = [
    ("query { viewer { role } }", {}),
    ("query { conversations { nodes { id } } }", {}),
    ("query($id: ID!) { conversation(id: $id) { id } }", {"id": gid("Conversation", 1)}),
    ("query($id: ID!) { node(id: $id) { id } }", {"id": gid("Conversation", 1)}),
    ("query { inboxCounts { all } }", {}),
    ("query { creators { nodes { id } } }", {}),
    ("query($id: ID!) { creator(id: $id) { id } }", {"id": gid("Creator", 1)}),
    ("query { categories }", {}),
    ("query { outreachQuota { remaining } }", {}),
    ("query { sampleRequests { nodes { id } } }", {}),
    (SEND_FULL, text_to_creator(1, "Hello", "x1")),
    (SEND_FULL, text_to_creator(2, "Hello", "x2")),
    (START_CONVERSATION, start_input(3)),
    (SEND_BULK, bulk_input([4, 5], "Hello", "xb")),
    (
        "mutation($i: MarkConversationReadInput!) { markConversationRead(input: $i) { userErrors { code } } }",
        {"i": {"conversationId": gid("Conversation", 1)}},
    ),
    (MARK_MANY_READ, {"ids": [gid("Conversation", 1)]}),
    (MARK_ALL_READ, {}),
    (MARK_ALL_READ, {"folder": "ARCHIVED"}),
    *[
        (
            "mutation($i: ConversationInput!) { %s(input: $i) { userErrors { code } } }" % name,
            {"i": {"conversationId": gid("Conversation", 1)}},
        )
        for name in ("starConversation", "unstarConversation", "archiveConversation", "unarchiveConversation")
    ],
    (BLOCK, creator_input(1)),
    (
        "mutation($i: CreatorInput!) { unblockCreator(input: $i) { userErrors { code } } }",
        {"i": {"creatorId": gid("Creator", 1)}},
    ),
    (
        "mutation($i: ApproveSampleRequestInput!) { approveSampleRequest(input: $i) { userErrors { code } } }",
        {"i": {"sampleRequestId": gid("SampleRequest", 1)}},
    ),
    (REJECT_SAMPLE, {"input": {"sampleRequestId": gid("SampleRequest", 1)}}),
    (
        "mutation($i: CreateTargetCollaborationInput!) {"
        " createTargetCollaboration(input: $i) { userErrors { code } } }",
        {"i": {"name": "X", "productIds": [gid("Product", 1)], "commissionRate": "0.1"}},
    ),
]


async def test_suspended_shop_loses_access_and_creators_keep_their_history(api):
    await build_world(api.engine)
    sent = await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    conversation_id = sent["conversation"]["id"]
    await send_ok(api, text_to_shop(1, "Hi shop", "r1"), as_="creator:c1")
    await request_sample(api, 1, "req1", as_="creator:c1")
    await set_shop_status(api.engine, "s1", "SUSPENDED")

    async with unchanged(api.engine):
        for document, variables in SELLER_OPERATIONS:
            errors = await api.errors(document, variables, as_="shop:s1")
            assert [e["extensions"]["code"] for e in errors] == ["SHOP_INACTIVE"], (document, errors)

        history = await conversation(api, conversation_id, as_="creator:c1")
        assert [m["senderRole"] for m in history["messages"]["nodes"]] == ["SELLER", "CREATOR", "CREATOR"]
        assert await folder_ids(api, "ALL", as_="creator:c1") == {conversation_id}
        for variables in (text_in(conversation_id, "Are you there?", "r2"), text_to_shop(1, "Hello?", "r3")):
            payload = await refused(api, SEND_FULL, variables, as_="creator:c1")
            assert payload["userErrors"][0]["code"] == "FORBIDDEN", payload
        # A creator cannot open a new conversation with the shop either.
        payload = await refused(api, SEND_FULL, text_to_shop(1, "Hello", "r4"), as_="creator:c2")
        assert payload["userErrors"][0]["code"] == "FORBIDDEN"

    await set_shop_status(api.engine, "s1", "ACTIVE")
    assert (await send_ok(api, text_to_creator(1, "We are back", "k2"), as_="shop:s1"))["message"]


async def test_a_shop_suspended_from_the_start_has_no_access(api):
    await build_world(api.engine)
    async with unchanged(api.engine):
        errors = await api.errors(SEND_FULL, text_to_creator(1, "Hello", "k1"), as_="shop:s3")
        assert errors[0]["extensions"]["code"] == "SHOP_INACTIVE"
        payload = await refused(api, SEND_FULL, text_to_shop(3, "Hello", "r1"), as_="creator:c1")
        assert payload["userErrors"][0]["code"] == "FORBIDDEN"
    assert await folder_ids(api, "ALL", as_="creator:c1") == set()


# --- A failed mutation changes nothing -------------------------------------------------------------


async def test_failed_mutations_change_no_row(api):
    await build_world(api.engine)
    for i in range(5):
        await send_ok(api, text_to_creator(1, f"Message {i}", f"k{i}"), as_="shop:s1")
    sample = await request_sample(api, 1, "req1", as_="creator:c2")
    approved = await api.query(APPROVE_SAMPLE, {"input": {"sampleRequestId": sample["id"]}}, as_="shop:s1")
    assert approved["approveSampleRequest"]["sampleRequest"]["status"] == "APPROVED"
    before = await db_snapshot(api.engine)
    assert row_counts(before)["message"] == 7  # five texts, a sample card, an approval notice

    # A refused send (sixth before a reply).
    payload = await refused(api, SEND_FULL, text_to_creator(1, "Sixth", "k6"), as_="shop:s1")
    assert payload["userErrors"][0]["code"] == "PRE_REPLY_LIMIT_REACHED"
    # A refused bulk: too many creators.
    too_many = bulk_input(range(1, 102), "Hello everyone", "b1")
    bulk = (await api.query(SEND_BULK, too_many, as_="shop:s1"))["sendBulkMessage"]
    assert bulk["sentCount"] == 0 and bulk["userErrors"][0]["code"] == "INVALID_INPUT", bulk
    # A refused decision.
    payload = await refused(
        api, REJECT_SAMPLE, {"input": {"sampleRequestId": sample["id"], "reason": "No"}}, as_="shop:s1"
    )
    assert payload["userErrors"][0]["code"] == "SAMPLE_ALREADY_DECIDED"

    after = await db_snapshot(api.engine)
    assert row_counts(after) == row_counts(before)
    assert after == before
    seen = await api.query(CONVERSATION, {"id": sample["conversation"]["id"]}, as_="shop:s1")
    assert [m["content"]["__typename"] for m in seen["conversation"]["messages"]["nodes"]] == [
        "SampleRequestCard",
        "SystemNotice",
    ]
