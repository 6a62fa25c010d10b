"""Who may see what: another shop's or creator's records look exactly as if they did not exist,
and root fields meant for one role are FORBIDDEN to the other."""

import pytest

from tests.support.gql import (
    MARK_READ,
    conversation_action,
    create_collaboration,
    gid,
    request_sample,
    say,
    text_to_creator,
    type_of,
)
from tests.support.world import build_world, unchanged

MISSING = 999  # a primary key no row has

NODE = """query($id: ID!) { node(id: $id) { __typename id } }"""
CONVERSATION = """query($id: ID!) { conversation(id: $id) {
  id messages { nodes { id content { ... on TextContent { text } } } } sampleRequests { id } } }"""
LISTS = """query {
  conversations(first: 100) { nodes { id } }
  inboxCounts { all unread unreplied starred archived }
  sampleRequests(first: 100) { nodes { id } }
  searchMessages(query: "PRIVATE") { nodes { id } }
}"""
SEARCH_IN = """query($id: ID!) { searchMessages(query: "private", conversationId: $id) { nodes { id } } }"""
SHOP_COLLABORATIONS = """query($id: ID!) { node(id: $id) { ... on Shop {
  targetCollaborations { nodes { id } } products { nodes { id } } } } }"""
CREATOR_CONVERSATION = """query($id: ID!) { creator(id: $id) { conversation { id } } }"""
SEND = """mutation($input: SendMessageInput!) { sendMessage(input: $input) {
  message { id } conversation { id } userErrors { code message field } } }"""
DECIDE = """mutation($id: ID!) {
  approveSampleRequest(input: {sampleRequestId: $id}) { sampleRequest { id } userErrors { code message field } }
  rejectSampleRequest(input: {sampleRequestId: $id}) { sampleRequest { id } userErrors { code message field } }
}"""

# (viewer, takes part in the conversation between shop s1 and creator c1)
VIEWERS = [("shop:s1", True), ("shop:s2", False), ("creator:c1", True), ("creator:c2", False)]


async def scenario(api) -> dict:
    """Shop s1 and creator c1 talk; c1 asked s1 for a sample; s1 has a target collaboration."""
    await build_world(api.engine)
    sent = await say(api, gid("Creator", 1), "Private offer for you", as_="shop:s1")
    reply = await say(api, gid("Shop", 1), "Private answer", as_="creator:c1")
    sample = await request_sample(api, 1, "req-1", "private note", as_="creator:c1")
    collaboration = await create_collaboration(api, (1, 2), as_="shop:s1")
    return {
        "conversation": sent["conversation"]["id"],
        "messages": [sent["message"]["id"], reply["message"]["id"]],
        "sample": sample["id"],
        "collaboration": collaboration,
    }


def absent_twin(global_id: str) -> str:
    """A well-formed id of the same type that names no row."""
    return gid(type_of(global_id), MISSING)


async def same_as_missing(api, document: str, variables: dict, key: str, *, as_: str) -> dict:
    """The body for a real id, asserting it equals the body for an id that names no row."""
    status, real = await api.post(document, variables, as_=as_)
    status_missing, missing = await api.post(document, {**variables, key: absent_twin(variables[key])}, as_=as_)
    assert status == status_missing == 200
    assert real == missing, (real, missing)
    return real


