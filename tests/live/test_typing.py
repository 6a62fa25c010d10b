"""Typing indicators: reportTyping and Subscription.typing on every transport, who hears them, the 2-s
repeat rule, expiresAt, a send ending the indicator, the refusals and the typing rate. Nothing is stored.
Across processes: tests/live/test_typing_processes.py."""

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from core.indicators import Change, MemoryIndicators, RedisIndicators
from tests.live.test_http_streams import MULTIPART, SSE, _sse_events
from tests.support.app import world_api
from tests.support.gql import BLOCK, SEND, UNBLOCK, gid, say, start, text_to_creator, text_to_shop
from tests.support.world import build_world, set_shop_status, unchanged
from tests.support.ws import PROTOCOLS, TRANSPORT_WS, WSClient

REPORT = """
mutation Report($input: ReportTypingInput!) { reportTyping(input: $input) { userErrors { code message field } } }"""

TYPING = """
subscription Typing($conversationId: ID) {
  typing(conversationId: $conversationId) { conversation { id } role isTyping expiresAt }
}"""

CONVERSATION_1 = gid("Conversation", 1)  # shop s1 and creator c1 (the first one opened)


async def report(api, conversation: str, *, as_: str, is_typing: bool | None = None) -> list[dict]:
    """The userErrors of a typing report."""
    variables = {"input": {"conversationId": conversation, **({} if is_typing is None else {"isTyping": is_typing})}}
    return (await api.query(REPORT, variables, as_=as_))["reportTyping"]["userErrors"]


async def report_ok(api, conversation: str, *, as_: str, is_typing: bool | None = None) -> None:
    assert await report(api, conversation, as_=as_, is_typing=is_typing) == []


async def _chat(api) -> None:
    """The world, and conversation 1 (s1 and c1) that both sides see."""
    await build_world(api.engine)
    await say(api, gid("Creator", 1), "Hello from s1", as_="shop:s1")


async def _listen(
    api, subject: str, expected: int, variables: dict | None = None, protocol: str = TRANSPORT_WS
) -> WSClient:
    """A socket of `subject` subscribed to `typing`, once the app holds `expected` subscriptions."""
    client = await WSClient.connect(api.http.session, str(api.http.make_url("/graphql")), protocol, api.token(subject))
    assert await client.acked()
    await client.subscribe(TYPING, variables)
    await api.wait_subscribed(expected)
    return client


async def _next(client: WSClient) -> dict:
    message = await client.next_payload()
    assert message["type"] in ("next", "data"), message
    return message["payload"]["data"]["typing"]


