"""Image messages: captions, and an image message being a message for every rule (five before a reply,
outreach, blocks, idempotency, bulk), delivered live, shown as lastMessage, found by its caption, and read
in a fixed number of statements."""

from tests.support.gql import BLOCK, INBOX, SEND_BULK, creator_input, gid, send_ok, text_to_shop
from tests.support.images import (
    IMAGE_FIELDS,
    SEND_IMAGE,
    encode,
    image_to_creator,
    image_to_shop,
    jpeg_with_gps,
    picture,
    upload_ok,
)
from tests.support.world import build_world
from tests.support.ws import WSClient

SEARCH = """
query Search($query: String!) {
  searchMessages(query: $query) { edges { snippet node { id content { ... on ImageContent { caption } } } } }
}"""


async def send_image(api, variables: dict, *, as_: str) -> dict:
    return (await api.query(SEND_IMAGE, variables, as_=as_))["sendMessage"]


async def test_captions_are_trimmed_and_a_blank_one_is_none(api):
    await build_world(api.engine)
    image = await upload_ok(api, jpeg_with_gps(), as_="shop:s1")
    sent = await send_image(api, image_to_creator(1, image["id"], "k1", "  Our new serum  "), as_="shop:s1")
    content = sent["message"]["content"]
    assert content["__typename"] == "ImageContent" and content["caption"] == "Our new serum"
    assert content["image"]["id"] == image["id"] and content["image"]["width"] == 600
    for key, caption in (("k2", "   \n "), ("k3", None), ("k4", "")):
        blank = await send_image(api, image_to_creator(1, image["id"], key, caption), as_="shop:s1")
        assert blank["message"]["content"]["caption"] is None, caption
    too_long = await send_image(api, image_to_creator(1, image["id"], "k5", "x" * 2001), as_="shop:s1")
    assert [e["code"] for e in too_long["userErrors"]] == ["INVALID_INPUT"]
    controls = await send_image(api, image_to_creator(1, image["id"], "k6", "bad\x00"), as_="shop:s1")
    assert [e["code"] for e in controls["userErrors"]] == ["INVALID_INPUT"]
    assert controls["userErrors"][0]["field"] == ["input", "content", "image", "caption"]


async def test_a_retry_with_the_same_key_returns_the_first_message(api):
    await build_world(api.engine)
    image = await upload_ok(api, jpeg_with_gps(), as_="shop:s1")
    other = await upload_ok(api, encode(picture(50, 50), "PNG"), as_="shop:s1")
    first = await send_image(api, image_to_creator(1, image["id"], "same", "hi"), as_="shop:s1")
    again = await send_image(api, image_to_creator(1, image["id"], "same", " hi "), as_="shop:s1")
    assert again["message"]["id"] == first["message"]["id"]
    for changed in (image_to_creator(1, image["id"], "same", "other"), image_to_creator(1, other["id"], "same", "hi")):
        refused = await send_image(api, changed, as_="shop:s1")
        assert [e["field"] for e in refused["userErrors"]] == [["input", "clientMessageId"]]


async def test_image_messages_count_like_any_message(api):
    """Five before a reply, the outreach unit of a first message, blocks either way; creators send images too."""
    await build_world(api.engine)
    images = [await upload_ok(api, encode(picture(20 + n, 20), "PNG"), as_="shop:s1") for n in range(6)]
    remaining = []
    for n, image in enumerate(images[:5]):
        sent = await send_image(api, image_to_creator(1, image["id"], f"k{n}"), as_="shop:s1")
        remaining.append(sent["conversation"]["messagesRemainingBeforeReply"])
    assert remaining == [4, 3, 2, 1, 0]
    sixth = await send_image(api, image_to_creator(1, images[5]["id"], "k5"), as_="shop:s1")
    assert [e["code"] for e in sixth["userErrors"]] == ["PRE_REPLY_LIMIT_REACHED"]
    quota = (await api.query("{ outreachQuota { used } }", as_="shop:s1"))["outreachQuota"]
    assert quota["used"] == 1

    photo = await upload_ok(api, encode(picture(60, 40), "WEBP"), as_="creator:c1")
    reply = await send_image(api, image_to_shop(1, photo["id"], "r1", "my stats"), as_="creator:c1")
    assert reply["userErrors"] == [] and reply["message"]["content"]["caption"] == "my stats"
    assert (await send_image(api, image_to_creator(1, images[5]["id"], "k6"), as_="shop:s1"))["userErrors"] == []

    blocked = await api.query(BLOCK, creator_input(1), as_="shop:s1")
    assert blocked["blockCreator"]["userErrors"] == []
    again = await upload_ok(api, encode(picture(61, 40), "PNG"), as_="creator:c1")
    refused = await send_image(api, image_to_shop(1, again["id"], "r2"), as_="creator:c1")
    assert [e["code"] for e in refused["userErrors"]] == ["BLOCKED"]
    refused = await send_image(api, image_to_creator(1, images[0]["id"], "k7"), as_="shop:s1")
    assert [e["code"] for e in refused["userErrors"]] == ["BLOCKED"]


