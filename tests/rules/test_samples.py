"""Sample requests: the creator's card, one decision, and the notices it leaves."""

from tests.support.gql import (
    APPROVE_SAMPLE,
    REJECT_SAMPLE,
    REQUEST_SAMPLE,
    SEND_FULL,
    conversation,
    counts,
    folder_ids,
    refused,
    request_sample,
    sample_input,
    send_ok,
    text_to_creator,
)
from tests.support.world import build_world, unchanged

SAMPLES = "query($status: SampleRequestStatus) { sampleRequests(status: $status) { nodes { id status } } }"


async def decide(api, document: str, sample_id: str, reason: str | None = None, *, as_: str = "shop:s1") -> dict:
    variables = {"input": {"sampleRequestId": sample_id}}
    if reason is not None:
        variables["input"]["reason"] = reason
    (payload,) = (await api.query(document, variables, as_=as_)).values()
    return payload


def notices(seen: dict) -> list:
    return [m["content"]["code"] for m in seen["messages"]["nodes"] if m["senderRole"] == "SYSTEM"]


async def test_a_request_is_pending_with_a_card_from_the_creator(api):
    await build_world(api.engine)
    sample = await request_sample(api, 2, "req1", note="  For my skincare video  ", as_="creator:c1")
    assert sample["status"] == "PENDING" and sample["note"] == "For my skincare video"
    assert sample["decidedAt"] is None and sample["rejectReason"] is None
    assert sample["conversation"]["entrance"] == "SAMPLE_REQUEST"
    conversation_id = sample["conversation"]["id"]

    seen = await conversation(api, conversation_id, as_="shop:s1")
    (card,) = seen["messages"]["nodes"]
    assert card["senderRole"] == "CREATOR" and card["isMine"] is False
    assert card["content"] == {
        "__typename": "SampleRequestCard",
        "sampleRequest": {"id": sample["id"], "status": "PENDING"},
    }
    assert seen["unreadCount"] == 1 and seen["isUnreplied"] is True
    assert seen["creatorHasReplied"] is True and seen["messagesRemainingBeforeReply"] is None
    assert seen["sampleRequests"] == [{"id": sample["id"], "status": "PENDING"}]
    assert await folder_ids(api, "UNREAD", as_="shop:s1") == {conversation_id}
    assert await folder_ids(api, "UNREPLIED", as_="shop:s1") == {conversation_id}
    listed = await api.query(SAMPLES, {"status": "PENDING"}, as_="shop:s1")
    assert listed["sampleRequests"]["nodes"] == [{"id": sample["id"], "status": "PENDING"}]
    mine = await conversation(api, conversation_id, as_="creator:c1")
    assert mine["messages"]["nodes"][0]["isMine"] is True and mine["unreadCount"] == 0


async def test_a_sample_request_lifts_the_five_message_limit(api):
    await build_world(api.engine)
    for i in range(5):
        await send_ok(api, text_to_creator(1, f"Message {i}", f"k{i}"), as_="shop:s1")
    async with unchanged(api.engine):
        payload = await refused(api, SEND_FULL, text_to_creator(1, "Sixth", "k5"), as_="shop:s1")
        assert payload["userErrors"][0]["code"] == "PRE_REPLY_LIMIT_REACHED"
    sample = await request_sample(api, 1, "req1", as_="creator:c1")
    assert sample["conversation"]["entrance"] == "CREATOR_MESSAGES"  # the existing conversation
    sent = await send_ok(api, text_to_creator(1, "Sixth", "k5"), as_="shop:s1")
    assert sent["conversation"]["creatorHasReplied"] is True


async def test_approve_once(api):
    await build_world(api.engine)
    sample = await request_sample(api, 1, "req1", as_="creator:c1")
    approved = await decide(api, APPROVE_SAMPLE, sample["id"])
    assert approved["userErrors"] == [] and approved["sampleRequest"]["status"] == "APPROVED"
    assert approved["sampleRequest"]["decidedAt"] is not None
    async with unchanged(api.engine):
        again = await decide(api, APPROVE_SAMPLE, sample["id"])
        assert again["userErrors"] == [] and again["sampleRequest"] == approved["sampleRequest"]
        other = await decide(api, REJECT_SAMPLE, sample["id"], "Out of stock")
        assert [e["code"] for e in other["userErrors"]] == ["SAMPLE_ALREADY_DECIDED"]
        assert other["sampleRequest"] is None
    seen = await conversation(api, sample["conversation"]["id"], as_="creator:c1")
    assert notices(seen) == ["SAMPLE_APPROVED"]
    assert seen["sampleRequests"] == [{"id": sample["id"], "status": "APPROVED"}]
    assert seen["messages"]["nodes"][0]["content"]["sampleRequest"]["status"] == "APPROVED"


