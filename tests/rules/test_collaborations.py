"""Target collaborations: creating one over the shop's own products, and inviting creators to it."""

from decimal import Decimal

from tests.support.gql import (
    CREATE_COLLABORATION,
    SEND_FULL,
    collaboration_input,
    conversation_with,
    create_collaboration,
    gid,
    invite_to_creator,
    pk_of,
    quota,
    refused,
    send_ok,
    text_to_shop,
)
from tests.support.world import build_world, end_collaboration, unchanged

SHOP_COLLABORATIONS = """
query { viewer { shop { targetCollaborations { nodes { id name status commissionRate } } } } }"""


async def test_create_a_collaboration_over_own_products(api):
    await build_world(api.engine)
    payload = (
        await api.query(CREATE_COLLABORATION, collaboration_input([2, 1], "0.15", "  Spring launch "), as_="shop:s1")
    )["createTargetCollaboration"]
    assert payload["userErrors"] == []
    collaboration = payload["collaboration"]
    assert collaboration["name"] == "Spring launch" and collaboration["status"] == "ACTIVE"
    assert Decimal(collaboration["commissionRate"]) == Decimal("0.15")
    assert collaboration["products"] == [{"id": gid("Product", 2)}, {"id": gid("Product", 1)}]
    assert collaboration["shop"] == {"id": gid("Shop", 1)}
    for rate in ("0.01", "0.80"):
        await create_collaboration(api, (3,), rate)
    listed = (await api.query(SHOP_COLLABORATIONS, as_="shop:s1"))["viewer"]["shop"]["targetCollaborations"]
    assert len(listed["nodes"]) == 3
    assert (await quota(api))["used"] == 0  # creating one reaches nobody


async def test_commission_rate_from_1_to_80_percent(api):
    await build_world(api.engine)
    async with unchanged(api.engine):
        for rate in ("0.81", "0", "0.00", "0.009", "-0.10", "1"):
            payload = await refused(api, CREATE_COLLABORATION, collaboration_input([1], rate), as_="shop:s1")
            error = payload["userErrors"][0]
            assert error["code"] == "INVALID_INPUT" and error["field"] == ["input", "commissionRate"], (rate, payload)
            assert payload["collaboration"] is None


async def test_only_the_shops_own_products(api):
    await build_world(api.engine)
    async with unchanged(api.engine):
        for products in ([4], [1, 4], [5], [999], [], [1, 1]):
            payload = await refused(api, CREATE_COLLABORATION, collaboration_input(products), as_="shop:s1")
            error = payload["userErrors"][0]
            assert error["code"] == "INVALID_INPUT" and error["field"] == ["input", "productIds"], (products, payload)
        errors = await api.errors(CREATE_COLLABORATION, collaboration_input([1]), as_="creator:c1")
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_inviting_sends_the_collaboration_and_uses_quota(api):
    await build_world(api.engine)
    collaboration = await create_collaboration(api, (1, 2))
    sent = await send_ok(api, invite_to_creator(1, collaboration, "i1"), as_="shop:s1")
    assert sent["message"]["content"]["collaboration"]["id"] == collaboration
    assert sent["conversation"]["entrance"] == "CREATOR_MESSAGES"
    assert sent["conversation"]["messagesRemainingBeforeReply"] == 4
    assert (await quota(api))["used"] == 1
    seen = await conversation_with(api, 1)
    assert seen["messages"]["nodes"][0]["content"]["__typename"] == "CollaborationInvite"
    # Creator-initiated conversation: the invite still uses a unit.
    await send_ok(api, text_to_shop(1, "Hi", "r1"), as_="creator:c2")
    await send_ok(api, invite_to_creator(2, collaboration, "i2", entrance="TARGETED_PLAN"), as_="shop:s1")
    assert (await quota(api))["used"] == 2
    assert (await conversation_with(api, 2))["entrance"] == "CREATOR_INITIATED"


async def test_invites_to_another_shops_or_an_ended_collaboration_are_refused(api):
    await build_world(api.engine)
    theirs = await create_collaboration(api, (4,), as_="shop:s2")
    ended = await create_collaboration(api, (1,))
    await end_collaboration(api.engine, pk_of(ended))
    async with unchanged(api.engine):
        for collaboration in (theirs, ended, gid("TargetCollaboration", 999)):
            payload = await refused(
                api, SEND_FULL, invite_to_creator(1, collaboration, f"i-{collaboration}"), as_="shop:s1"
            )
            error = payload["userErrors"][0]
            assert error["code"] == "INVALID_INPUT", payload
            assert error["field"] == ["input", "content", "collaborationId"]
    assert await conversation_with(api, 1) is None
    assert (await quota(api))["used"] == 0