async def test_an_image_shows_as_last_message_and_is_found_by_its_caption(api):
    await build_world(api.engine)
    image = await upload_ok(api, jpeg_with_gps(), as_="shop:s1")
    await send_image(api, image_to_creator(1, image["id"], "k1", "Lavender body lotion"), as_="shop:s1")
    inbox = INBOX.replace("... on TextContent { text }", "... on TextContent { text } ... on ImageContent { %s }")
    data = await api.query(inbox % IMAGE_FIELDS, {"folder": "ALL"}, as_="creator:c1")
    (edge,) = data["conversations"]["edges"]
    last = edge["node"]["lastMessage"]["content"]
    assert last["__typename"] == "ImageContent" and last["caption"] == "Lavender body lotion"
    assert last["image"]["id"] == image["id"]
    for subject in ("creator:c1", "shop:s1"):
        found = (await api.query(SEARCH, {"query": "body lot"}, as_=subject))["searchMessages"]["edges"]
        assert [edge["node"]["content"]["caption"] for edge in found] == ["Lavender body lotion"]
    assert (await api.query(SEARCH, {"query": "body lot"}, as_="creator:c2"))["searchMessages"]["edges"] == []


async def test_a_bulk_send_carries_the_image_to_every_creator(api):
    await build_world(api.engine)
    image = await upload_ok(api, jpeg_with_gps(), as_="shop:s2")
    variables = {
        "input": {
            "creatorIds": [gid("Creator", c) for c in (1, 2, 3)],
            "content": {"image": {"imageId": image["id"], "caption": "New tents"}},
            "clientBatchId": "b1",
        }
    }
    result = (await api.query(SEND_BULK, variables, as_="shop:s2"))["sendBulkMessage"]
    assert result["sentCount"] == 3 and result["userErrors"] == []
    node = "query($id: ID!) { node(id: $id) { ... on Image { id } } }"
    for creator in (1, 2, 3):
        assert (await api.query(node, {"id": image["id"]}, as_=f"creator:c{creator}"))["node"] == {"id": image["id"]}
    stranger = await upload_ok(api, jpeg_with_gps(), as_="shop:s1")
    variables["input"].update(clientBatchId="b2", content={"image": {"imageId": stranger["id"]}})
    result = (await api.query(SEND_BULK, variables, as_="shop:s2"))["sendBulkMessage"]
    assert result["sentCount"] == 0
    assert {e["code"] for r in result["results"] for e in r["userErrors"]} == {"NOT_FOUND"}


LIVE = "subscription { messageAdded { id content { __typename ... on ImageContent { %s } } } }" % IMAGE_FIELDS


async def test_an_image_message_is_delivered_live_with_its_image(api):
    await build_world(api.engine)
    creator = await WSClient.connect(
        api.http.session, str(api.http.make_url("/graphql")), "graphql-transport-ws", api.token("creator:c1")
    )
    assert await creator.acked()
    await creator.subscribe(LIVE)
    await api.wait_subscribed(1)
    image = await upload_ok(api, jpeg_with_gps(), as_="shop:s1")
    await send_image(api, image_to_creator(1, image["id"], "k1", "live"), as_="shop:s1")
    delivered = (await creator.next_payload())["payload"]["data"]["messageAdded"]["content"]
    assert delivered["caption"] == "live" and delivered["image"]["id"] == image["id"]
    response = await api.http.session.get(delivered["image"]["thumbnailUrl"])
    assert response.status == 200


CHAT = (
    """
query Chat($id: ID!, $last: Int) {
  conversation(id: $id) { id messages(last: $last) { edges { node { id content {
    __typename ... on ImageContent { %s }
  } } } } }
}"""
    % IMAGE_FIELDS
)


async def test_a_page_of_50_image_messages_costs_the_statements_of_5(api):
    await build_world(api.engine, creators=3)
    first = await send_ok(
        api,
        {"input": {"creatorId": gid("Creator", 1), "clientMessageId": "t", "content": {"text": "hi"}}},
        as_="shop:s2",
    )
    conversation = first["conversation"]["id"]
    await send_ok(api, text_to_shop(2, "hello", "r"), as_="creator:c1")
    for n in range(50):
        image = await upload_ok(api, encode(picture(10 + n, 10), "PNG"), as_="shop:s2")
        sent = await send_image(api, image_to_creator(1, image["id"], f"i{n}", f"#{n}"), as_="shop:s2")
        assert sent["userErrors"] == []
    counted = {}
    for size in (5, 50):
        with api.count_statements() as statements:
            status, body = await api.post(CHAT, {"id": conversation, "last": size}, as_="shop:s2")
        assert status == 200 and "errors" not in body, body
        edges = body["data"]["conversation"]["messages"]["edges"]
        assert len(edges) == size and all(e["node"]["content"]["image"]["url"] for e in edges)
        counted[size] = len(statements)
    assert counted[5] == counted[50], counted