async def test_reject_once_with_a_reason(api):
    await build_world(api.engine)
    sample = await request_sample(api, 1, "req1", as_="creator:c1")
    rejected = await decide(api, REJECT_SAMPLE, sample["id"], "Out of stock")
    assert rejected["userErrors"] == []
    assert rejected["sampleRequest"]["status"] == "REJECTED"
    assert rejected["sampleRequest"]["rejectReason"] == "Out of stock"
    async with unchanged(api.engine):
        again = await decide(api, REJECT_SAMPLE, sample["id"], "Out of stock")
        assert again["userErrors"] == [] and again["sampleRequest"]["status"] == "REJECTED"
        other = await decide(api, APPROVE_SAMPLE, sample["id"])
        assert [e["code"] for e in other["userErrors"]] == ["SAMPLE_ALREADY_DECIDED"]
    seen = await conversation(api, sample["conversation"]["id"], as_="creator:c1")
    assert notices(seen) == ["SAMPLE_REJECTED"]
    assert "Out of stock" in seen["messages"]["nodes"][-1]["content"]["text"]


async def test_notices_are_never_unread_and_ignored_by_unreplied(api):
    await build_world(api.engine)
    sample = await request_sample(api, 1, "req1", as_="creator:c1")
    conversation_id = sample["conversation"]["id"]
    await decide(api, APPROVE_SAMPLE, sample["id"])
    seller = await conversation(api, conversation_id, as_="shop:s1")
    assert seller["lastMessage"]["senderRole"] == "SYSTEM"
    assert seller["unreadCount"] == 1 and seller["isUnreplied"] is True  # the card only
    creator = await conversation(api, conversation_id, as_="creator:c1")
    assert creator["unreadCount"] == 0 and creator["isUnreplied"] is False
    assert await folder_ids(api, "UNREAD", as_="creator:c1") == set()
    assert await folder_ids(api, "UNREPLIED", as_="shop:s1") == {conversation_id}

    await send_ok(api, text_to_creator(1, "On its way", "k1"), as_="shop:s1")
    second = await request_sample(api, 2, "req2", as_="creator:c1")
    await decide(api, REJECT_SAMPLE, second["id"])
    # Newest non-system message is the creator's card: unreplied for the seller, not for the creator.
    assert await folder_ids(api, "UNREPLIED", as_="shop:s1") == {conversation_id}
    assert await folder_ids(api, "UNREPLIED", as_="creator:c1") == set()
    creator = await conversation(api, conversation_id, as_="creator:c1")
    assert creator["unreadCount"] == 0
    assert (await counts(api, as_="creator:c1"))["unread"] == 0


async def test_refused_requests_and_decisions(api):
    await build_world(api.engine)
    sample = await request_sample(api, 1, "req1", as_="creator:c1")
    async with unchanged(api.engine):
        payload = await refused(api, REQUEST_SAMPLE, sample_input(5, "req2"), as_="creator:c1")  # suspended s3
        assert payload["userErrors"][0]["code"] == "FORBIDDEN"
        payload = await refused(api, REQUEST_SAMPLE, sample_input(999, "req3"), as_="creator:c1")
        assert payload["userErrors"][0]["code"] == "NOT_FOUND"
        payload = await refused(api, REQUEST_SAMPLE, sample_input(1, "req4", "n" * 1001), as_="creator:c1")
        assert payload["userErrors"][0]["code"] == "INVALID_INPUT"
        assert payload["userErrors"][0]["field"] == ["input", "note"]
        payload = await decide(api, APPROVE_SAMPLE, sample["id"], as_="shop:s2")
        assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
        errors = await api.errors(REQUEST_SAMPLE, sample_input(1, "req5"), as_="shop:s1")
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
        errors = await api.errors(APPROVE_SAMPLE, {"input": {"sampleRequestId": sample["id"]}}, as_="creator:c1")
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
