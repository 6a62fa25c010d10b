"""The weekly outreach limit: which sends use a unit, and the refusal at zero."""

from datetime import UTC, datetime, timedelta

from tests.support.gql import (
    SEND_FULL,
    conversation_with,
    create_collaboration,
    invite_to_creator,
    product_to_creator,
    quota,
    refused,
    request_sample,
    send_ok,
    start,
    text_in,
    text_to_creator,
    text_to_shop,
    use_up_quota,
)
from tests.support.world import build_world, unchanged


async def test_quota_comes_from_gmv_and_weeks_start_on_monday(api):
    await build_world(api.engine)
    small, large = await quota(api, "shop:s1"), await quota(api, "shop:s2")
    assert (small["weeklyLimit"], small["used"], small["remaining"]) == (10, 0, 10)
    assert (large["weeklyLimit"], large["used"], large["remaining"]) == (200, 0, 200)
    start_of_week = datetime.fromisoformat(small["periodStart"])
    assert start_of_week.utcoffset() == timedelta(0)
    assert start_of_week.weekday() == 0 and start_of_week.time() == datetime.min.time()
    assert datetime.fromisoformat(small["resetsAt"]) == start_of_week + timedelta(days=7)
    assert start_of_week <= datetime.now(UTC) < start_of_week + timedelta(days=7)
    errors = await api.errors("query { outreachQuota { remaining } }", as_="creator:c1")
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_first_message_of_a_new_conversation_uses_one_unit(api):
    await build_world(api.engine)
    await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    assert (await quota(api))["used"] == 1 and (await quota(api))["remaining"] == 9
    # Further messages in the same conversation, of any kind, use none.
    await send_ok(api, text_to_creator(1, "More", "k2"), as_="shop:s1")
    await send_ok(api, product_to_creator(1, 1, "k3"), as_="shop:s1")
    assert (await quota(api))["used"] == 1
    # Each new creator uses one, at once.
    for creator in (2, 3, 4):
        await send_ok(api, text_to_creator(creator, "Hello", f"n{creator}"), as_="shop:s1")
        assert (await quota(api))["used"] == creator
    # Units are the shop's own.
    assert (await quota(api, "shop:s2"))["used"] == 0
    await send_ok(api, text_to_creator(1, "Hello from s2", "k1"), as_="shop:s2")
    assert (await quota(api, "shop:s2"))["used"] == 1 and (await quota(api))["used"] == 4


async def test_creator_initiated_conversations_use_no_unit(api):
    await build_world(api.engine)
    await send_ok(api, text_to_shop(1, "Hi, I love your serums", "r1"), as_="creator:c1")
    await request_sample(api, 2, "req1", as_="creator:c2")
    for creator in (1, 2):
        sent = await send_ok(api, text_to_creator(creator, "Thanks for writing", f"k{creator}"), as_="shop:s1")
        assert sent["conversation"]["entrance"] in ("CREATOR_INITIATED", "SAMPLE_REQUEST")
    assert (await quota(api))["used"] == 0


async def test_at_the_limit_new_outreach_is_refused_and_nothing_is_written(api):
    await build_world(api.engine)
    await send_ok(api, text_to_shop(1, "Hello shop", "r1"), as_="creator:c20")
    await use_up_quota(api, range(1, 11))
    full = await quota(api)
    assert (full["used"], full["remaining"]) == (10, 0)
    opened = await start(api, 12, "FIND_CREATORS")  # opening is still possible: it uses no unit

    async with unchanged(api.engine):
        for variables in (
            text_to_creator(11, "Hello", "k11"),
            product_to_creator(11, 1, "p11"),
            text_in(opened["id"], "Hello", "k12"),
        ):
            payload = await refused(api, SEND_FULL, variables, as_="shop:s1")
            error = payload["userErrors"][0]
            assert error["code"] == "WEEKLY_OUTREACH_LIMIT_REACHED", payload
            assert full["resetsAt"][:10] in error["message"], error
            assert payload["message"] is None and payload["conversation"] is None
    assert await conversation_with(api, 11) is None
    assert (await conversation_with(api, 12))["messages"]["nodes"] == []
    assert await quota(api) == full

    # Creators already reached, and creators who wrote first, can still be answered.
    await send_ok(api, text_to_creator(1, "Following up", "f1"), as_="shop:s1")
    await send_ok(api, text_to_creator(20, "Thanks for writing", "f20"), as_="shop:s1")
    await send_ok(api, text_to_shop(1, "Hi, new creator here", "r1"), as_="creator:c13")
    await send_ok(api, text_to_creator(13, "Welcome", "f13"), as_="shop:s1")
    assert await quota(api) == full
    # Another shop is not affected.
    await send_ok(api, text_to_creator(11, "Hello from s2", "k11"), as_="shop:s2")


async def test_collaboration_invite_uses_a_unit_unless_the_creator_already_used_one(api):
    await build_world(api.engine)
    collaboration = await create_collaboration(api, products=(1, 2))
    # Invite as the first message: one unit for the creator, not two.
    sent = await send_ok(api, invite_to_creator(1, collaboration, "i1"), as_="shop:s1")
    assert sent["message"]["content"] == {"__typename": "CollaborationInvite", "collaboration": {"id": collaboration}}
    assert (await quota(api))["used"] == 1
    await send_ok(api, invite_to_creator(1, collaboration, "i1b"), as_="shop:s1")
    assert (await quota(api))["used"] == 1
    # A creator who wrote first: replies are free, an invite uses a unit, once a week.
    await send_ok(api, text_to_shop(1, "Hi", "r1"), as_="creator:c2")
    await send_ok(api, text_to_creator(2, "Hello back", "t2"), as_="shop:s1")
    assert (await quota(api))["used"] == 1
    await send_ok(api, invite_to_creator(2, collaboration, "i2"), as_="shop:s1")
    assert (await quota(api))["used"] == 2
    await send_ok(api, invite_to_creator(2, collaboration, "i2b"), as_="shop:s1")
    assert (await quota(api))["used"] == 2


async def test_collaboration_invite_at_the_limit(api):
    await build_world(api.engine)
    collaboration = await create_collaboration(api)
    await send_ok(api, text_to_shop(1, "Hi", "r1"), as_="creator:c30")
    await use_up_quota(api, range(1, 11))
    async with unchanged(api.engine):
        for creator in (30, 11):  # wrote first but never reached; never contacted
            payload = await refused(
                api, SEND_FULL, invite_to_creator(creator, collaboration, f"i{creator}"), as_="shop:s1"
            )
            assert payload["userErrors"][0]["code"] == "WEEKLY_OUTREACH_LIMIT_REACHED", payload
    # A creator who already used a unit this week can still be invited.
    await send_ok(api, invite_to_creator(3, collaboration, "i3"), as_="shop:s1")
    assert (await quota(api))["remaining"] == 0