async def assert_writes_refused_as_if_missing(api, ids: dict, viewer: str) -> None:
    """An outsider's writes to the records: refused exactly as for records that do not exist, and
    nothing changes."""
    conversation = ids["conversation"]
    async with unchanged(api.engine):
        for action in ("starConversation", "unstarConversation", "archiveConversation", "unarchiveConversation"):
            real = await api.query(conversation_action(action), {"input": {"conversationId": conversation}}, as_=viewer)
            missing = await api.query(
                conversation_action(action), {"input": {"conversationId": absent_twin(conversation)}}, as_=viewer
            )
            assert real == missing and real[action]["conversation"] is None, (action, real)
            assert [error["code"] for error in real[action]["userErrors"]] == ["NOT_FOUND"], real
        for up_to in (None, ids["messages"][0]):
            real = await api.query(
                MARK_READ, {"input": {"conversationId": conversation, "upToMessageId": up_to}}, as_=viewer
            )
            missing = await api.query(
                MARK_READ, {"input": {"conversationId": absent_twin(conversation), "upToMessageId": up_to}}, as_=viewer
            )
            assert real == missing and [e["code"] for e in real["markConversationRead"]["userErrors"]] == [
                "NOT_FOUND"
            ], real
        send = {"input": {"conversationId": conversation, "clientMessageId": "intrude", "content": {"text": "hi"}}}
        real = await api.query(SEND, send, as_=viewer)
        send["input"]["conversationId"] = absent_twin(conversation)
        missing = await api.query(SEND, send, as_=viewer)
        assert real == missing and real["sendMessage"]["message"] is None, real
        assert [error["code"] for error in real["sendMessage"]["userErrors"]] == ["NOT_FOUND"], real
        if viewer.startswith("shop:"):
            body = await same_as_missing(api, DECIDE, {"id": ids["sample"]}, "id", as_=viewer)
            for payload in body["data"].values():
                assert payload["sampleRequest"] is None
                assert [error["code"] for error in payload["userErrors"]] == ["NOT_FOUND"], body
            # Another shop's collaboration cannot be sent as a card, just like one that does not exist.
            invite = text_to_creator(2, "x", "invite")
            invite["input"]["content"] = {"collaborationId": ids["collaboration"]}
            real = await api.query(SEND, invite, as_=viewer)
            invite["input"]["content"] = {"collaborationId": absent_twin(ids["collaboration"])}
            assert real == await api.query(SEND, invite, as_=viewer)
            assert [error["code"] for error in real["sendMessage"]["userErrors"]] == ["INVALID_INPUT"], real


@pytest.mark.parametrize("viewer,participant", VIEWERS, ids=[viewer for viewer, _ in VIEWERS])
async def test_records_of_others_look_missing_for_reads_and_writes(api, viewer, participant):
    ids = await scenario(api)
    owner = viewer == "shop:s1"

    async def visible(document, global_id, expected):
        """The field's value when the viewer may see the record; else asserts it looks missing."""
        if expected:
            status, body = await api.post(document, {"id": global_id}, as_=viewer)
            assert status == 200 and "errors" not in body, body
            (value,) = body["data"].values()
            return value
        body = await same_as_missing(api, document, {"id": global_id}, "id", as_=viewer)
        assert "errors" not in body, body
        (value,) = body["data"].values()
        assert value is None
        return None

    conversation = await visible(CONVERSATION, ids["conversation"], participant)
    if participant:
        assert [m["content"]["text"] for m in conversation["messages"]["nodes"][:2]] == [
            "Private offer for you",
            "Private answer",
        ]
        assert conversation["sampleRequests"] == [{"id": ids["sample"]}]
    assert bool(await visible(NODE, ids["conversation"], participant)) is participant
    for message in ids["messages"]:
        assert bool(await visible(NODE, message, participant)) is participant
    assert bool(await visible(NODE, ids["sample"], participant)) is participant
    # The collaboration is the shop's own until it is sent: only its seller sees it.
    assert bool(await visible(NODE, ids["collaboration"], owner)) is owner

    lists = await api.query(LISTS, as_=viewer)
    assert [node["id"] for node in lists["conversations"]["nodes"]] == ([ids["conversation"]] if participant else [])
    assert lists["inboxCounts"]["all"] == (1 if participant else 0)
    assert [node["id"] for node in lists["sampleRequests"]["nodes"]] == ([ids["sample"]] if participant else [])
    # Search finds the two texts (not the sample request's "private note": cards are not searched).
    found = [node["id"] for node in lists["searchMessages"]["nodes"]]
    assert found == (ids["messages"][::-1] if participant else [])
    if participant:
        scoped = (await api.query(SEARCH_IN, {"id": ids["conversation"]}, as_=viewer))["searchMessages"]
        assert [node["id"] for node in scoped["nodes"]] == found
    else:
        await same_as_missing(api, SEARCH_IN, {"id": ids["conversation"]}, "id", as_=viewer)
    shop = (await api.query(SHOP_COLLABORATIONS, {"id": gid("Shop", 1)}, as_=viewer))["node"]
    assert shop["targetCollaborations"]["nodes"] == ([{"id": ids["collaboration"]}] if owner else [])
    assert bool(shop["products"]["nodes"]) is owner
    creator = (await api.query(CREATOR_CONVERSATION, {"id": gid("Creator", 1)}, as_=viewer))["creator"]
    if viewer == "creator:c2":  # another creator's profile is not to be seen at all (tests/rules/test_permissions.py)
        assert creator is None
    else:
        assert creator["conversation"] == ({"id": ids["conversation"]} if owner else None)
    if not participant:
        await assert_writes_refused_as_if_missing(api, ids, viewer)


