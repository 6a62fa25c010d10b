"""The seller-side catalogue reads: creator marketplace, categories, quota, samples, products, offers."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from commands.platform_import import import_platform_data
from tests.support.gql import (
    APPROVE_SAMPLE,
    BLOCK,
    QUOTA,
    REJECT_SAMPLE,
    UNBLOCK,
    all_pages,
    create_collaboration,
    creator_input,
    gid,
    quota,
    request_sample,
    say,
    start,
    text_to_creator,
)
from tests.support.world import build_world, creators_matching

CREATORS = """
query Creators($filter: CreatorFilter, $orderBy: CreatorOrder, $first: Int, $after: String) {
  creators(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    edges { cursor node { id platformId handle followerCount gmv30d mainCategory isBlocked conversation { id } } }
    nodes { platformId }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""

CREATOR = """query($id: ID!) { creator(id: $id) {
  id platformId handle displayName avatarUrl followerCount mainCategory gmv30d isBlocked conversation { id }
} }"""

SAMPLE_REQUESTS = """
query Samples($status: SampleRequestStatus, $first: Int, $after: String) {
  sampleRequests(status: $status, first: $first, after: $after) {
    edges { cursor node { id status note rejectReason decidedAt createdAt product { platformId }
                          creator { platformId } shop { platformId } conversation { id } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""

SHOP_SIDE_PANEL = """
query Shop($id: ID!, $first: Int, $after: String) {
  node(id: $id) { ... on Shop {
    products(first: $first, after: $after) {
      edges { cursor node { platformId title shop { platformId } } }
      nodes { platformId }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
    targetCollaborations(first: $first, after: $after) {
      edges { cursor node { id name status products { platformId } shop { platformId } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  } }
}"""

# Creators 41, 42 and 43 in import order: ties with creator40 on followers and on GMV, and a non-ASCII name.
EXTRA_CREATORS: list[dict[str, Any]] = [
    {
        "platformId": "x1",
        "handle": "zed",
        "displayName": "Zed Low Reach",
        "avatarUrl": None,
        "followerCount": 100,
        "mainCategory": "Beauty",
        "gmv30d": "99999.00",
    },
    {
        "platformId": "x2",
        "handle": "tie.followers",
        "displayName": "Tie Followers",
        "avatarUrl": None,
        "followerCount": 40000,
        "mainCategory": "Tech",
        "gmv30d": "0.00",
    },
    {
        "platformId": "x3",
        "handle": "tie_both",
        "displayName": "ÉMILIE Café",
        "avatarUrl": None,
        "followerCount": 40000,
        "mainCategory": "Automotive",
        "gmv30d": "4000.00",
    },
]


def ordered(order: str) -> list[str]:
    """Platform ids of the world plus EXTRA_CREATORS, highest first by `order`, ties by id descending."""
    rows = [(1000 * i, Decimal(100 * i), i, f"c{i}") for i in range(1, 41)]
    rows += [(c["followerCount"], Decimal(c["gmv30d"]), 41 + n, c["platformId"]) for n, c in enumerate(EXTRA_CREATORS)]
    key = (lambda row: (row[0], row[2])) if order == "FOLLOWERS_DESC" else (lambda row: (row[1], row[2]))
    return [row[3] for row in sorted(rows, key=key, reverse=True)]


async def creators(api, *, as_: str = "shop:s1", **variables) -> list[str]:
    data = await api.query(CREATORS, {"first": 100, **variables}, as_=as_)
    return [edge["node"]["platformId"] for edge in data["creators"]["edges"]]


async def test_creator_filters_and_viewer_relative_fields(api):
    await build_world(api.engine)
    by_followers = [f"c{i}" for i in range(40, 0, -1)]
    assert await creators(api) == by_followers
    cases = [
        {},
        {"minFollowers": 5000},
        {"maxFollowers": 3000},
        {"minFollowers": 5000, "maxFollowers": 8000},
        {"minFollowers": 40001},
        {"categories": ["Tech"]},
        {"categories": ["Beauty", "Food"]},
        {"categories": ["Nope"]},
        {"minGmv": "300.00", "maxGmv": "700"},
        {"minGmv": "3950.5"},
        {"maxGmv": "100"},
        {"search": "CREATOR1"},
        {"search": "number 7"},
        {"search": "UMBER 3"},
        {"search": "%"},
        {"search": "_"},
        {"search": ""},
        {"categories": ["Fashion"], "minFollowers": 2000, "maxGmv": "2000", "search": "creator"},
    ]
    for flt in cases:
        expected = [pid for pid in by_followers if pid in creators_matching(flt)]
        assert await creators(api, filter=flt) == expected, flt
        assert await creators(api, filter=flt, orderBy="GMV_DESC") == expected, flt  # GMV follows followers here
    # Filtered pages: the Tech creators three at a time.
    flt = {"categories": ["Tech"]}
    edges, infos = await all_pages(api, CREATORS, {"filter": flt}, "creators", as_="shop:s1", first=3)
    assert [edge["node"]["platformId"] for edge in edges] == [p for p in by_followers if p in creators_matching(flt)]
    assert [info["hasNextPage"] for info in infos] == [True, True, True, False]

    # Creator.conversation and Creator.isBlocked are about the viewer's shop.
    s1_c1 = (await say(api, gid("Creator", 1), "hello", as_="shop:s1"))["conversation"]["id"]
    s2_c2 = (await say(api, gid("Creator", 2), "hello", as_="shop:s2"))["conversation"]["id"]
    assert (await api.query(BLOCK, creator_input(2), as_="shop:s1"))["blockCreator"]["userErrors"] == []

    async def seen(viewer, creator):
        found = (await api.query(CREATOR, {"id": gid("Creator", creator)}, as_=viewer))["creator"]
        return (found["conversation"] and found["conversation"]["id"]), found["isBlocked"]

    assert await seen("shop:s1", 1) == (s1_c1, False)
    assert await seen("shop:s1", 2) == (None, True)
    assert await seen("shop:s1", 3) == (None, False)
    assert await seen("shop:s2", 1) == (None, False)
    assert await seen("shop:s2", 2) == (s2_c2, False)
    for viewer, own in (("creator:c1", 1), ("creator:c2", 2)):  # creators see neither, not even about themselves
        assert await seen(viewer, own) == (None, False)
        other = 3 - own  # and another creator's profile not at all (tests/rules/test_permissions.py)
        assert (await api.query(CREATOR, {"id": gid("Creator", other)}, as_=viewer))["creator"] is None

    data = await api.query(CREATORS, {"first": 40}, as_="shop:s1")
    rows = {edge["node"]["platformId"]: edge["node"] for edge in data["creators"]["edges"]}
    assert rows["c1"]["conversation"] == {"id": s1_c1} and rows["c1"]["isBlocked"] is False
    assert rows["c2"]["conversation"] is None and rows["c2"]["isBlocked"] is True
    assert [pid for pid, row in rows.items() if row["conversation"] or row["isBlocked"]] == ["c2", "c1"]

    assert (await api.query(UNBLOCK, creator_input(2), as_="shop:s1"))["unblockCreator"]["userErrors"] == []
    assert await seen("shop:s1", 2) == (None, False)


async def test_creator_orders_ties_pages_and_categories(api):
    await build_world(api.engine)
    for viewer in ("shop:s1", "creator:c1"):
        assert (await api.query("{ categories }", as_=viewer))["categories"] == ["Beauty", "Fashion", "Food", "Tech"]
    await import_platform_data(api.engine, {"creators": EXTRA_CREATORS})
    for viewer in ("shop:s1", "creator:c1"):
        assert (await api.query("{ categories }", as_=viewer))["categories"] == [
            "Automotive",
            "Beauty",
            "Fashion",
            "Food",
            "Tech",
        ]

    for order in ("FOLLOWERS_DESC", "GMV_DESC"):
        expected = ordered(order)
        assert await creators(api, orderBy=order) == expected, order
        # Pages of two put a page boundary between the tied creators (x2|c40 and x3|c40).
        page = (await api.query(CREATORS, {"orderBy": order, "first": 2}, as_="shop:s1"))["creators"]
        following = (
            await api.query(
                CREATORS, {"orderBy": order, "first": 2, "after": page["pageInfo"]["endCursor"]}, as_="shop:s1"
            )
        )["creators"]
        assert [node["platformId"] for node in page["nodes"] + following["nodes"]] == expected[:4], order
        for size in (7, 43):
            edges, infos = await all_pages(api, CREATORS, {"orderBy": order}, "creators", as_="shop:s1", first=size)
            assert [edge["node"]["platformId"] for edge in edges] == expected, (order, size)
            assert [info["hasNextPage"] for info in infos] == [True] * (len(infos) - 1) + [False]
            assert infos[0]["hasPreviousPage"] is False
    assert ordered("FOLLOWERS_DESC")[:3] == ["x3", "x2", "c40"] and ordered("GMV_DESC")[:3] == ["x1", "x3", "c40"]
    # The default order is by followers, 20 a page.
    data = await api.query(CREATORS, {}, as_="shop:s1")
    assert [node["platformId"] for node in data["creators"]["nodes"]] == ordered("FOLLOWERS_DESC")[:20]
    assert data["creators"]["pageInfo"]["hasNextPage"] is True
    assert (await api.query(CREATORS, {"first": 0}, as_="shop:s1"))["creators"]["edges"] == []

    # Search is a case-insensitive substring, also beyond ASCII, with no wildcards.
    for needle, expected in (
        ("émilie", ["x3"]),
        ("CAFÉ", ["x3"]),
        ("tie.", ["x2"]),
        ("tie_", ["x3"]),
        ("TIE", ["x3", "x2"]),
        ("ie_b", ["x3"]),
        ("e.f", ["x2"]),
        ("e%", []),
    ):
        assert await creators(api, filter={"search": needle}) == expected, needle
    assert await creators(api, filter={"categories": ["Automotive", "Tech"], "minFollowers": 40000}) == ["x3", "x2"]
    assert await creators(api, filter={"minGmv": "4000", "maxGmv": "4000.00"}, orderBy="GMV_DESC") == ["x3", "c40"]

    # One creator by id, with every field (a creator reads its own profile).
    creator = (await api.query(CREATOR, {"id": gid("Creator", 3)}, as_="creator:c3"))["creator"]
    assert creator == {
        "id": gid("Creator", 3),
        "platformId": "c3",
        "handle": "creator3",
        "displayName": "Creator Number 3",
        "avatarUrl": "https://img.example/c3.png",
        "followerCount": 3000,
        "mainCategory": "Food",
        "gmv30d": "300.00",
        "isBlocked": False,
        "conversation": None,
    }


async def test_outreach_quota(api):
    await build_world(api.engine)
    before = datetime.now(UTC)
    fresh = await quota(api, as_="shop:s1")
    start_of_week = datetime.fromisoformat(fresh["periodStart"])
    assert start_of_week.utcoffset() == timedelta(0)
    assert start_of_week.weekday() == 0 and start_of_week.time().isoformat() == "00:00:00"
    assert datetime.fromisoformat(fresh["resetsAt"]) - start_of_week == timedelta(days=7)
    assert start_of_week <= before < datetime.fromisoformat(fresh["resetsAt"])
    assert (fresh["weeklyLimit"], fresh["used"], fresh["remaining"]) == (10, 0, 10)
    big = await quota(api, as_="shop:s2")
    assert (big["weeklyLimit"], big["used"], big["remaining"]) == (200, 0, 200)

    await start(api, 1, "FIND_CREATORS", as_="shop:s1")  # opening uses nothing
    assert (await quota(api, as_="shop:s1"))["used"] == 0
    conversation = (await say(api, gid("Creator", 1), "hello", as_="shop:s1"))["conversation"]["id"]
    assert (await quota(api, as_="shop:s1"))["used"] == 1
    await say(api, conversation, "again", as_="shop:s1")  # the same creator counts once
    await say(api, gid("Creator", 2), "hello", as_="shop:s1")
    await say(api, gid("Shop", 1), "a creator writes first", as_="creator:c3")
    await say(api, gid("Creator", 3), "and is answered", as_="shop:s1")  # answering is not outreach
    await say(api, gid("Shop", 1), "thanks", as_="creator:c1")
    now = await quota(api, as_="shop:s1")
    assert (now["weeklyLimit"], now["used"], now["remaining"]) == (10, 2, 8)
    assert (now["periodStart"], now["resetsAt"]) == (fresh["periodStart"], fresh["resetsAt"])
    assert (await quota(api, as_="shop:s2"))["used"] == 0  # per shop

    for creator in range(4, 12):
        await say(api, gid("Creator", creator), "hello", as_="shop:s1")
    assert (await quota(api, as_="shop:s1"))["remaining"] == 0
    refused = await api.query(
        """mutation($input: SendMessageInput!) { sendMessage(input: $input) {
        userErrors { code } } }""",
        text_to_creator(12, "one too many", "over"),
        as_="shop:s1",
    )
    assert refused["sendMessage"]["userErrors"] == [{"code": "WEEKLY_OUTREACH_LIMIT_REACHED"}]
    full = await quota(api, as_="shop:s1")
    assert (full["used"], full["remaining"]) == (10, 0)

    errors = await api.errors(QUOTA, as_="creator:c1")
    assert [error["extensions"]["code"] for error in errors] == ["FORBIDDEN"]


async def test_sample_requests_products_and_collaborations(api):
    await build_world(api.engine)
    r1 = await request_sample(api, 1, "r1", "For my channel", as_="creator:c1")
    r2 = await request_sample(api, 4, "r2", as_="creator:c1")
    r3 = await request_sample(api, 2, "r3", as_="creator:c2")
    r4 = await request_sample(api, 3, "r4", as_="creator:c3")
    approved = await api.query(APPROVE_SAMPLE, {"input": {"sampleRequestId": r1["id"]}}, as_="shop:s1")
    assert approved["approveSampleRequest"]["userErrors"] == []
    rejected = await api.query(
        REJECT_SAMPLE, {"input": {"sampleRequestId": r3["id"], "reason": "Out of stock"}}, as_="shop:s1"
    )
    assert rejected["rejectSampleRequest"]["userErrors"] == []

    async def listed(viewer, status=None):
        data = await api.query(SAMPLE_REQUESTS, {"status": status, "first": 100}, as_=viewer)
        return [edge["node"] for edge in data["sampleRequests"]["edges"]]

    def ids(nodes):
        return sorted(node["id"] for node in nodes)

    assert ids(await listed("shop:s1")) == sorted([r1["id"], r3["id"], r4["id"]])
    assert ids(await listed("shop:s1", "PENDING")) == [r4["id"]]
    assert ids(await listed("shop:s1", "APPROVED")) == [r1["id"]]
    (rejected_row,) = await listed("shop:s1", "REJECTED")
    assert rejected_row["id"] == r3["id"] and rejected_row["rejectReason"] == "Out of stock"
    assert rejected_row["decidedAt"] is not None and rejected_row["creator"] == {"platformId": "c2"}
    assert ids(await listed("shop:s2")) == [r2["id"]]
    assert ids(await listed("creator:c1")) == sorted([r1["id"], r2["id"]])
    assert ids(await listed("creator:c1", "APPROVED")) == [r1["id"]]
    assert ids(await listed("creator:c1", "REJECTED")) == []
    assert ids(await listed("creator:c2")) == [r3["id"]]
    assert await listed("creator:c5") == []
    row = {node["id"]: node for node in await listed("creator:c1")}[r1["id"]]
    assert row["note"] == "For my channel" and row["status"] == "APPROVED" and row["decidedAt"] is not None
    assert row["product"] == {"platformId": "p1"} and row["shop"] == {"platformId": "s1"}
    pending = {node["id"]: node for node in await listed("shop:s1")}[r4["id"]]
    assert pending["decidedAt"] is None and pending["rejectReason"] is None

    # Pages: the concatenation is the whole list, once each.
    everything = [node["id"] for node in await listed("shop:s1")]
    for size in (1, 2):
        edges, infos = await all_pages(api, SAMPLE_REQUESTS, {}, "sampleRequests", as_="shop:s1", first=size)
        assert [edge["node"]["id"] for edge in edges] == everything
        assert [info["hasNextPage"] for info in infos] == [True] * (len(infos) - 1) + [False]

    # A conversation lists its own requests, by status.
    conversation = r1["conversation"]["id"]
    data = await api.query(
        """query($id: ID!) { conversation(id: $id) {
        all: sampleRequests { id } approved: sampleRequests(status: APPROVED) { id }
        pending: sampleRequests(status: PENDING) { id } } }""",
        {"id": conversation},
        as_="shop:s1",
    )
    assert data["conversation"] == {"all": [{"id": r1["id"]}], "approved": [{"id": r1["id"]}], "pending": []}

    # The shop's products and target collaborations: for the shop's own seller only.
    spring = await create_collaboration(api, (1, 2), as_="shop:s1")
    summer = await create_collaboration(api, (3,), as_="shop:s1")

    async def panel(viewer, shop, **page):
        return (await api.query(SHOP_SIDE_PANEL, {"id": gid("Shop", shop), **page}, as_=viewer))["node"]

    own = await panel("shop:s1", 1)
    assert [edge["node"]["platformId"] for edge in own["products"]["edges"]] == ["p1", "p2", "p3"]
    assert own["products"]["edges"][0]["node"] == {"platformId": "p1", "title": "Serum 1", "shop": {"platformId": "s1"}}
    assert [edge["node"]["id"] for edge in own["targetCollaborations"]["edges"]] == [spring, summer]
    assert own["targetCollaborations"]["edges"][0]["node"]["products"] == [{"platformId": "p1"}, {"platformId": "p2"}]

    first_page = await panel("shop:s1", 1, first=2)
    assert first_page["products"]["nodes"] == [{"platformId": "p1"}, {"platformId": "p2"}]
    assert first_page["products"]["pageInfo"]["hasNextPage"] is True
    second_page = await panel("shop:s1", 1, first=2, after=first_page["products"]["pageInfo"]["endCursor"])
    assert second_page["products"]["nodes"] == [{"platformId": "p3"}]
    assert second_page["products"]["pageInfo"]["hasNextPage"] is False
    one = await panel("shop:s1", 1, first=1)
    assert [edge["node"]["id"] for edge in one["targetCollaborations"]["edges"]] == [spring]
    assert one["targetCollaborations"]["pageInfo"]["hasNextPage"] is True

    # The viewer's own shop through `viewer` is the same.
    mine = await api.query("{ viewer { shop { products { nodes { platformId } } } } }", as_="shop:s1")
    assert mine["viewer"]["shop"]["products"]["nodes"] == [{"platformId": p} for p in ("p1", "p2", "p3")]

    for viewer, shop in (("shop:s2", 1), ("creator:c1", 1), ("shop:s1", 2), ("creator:c1", 2)):
        other = await panel(viewer, shop)
        assert other["products"]["edges"] == [] and other["products"]["pageInfo"]["hasNextPage"] is False, viewer
        assert other["targetCollaborations"]["edges"] == [], viewer