def _brief(indicator: dict) -> tuple:
    return indicator["conversation"]["id"], indicator["role"], indicator["isTyping"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_indicator_reaches_only_the_other_side_of_its_conversation(api, protocol):
    await _chat(api)
    await say(api, gid("Creator", 2), "Hello from s2", as_="shop:s2")  # conversation 2: s2 and c2
    conversation_2 = gid("Conversation", 2)
    seller, creator = (
        await _listen(api, "shop:s1", 1, protocol=protocol),
        await _listen(api, "creator:c1", 2, protocol=protocol),
    )
    other_seller = await _listen(api, "shop:s2", 3, protocol=protocol)
    other_creator = await _listen(api, "creator:c2", 4, protocol=protocol)
    await report_ok(api, CONVERSATION_1, as_="creator:c1")
    assert _brief(await _next(seller)) == (CONVERSATION_1, "CREATOR", True)
    await report_ok(api, CONVERSATION_1, as_="shop:s1")
    # The first indicator each socket gets is the other side's: never its own side's, never another shop's.
    assert _brief(await _next(creator)) == (CONVERSATION_1, "SELLER", True)
    await report_ok(api, conversation_2, as_="creator:c2")
    await report_ok(api, conversation_2, as_="shop:s2")
    assert _brief(await _next(other_seller)) == (conversation_2, "CREATOR", True)
    assert _brief(await _next(other_creator)) == (conversation_2, "SELLER", True)


async def test_another_tab_of_the_reporters_side_hears_nothing(api):
    await _chat(api)
    other_tab = await _listen(api, "creator:c1", 1)
    await report_ok(api, CONVERSATION_1, as_="creator:c1")
    await report_ok(api, CONVERSATION_1, as_="shop:s1")
    assert _brief(await _next(other_tab)) == (CONVERSATION_1, "SELLER", True)


async def test_a_subscription_to_one_conversation_hears_only_that_one(api):
    await _chat(api)
    await say(api, gid("Creator", 2), "Hello c2", as_="shop:s1")  # conversation 2: s1 and c2
    seller = await _listen(api, "shop:s1", 1, {"conversationId": gid("Conversation", 2)})
    await report_ok(api, CONVERSATION_1, as_="creator:c1")
    await report_ok(api, gid("Conversation", 2), as_="creator:c2")
    assert _brief(await _next(seller)) == (gid("Conversation", 2), "CREATOR", True)


async def test_expires_at_is_six_seconds_after_the_report(api):
    await _chat(api)
    seller = await _listen(api, "shop:s1", 1)
    before = datetime.now(UTC)
    await report_ok(api, CONVERSATION_1, as_="creator:c1")
    after = datetime.now(UTC)
    expires_at = datetime.fromisoformat((await _next(seller))["expiresAt"])
    assert expires_at.utcoffset() is not None
    assert before + timedelta(seconds=6) <= expires_at <= after + timedelta(seconds=6)


async def test_repeats_within_two_seconds_are_accepted_but_not_told_again(api):
    await _chat(api)
    seller = await _listen(api, "shop:s1", 1)
    for _ in range(3):
        await report_ok(api, CONVERSATION_1, as_="creator:c1")
    # A change goes out at once; the next indicator after the first is the stop, not a repeat.
    await report_ok(api, CONVERSATION_1, as_="creator:c1", is_typing=False)
    await report_ok(api, CONVERSATION_1, as_="creator:c1", is_typing=False)
    await report_ok(api, CONVERSATION_1, as_="creator:c1")
    assert [(await _next(seller))["isTyping"] for _ in range(3)] == [True, False, True]
    await asyncio.sleep(2.1)  # past the repeat window: the same report is told again
    await report_ok(api, CONVERSATION_1, as_="creator:c1")
    await report_ok(api, CONVERSATION_1, as_="creator:c1", is_typing=False)
    assert [(await _next(seller))["isTyping"] for _ in range(2)] == [True, False]


async def test_sending_a_message_ends_the_senders_indicator(api):
    await _chat(api)
    seller = await _listen(api, "shop:s1", 1)
    await report_ok(api, CONVERSATION_1, as_="creator:c1")
    assert _brief(await _next(seller)) == (CONVERSATION_1, "CREATOR", True)
    await say(api, gid("Shop", 1), "Typed and sent", as_="creator:c1")
    assert _brief(await _next(seller)) == (CONVERSATION_1, "CREATOR", False)
    # Typing again right after the send is told at once (the send ended the repeat window too).
    await report_ok(api, CONVERSATION_1, as_="creator:c1")
    assert _brief(await _next(seller)) == (CONVERSATION_1, "CREATOR", True)


async def test_a_send_without_an_indicator_tells_nothing(api):
    await _chat(api)
    creator = await _listen(api, "creator:c1", 1)
    await say(api, gid("Creator", 1), "No typing reported", as_="shop:s1")
    await report_ok(api, CONVERSATION_1, as_="shop:s1")
    assert _brief(await _next(creator)) == (CONVERSATION_1, "SELLER", True)  # not a stop from the send


async def test_reports_store_nothing(api):
    await _chat(api)
    async with unchanged(api.engine):
        await report_ok(api, CONVERSATION_1, as_="creator:c1")
        await report_ok(api, CONVERSATION_1, as_="shop:s1", is_typing=False)


async def test_a_report_costs_one_statement_and_the_same_when_repeated(api):
    await _chat(api)
    for _ in range(2):
        with api.count_statements() as statements:
            await report_ok(api, CONVERSATION_1, as_="creator:c1")
        assert len(statements) == 2, statements  # the viewer (no auth cache here), the conversation's checks


async def test_conversations_the_viewer_cannot_see_are_not_found(api):
    await _chat(api)
    await start(api, 3)  # s1 opened a conversation with c3 and sent nothing: c3 does not see it yet
    missing = {"code": "NOT_FOUND", "message": "The conversation was not found.", "field": ["input", "conversationId"]}
    for subject, conversation in (
        ("shop:s2", CONVERSATION_1),
        ("creator:c2", CONVERSATION_1),
        ("shop:s1", gid("Conversation", 99)),
        ("creator:c3", gid("Conversation", 2)),
    ):
        assert await report(api, conversation, as_=subject) == [missing], subject
    client = await WSClient.connect(
        api.http.session, str(api.http.make_url("/graphql")), TRANSPORT_WS, api.token("shop:s2")
    )
    assert await client.acked()
    await client.subscribe(TYPING, {"conversationId": CONVERSATION_1})
    message = await client.next_payload()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_the_creator_hears_nothing_of_a_conversation_it_does_not_see_yet(api):
    await build_world(api.engine)
    opened = await start(api, 1)
    creator = await _listen(api, "creator:c1", 1)
    await report_ok(api, opened["id"], as_="shop:s1")  # accepted: the seller sees the conversation
    await say(api, opened["id"], "First message", as_="shop:s1")
    await report_ok(api, opened["id"], as_="shop:s1")
    indicator = await _next(creator)
    assert _brief(indicator) == (opened["id"], "SELLER", True)


async def test_typing_is_blocked_while_either_side_blocks(api):
    await _chat(api)
    seller = await _listen(api, "shop:s1", 1)
    await api.query(BLOCK, {"input": {"creatorId": gid("Creator", 1)}}, as_="shop:s1")
    async with unchanged(api.engine):
        for subject in ("shop:s1", "creator:c1"):
            (error,) = await report(api, CONVERSATION_1, as_=subject)
            assert error["code"] == "BLOCKED" and error["field"] is None, subject
    await api.query(UNBLOCK, {"input": {"creatorId": gid("Creator", 1)}}, as_="shop:s1")
    await report_ok(api, CONVERSATION_1, as_="creator:c1")
    assert _brief(await _next(seller)) == (CONVERSATION_1, "CREATOR", True)  # the refused ones told nothing


async def test_an_inactive_shop_refuses_its_sellers_and_forbids_the_creator(api):
    await _chat(api)
    await set_shop_status(api.engine, "s1", "SUSPENDED")
    errors = await api.errors(REPORT, {"input": {"conversationId": CONVERSATION_1}}, as_="shop:s1")
    assert errors[0]["extensions"]["code"] == "SHOP_INACTIVE"
    (error,) = await report(api, CONVERSATION_1, as_="creator:c1")
    assert error["code"] == "FORBIDDEN"


async def test_reports_have_a_rate_bucket_of_their_own(aiohttp_client, database_url, tmp_path):
    api = await world_api(
        aiohttp_client, database_url, tmp_path, typing_burst=2, typing_rate=0.01, mutation_burst=2, mutation_rate=0.01
    )
    await say(api, gid("Creator", 1), "Hello", as_="shop:s1")  # a mutation token of s1
    for _ in range(2):
        await report_ok(api, CONVERSATION_1, as_="shop:s1")
    (error,) = await report(api, CONVERSATION_1, as_="shop:s1")
    assert error["code"] == "RATE_LIMITED" and "retry in" in error["message"]
    await report_ok(api, CONVERSATION_1, as_="creator:c1")  # another principal, a bucket of its own
    # Reports took no mutation token: s1 still has its second send.
    sent = await api.query(SEND, text_to_creator(1, "still allowed", "k-after"), as_="shop:s1")
    assert sent["sendMessage"]["userErrors"] == []


async def _parts(response: aiohttp.ClientResponse, count: int, timeout: float = 10) -> list[dict]:
    """The results of the next `count` parts of a multipart subscription ({} parts are heartbeats)."""
    results: list[dict] = []
    async with asyncio.timeout(timeout):
        reader = aiohttp.MultipartReader.from_response(response)
        while len(results) < count:
            part = await reader.next()
            assert isinstance(part, aiohttp.BodyPartReader)
            if body := await part.json():
                results.append(body["payload"])
    return results


@pytest.mark.parametrize("accept", ["sse", "multipart"])
async def test_typing_over_http_streams(aiohttp_client, database_url, tmp_path, accept):
    api = await world_api(aiohttp_client, database_url, tmp_path)
    await say(api, gid("Creator", 1), "Hello", as_="shop:s1")
    response = await api.http.post(
        "/graphql",
        json={"query": TYPING, "variables": {}},
        headers={**(SSE if accept == "sse" else MULTIPART), "Authorization": f"Bearer {api.token('shop:s1')}"},
    )
    assert response.status == 200
    await api.wait_subscribed(1)
    await report_ok(api, CONVERSATION_1, as_="creator:c1")
    await api.query(SEND, text_to_shop(1, "reply", "r1"), as_="creator:c1")  # ends the indicator
    if accept == "sse":
        results = [result for name, result in await _sse_events(response, 2) if name == "next"]
    else:
        results = await _parts(response, 2)
    assert [_brief(result["data"]["typing"]) for result in results] == [
        (CONVERSATION_1, "CREATOR", True),
        (CONVERSATION_1, "CREATOR", False),
    ]
    response.close()


@pytest.mark.parametrize("gate", ["memory", "redis"])
async def test_the_gates_agree_on_every_change(gate, redis_server):
    """The rules of core/indicators.py, on the in-process gate and the Redis one alike."""
    indicators = MemoryIndicators() if gate == "memory" else RedisIndicators(redis_server.url)
    steps = [
        (Change.START, True),
        (Change.START, False),
        (Change.STOP, True),
        (Change.STOP, False),
        (Change.START, True),
        (Change.SENT, True),
        (Change.SENT, False),
        (Change.STOP, False),
        (Change.START, True),
    ]
    try:
        assert [await indicators.admit("7:CREATOR", change) for change, _ in steps] == [told for _, told in steps]
        assert await indicators.admit("7:SELLER", Change.START)  # each side has keys of its own
        assert not await indicators.admit("8:CREATOR", Change.SENT)  # nothing showing, nothing to end
    finally:
        await indicators.close()