SELLER_ONLY = [
    ("creators", "query { creators { edges { cursor } } }", {}),
    ("outreachQuota", "query { outreachQuota { used } }", {}),
    (
        "startConversation",
        """mutation($id: ID!) { startConversation(input: {creatorId: $id, entrance: FIND_CREATORS})
        { conversation { id } userErrors { code } } }""",
        {"id": gid("Creator", 2)},
    ),
    (
        "sendBulkMessage",
        """mutation($id: ID!) { sendBulkMessage(input: {creatorIds: [$id], content: {text: "hi"},
        clientBatchId: "b1"}) { sentCount userErrors { code } } }""",
        {"id": gid("Creator", 2)},
    ),
    (
        "blockCreator",
        """mutation($id: ID!) { blockCreator(input: {creatorId: $id}) { userErrors { code } } }""",
        {"id": gid("Creator", 2)},
    ),
    (
        "unblockCreator",
        """mutation($id: ID!) { unblockCreator(input: {creatorId: $id}) { userErrors { code } } }""",
        {"id": gid("Creator", 2)},
    ),
    (
        "approveSampleRequest",
        """mutation($id: ID!) { approveSampleRequest(input: {sampleRequestId: $id})
        { sampleRequest { id } userErrors { code } } }""",
        {"id": gid("SampleRequest", 1)},
    ),
    (
        "rejectSampleRequest",
        """mutation($id: ID!) { rejectSampleRequest(input: {sampleRequestId: $id})
        { sampleRequest { id } userErrors { code } } }""",
        {"id": gid("SampleRequest", 1)},
    ),
    (
        "createTargetCollaboration",
        """mutation($id: ID!) { createTargetCollaboration(input: {name: "Mine",
        productIds: [$id], commissionRate: "0.1"}) { collaboration { id } userErrors { code } } }""",
        {"id": gid("Product", 1)},
    ),
]
CREATOR_ONLY = [
    (
        "requestSample",
        """mutation($id: ID!) { requestSample(input: {productId: $id, clientRequestId: "r9"})
        { sampleRequest { id } userErrors { code } } }""",
        {"id": gid("Product", 1)},
    ),
]


async def test_role_rules(api):
    ids = await scenario(api)
    assert ids["sample"] == gid("SampleRequest", 1)
    cases = [(name, document, variables, "creator:c1") for name, document, variables in SELLER_ONLY]
    cases += [(name, document, variables, "shop:s1") for name, document, variables in CREATOR_ONLY]
    async with unchanged(api.engine):
        for name, document, variables, viewer in cases:
            status, body = await api.post(document, variables, as_=viewer)
            assert status == 200, (name, status, body)
            assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"], (name, body)
            assert body["errors"][0]["path"] == [name], (name, body)
            assert body.get("data") is None or body["data"].get(name) is None, (name, body)
    # The roles' own calls of the same fields work.
    status, body = await api.post(SELLER_ONLY[0][1], as_="shop:s1")
    assert status == 200 and "errors" not in body, body
    status, body = await api.post(CREATOR_ONLY[0][1], CREATOR_ONLY[0][2], as_="creator:c2")
    assert status == 200 and "errors" not in body and body["data"]["requestSample"]["sampleRequest"], body
