"""Every string a client sends is checked once (core/text.py, schema/inputs.py): control characters,
unpaired surrogates and over-long values are refused cleanly, on SQLite and PostgreSQL alike, and nothing
is written. Each String or ID input of the schema has a case below, and states its limit in its description.
"""

import json
import re

import pytest
import strawberry
from graphql import (
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)
from sqlalchemy import insert

from core.viewer import CREATOR, SELLER
from models.tables import webhook_endpoint_t
from models.types import utcnow
from resolvers.context import Context
from schema.build import build_schema
from schema.inputs import guard_inputs
from services.auth import find_viewer
from services.webhooks import new_secret
from tests.support.gql import gid, say
from tests.support.world import build_world, unchanged
from tests.support.ws import TRANSPORT_WS, WSClient

LIMIT = re.compile(r"At most ([\d,]+) characters")
MUTATION_FIELDS = "{ __typename userErrors { code field message } }"


def string_inputs() -> dict[str, str | None]:
    """Every String or ID argument ("Type.field(argument:)") and input field ("Input.field") of the
    schema, with its description."""
    found = {}

    def is_string(type_) -> bool:
        while isinstance(type_, GraphQLNonNull | GraphQLList):
            type_ = type_.of_type
        return isinstance(type_, GraphQLScalarType) and type_.name in ("String", "ID")

    for type_ in build_schema()._schema.type_map.values():
        if type_.name.startswith("__"):
            continue
        if isinstance(type_, GraphQLObjectType):
            for name, field in type_.fields.items():
                found.update(
                    {
                        f"{type_.name}.{name}({arg}:)": argument.description
                        for arg, argument in field.args.items()
                        if is_string(argument.type)
                    }
                )
        elif isinstance(type_, GraphQLInputObjectType):
            found.update(
                {
                    f"{type_.name}.{name}": field.description
                    for name, field in type_.fields.items()
                    if is_string(field.type)
                }
            )
    return found


def limit_of(coordinate: str) -> int:
    description = string_inputs()[coordinate]
    found = LIMIT.search(description or "")
    assert found is not None, description
    return int(found.group(1).replace(",", ""))


def mutation(field: str, input_literal: str, variable_type: str = "String!") -> str:
    return f"mutation($v: {variable_type}) {{ {field}(input: {input_literal}) {MUTATION_FIELDS} }}"


# coordinate -> (subject, documents taking the value as $v, the value's valid base, the userError's field for
# mutations). Bases and the other arguments are valid, so without the check each bad value would reach the
# services (and, on PostgreSQL, fail there).
CASES = {
    "Query.node(id:)": ("shop:s1", ["query($v: ID!) { node(id: $v) { id } }"], "conversation", None),
    "Query.conversation(id:)": ("shop:s1", ["query($v: ID!) { conversation(id: $v) { id } }"], "conversation", None),
    "Query.creator(id:)": ("shop:s1", ["query($v: ID!) { creator(id: $v) { id } }"], "creator", None),
    "Query.conversations(after:)": (
        "shop:s1",
        ["query($v: String) { conversations(after: $v) { nodes { id } } }"],
        "inbox_cursor",
        None,
    ),
    "Query.creators(after:)": (
        "shop:s1",
        ["query($v: String) { creators(after: $v) { nodes { id } } }"],
        "creators_cursor",
        None,
    ),
    "Query.sampleRequests(after:)": (
        "shop:s1",
        ["query($v: String) { sampleRequests(after: $v) { nodes { id } } }"],
        "sample_cursor",
        None,
    ),
    "CreatorFilter.search": (
        "shop:s1",
        [
            "query($v: String) { creators(filter: {search: $v}) { nodes { id } } }",
            "query($v: String) { conversations(filter: {search: $v}) { nodes { id } } }",
        ],
        "creator",
        None,
    ),
    "Query.searchMessages(query:)": (
        "shop:s1",
        ["query($v: String!) { searchMessages(query: $v) { nodes { id } } }"],
        "hello",
        None,
    ),
    "Query.searchMessages(conversationId:)": (
        "shop:s1",
        ['query($v: ID) { searchMessages(query: "hello", conversationId: $v) { nodes { id } } }'],
        "conversation",
        None,
    ),
    "Query.searchMessages(after:)": (
        "shop:s1",
        ['query($v: String) { searchMessages(query: "hello", after: $v) { nodes { id } } }'],
        "message",
        None,
    ),
    "CreatorFilter.categories": (
        "shop:s1",
        [
            'query($v: String!) { creators(filter: {categories: ["Beauty", $v]}) { nodes { id } } }',
            'query($v: String!) { conversations(filter: {categories: ["Beauty", $v]}) { nodes { id } } }',
        ],
        "Tech",
        None,
    ),
    "Conversation.messages(after:)": (
        "shop:s1",
        ["query($c: ID!, $v: String) { conversation(id: $c) { messages(after: $v) { nodes { id } } } }"],
        "message",
        None,
    ),
    "Conversation.messages(before:)": (
        "shop:s1",
        ["query($c: ID!, $v: String) { conversation(id: $c) { messages(before: $v) { nodes { id } } } }"],
        "message",
        None,
    ),
    "Shop.products(after:)": (
        "shop:s1",
        ["query($v: String) { viewer { shop { products(after: $v) { nodes { id } } } } }"],
        "products_cursor",
        None,
    ),
    "Shop.targetCollaborations(after:)": (
        "shop:s1",
        ["query($v: String) { viewer { shop { targetCollaborations(after: $v) { nodes { id } } } } }"],
        "collaborations_cursor",
        None,
    ),
    "Subscription.messageAdded(conversationId:)": (
        "shop:s1",
        ["subscription($v: ID) { messageAdded(conversationId: $v) { id } }"],
        "conversation",
        None,
    ),
    "Subscription.messageAdded(after:)": (
        "shop:s1",
        ["subscription($v: String) { messageAdded(after: $v) { id } }"],
        "message",
        None,
    ),
    "Subscription.typing(conversationId:)": (
        "shop:s1",
        ["subscription($v: ID) { typing(conversationId: $v) { isTyping } }"],
        "conversation",
        None,
    ),
    "StartConversationInput.creatorId": (
        "shop:s1",
        [mutation("startConversation", "{creatorId: $v, entrance: FIND_CREATORS}", "ID!")],
        "creator2",
        ["input", "creatorId"],
    ),
    "SendMessageInput.clientMessageId": (
        "shop:s1",
        [mutation("sendMessage", '{creatorId: "Q3JlYXRvcjoy", clientMessageId: $v, content: {text: "hi"}}')],
        "key-1",
        ["input", "clientMessageId"],
    ),
    "SendMessageInput.conversationId": (
        "shop:s1",
        [mutation("sendMessage", '{conversationId: $v, clientMessageId: "k1", content: {text: "hi"}}', "ID!")],
        "conversation",
        ["input", "conversationId"],
    ),
    "SendMessageInput.creatorId": (
        "shop:s1",
        [mutation("sendMessage", '{creatorId: $v, clientMessageId: "k1", content: {text: "hi"}}', "ID!")],
        "creator2",
        ["input", "creatorId"],
    ),
    "SendMessageInput.shopId": (
        "creator:c2",
        [mutation("sendMessage", '{shopId: $v, clientMessageId: "k1", content: {text: "hi"}}', "ID!")],
        "shop",
        ["input", "shopId"],
    ),
    "MessageContentInput.text": (
        "shop:s1",
        [
            mutation("sendMessage", '{creatorId: "Q3JlYXRvcjoy", clientMessageId: "k1", content: {text: $v}}'),
            mutation("sendBulkMessage", '{creatorIds: ["Q3JlYXRvcjoy"], clientBatchId: "b1", content: {text: $v}}'),
        ],
        "hello",
        ["input", "content", "text"],
    ),
    "MessageContentInput.productId": (
        "shop:s1",
        [
            mutation(
                "sendMessage",
                '{conversationId: "Q29udmVyc2F0aW9uOjE", clientMessageId: "k1", content: {productId: $v}}',
                "ID!",
            )
        ],
        "product",
        ["input", "content", "productId"],
    ),
    "MessageContentInput.collaborationId": (
        "shop:s1",
        [
            mutation(
                "sendMessage",
                '{conversationId: "Q29udmVyc2F0aW9uOjE", clientMessageId: "k1", content: {collaborationId: $v}}',
                "ID!",
            )
        ],
        "collaboration",
        ["input", "content", "collaborationId"],
    ),
    "ImageMessageInput.imageId": (
        "shop:s1",
        [
            mutation(
                "sendMessage",
                '{conversationId: "Q29udmVyc2F0aW9uOjE", clientMessageId: "k1", content: {image: {imageId: $v}}}',
                "ID!",
            )
        ],
        "SW1hZ2U6MQ",  # Image 1 (the check refuses before anything looks for it)
        ["input", "content", "image", "imageId"],
    ),
    "ImageMessageInput.caption": (
        "shop:s1",
        [
            mutation(
                "sendMessage",
                '{conversationId: "Q29udmVyc2F0aW9uOjE", clientMessageId: "k1", '
                'content: {image: {imageId: "SW1hZ2U6MQ", caption: $v}}}',
            )
        ],
        "hello",
        ["input", "content", "image", "caption"],
    ),
    "SendBulkMessageInput.creatorIds": (
        "shop:s1",
        [
            mutation(
                "sendBulkMessage",
                '{creatorIds: ["Q3JlYXRvcjoy", $v], clientBatchId: "b1", content: {text: "hi"}}',
                "ID!",
            )
        ],
        "creator3",
        ["input", "creatorIds", "1"],
    ),
    "SendBulkMessageInput.clientBatchId": (
        "shop:s1",
        [mutation("sendBulkMessage", '{creatorIds: ["Q3JlYXRvcjoy"], clientBatchId: $v, content: {text: "hi"}}')],
        "batch-1",
        ["input", "clientBatchId"],
    ),
    "ConversationInput.conversationId": (
        "shop:s1",
        [
            mutation(name, "{conversationId: $v}", "ID!")
            for name in ("starConversation", "unstarConversation", "archiveConversation", "unarchiveConversation")
        ],
        "conversation",
        ["input", "conversationId"],
    ),
    "MarkConversationReadInput.conversationId": (
        "creator:c1",
        [mutation("markConversationRead", "{conversationId: $v}", "ID!")],
        "conversation",
        ["input", "conversationId"],
    ),
    "MarkConversationsReadInput.conversationIds": (
        "creator:c1",
        [mutation("markConversationsRead", '{conversationIds: ["Q29udmVyc2F0aW9uOjE", $v]}', "ID!")],
        "conversation",
        ["input", "conversationIds", "1"],
    ),
    "MarkConversationReadInput.upToMessageId": (
        "creator:c1",
        [mutation("markConversationRead", '{conversationId: "Q29udmVyc2F0aW9uOjE", upToMessageId: $v}', "ID!")],
        "message",
        ["input", "upToMessageId"],
    ),
    "ReportTypingInput.conversationId": (
        "creator:c1",
        [mutation("reportTyping", "{conversationId: $v}", "ID!")],
        "conversation",
        ["input", "conversationId"],
    ),
    "CreatorInput.creatorId": (
        "shop:s1",
        [mutation(name, "{creatorId: $v}", "ID!") for name in ("blockCreator", "unblockCreator")],
        "creator",
        ["input", "creatorId"],
    ),
    "ShopInput.shopId": (
        "creator:c1",
        [mutation(name, "{shopId: $v}", "ID!") for name in ("blockShop", "unblockShop")],
        "shop",
        ["input", "shopId"],
    ),
    "RequestSampleInput.productId": (
        "creator:c1",
        [mutation("requestSample", '{productId: $v, clientRequestId: "r9"}', "ID!")],
        "product2",
        ["input", "productId"],
    ),
    "RequestSampleInput.clientRequestId": (
        "creator:c1",
        [mutation("requestSample", '{productId: "UHJvZHVjdDoy", clientRequestId: $v}')],
        "request-9",
        ["input", "clientRequestId"],
    ),
    "RequestSampleInput.note": (
        "creator:c1",
        [mutation("requestSample", '{productId: "UHJvZHVjdDoy", clientRequestId: "r9", note: $v}')],
        "Please",
        ["input", "note"],
    ),
    "ApproveSampleRequestInput.sampleRequestId": (
        "shop:s1",
        [mutation("approveSampleRequest", "{sampleRequestId: $v}", "ID!")],
        "sample",
        ["input", "sampleRequestId"],
    ),
    "RejectSampleRequestInput.sampleRequestId": (
        "shop:s1",
        [mutation("rejectSampleRequest", "{sampleRequestId: $v}", "ID!")],
        "sample",
        ["input", "sampleRequestId"],
    ),
    "RejectSampleRequestInput.reason": (
        "shop:s1",
        [mutation("rejectSampleRequest", '{sampleRequestId: "U2FtcGxlUmVxdWVzdDox", reason: $v}')],
        "Out of stock",
        ["input", "reason"],
    ),
    "CreateTargetCollaborationInput.name": (
        "shop:s1",
        [mutation("createTargetCollaboration", '{name: $v, productIds: ["UHJvZHVjdDox"], commissionRate: "0.1"}')],
        "Autumn",
        ["input", "name"],
    ),
    "CreateTargetCollaborationInput.productIds": (
        "shop:s1",
        [mutation("createTargetCollaboration", '{name: "Autumn", productIds: [$v], commissionRate: "0.1"}', "ID!")],
        "product",
        ["input", "productIds", "0"],
    ),
    "CreateWebhookEndpointInput.url": (
        "shop:s1",
        [mutation("createWebhookEndpoint", "{url: $v, eventTypes: [MESSAGE_CREATED]}")],
        "hook_url",
        ["input", "url"],
    ),
    "UpdateWebhookEndpointInput.endpointId": (
        "shop:s1",
        [mutation("updateWebhookEndpoint", "{endpointId: $v, isEnabled: false}", "ID!")],
        "endpoint",
        ["input", "endpointId"],
    ),
    "UpdateWebhookEndpointInput.url": (
        "shop:s1",
        [mutation("updateWebhookEndpoint", '{endpointId: "V2ViaG9va0VuZHBvaW50OjE", url: $v}')],
        "hook_url",
        ["input", "url"],
    ),
    "WebhookEndpointInput.endpointId": (
        "shop:s1",
        [mutation(name, "{endpointId: $v}", "ID!") for name in ("deleteWebhookEndpoint", "rotateWebhookSecret")],
        "endpoint",
        ["input", "endpointId"],
    ),
    "RedeliverWebhookInput.deliveryId": (
        "shop:s1",
        [mutation("redeliverWebhook", "{deliveryId: $v}", "ID!")],
        "delivery",
        ["input", "deliveryId"],
    ),
    "WebhookEndpoint.deliveries(after:)": (
        "shop:s1",
        ["query($v: String) { webhookEndpoints { deliveries(after: $v) { nodes { id } } } }"],
        "delivery",
        None,
    ),
}


async def prepared_world(api) -> dict:
    """The test world with a conversation (s1 and c1), a sample request and a collaboration; the valid
    value of each kind of base a case names."""
    await build_world(api.engine, creators=3)
    sent = await say(api, gid("Creator", 1), "hello", as_="shop:s1")
    await say(api, gid("Shop", 1), "hello back", as_="creator:c1")
    sample = await api.query(
        'mutation { requestSample(input: {productId: "UHJvZHVjdDox", clientRequestId: "r1"}) '
        "{ sampleRequest { id } userErrors { code } } }",
        as_="creator:c1",
    )
    collaboration = await api.query(
        'mutation { createTargetCollaboration(input: {name: "Summer", productIds: ["UHJvZHVjdDox"], '
        'commissionRate: "0.10"}) { collaboration { id } userErrors { code } } }',
        as_="shop:s1",
    )
    cursors = await api.query(
        """{
      conversations(first: 1) { edges { cursor } } creators(first: 1) { edges { cursor } }
      sampleRequests(first: 1) { edges { cursor } }
      viewer { shop { products(first: 1) { edges { cursor } } targetCollaborations(first: 1) { edges { cursor } } } }
    }""",
        as_="shop:s1",
    )
    shop = cursors["viewer"]["shop"]
    assert sent["conversation"]["id"] == gid("Conversation", 1)
    await _webhook_endpoint(api.engine)
    return {
        "conversation": gid("Conversation", 1),
        "message": sent["message"]["id"],
        "shop": gid("Shop", 1),
        "creator": gid("Creator", 1),
        "creator2": gid("Creator", 2),
        "creator3": gid("Creator", 3),
        "product": gid("Product", 1),
        "product2": gid("Product", 2),
        "sample": sample["requestSample"]["sampleRequest"]["id"],
        "collaboration": collaboration["createTargetCollaboration"]["collaboration"]["id"],
        "inbox_cursor": cursors["conversations"]["edges"][0]["cursor"],
        "creators_cursor": cursors["creators"]["edges"][0]["cursor"],
        "sample_cursor": cursors["sampleRequests"]["edges"][0]["cursor"],
        "products_cursor": shop["products"]["edges"][0]["cursor"],
        "collaborations_cursor": shop["targetCollaborations"]["edges"][0]["cursor"],
        "hook_url": "https://hooks.example.com/inbox",
        "endpoint": gid("WebhookEndpoint", 1),
        "delivery": gid("WebhookDelivery", 1),
    }


async def _webhook_endpoint(engine) -> None:
    """Shop s1's endpoint, written directly: its URL is not resolved (the tests have no DNS), and
    `WebhookEndpoint.deliveries` needs an endpoint for its argument to be read. Disabled: no event is
    written for it, so no delivery attempt changes the database while `unchanged` watches."""
    async with engine.begin() as conn:
        await conn.execute(
            insert(webhook_endpoint_t).values(
                shop_id=1,
                url="https://hooks.example.com/inbox",
                event_types=",MESSAGE_CREATED,",
                secret=new_secret(),
                is_enabled=False,
                created_at=utcnow(),
            )
        )


def bad_values(base: str, limit: int) -> dict[str, str]:
    """A NUL and a bell inside the valid value (IDs with one decoded as clean before), and one too long."""
    return {
        "NUL": base[:1] + "\x00" + base[1:],
        "C0 control": base[:1] + "\x07" + base[1:],
        "over-long": "x" * (limit + 1),
    }


def assert_refused(body: dict, expected_field: list[str] | None, context) -> None:
    """The clean refusal: INVALID_INPUT with the field for mutations, BAD_USER_INPUT otherwise."""
    assert "INTERNAL_SERVER_ERROR" not in json.dumps(body) and "Traceback" not in json.dumps(body), (context, body)
    if expected_field is None:
        assert [e["extensions"]["code"] for e in body.get("errors") or []] == ["BAD_USER_INPUT"], (context, body)
        return
    assert not body.get("errors"), (context, body)
    (payload,) = body["data"].values()
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_INPUT", expected_field)], (
        context,
        payload,
    )


def variables_for(document: str, world: dict, value) -> dict:
    return {"v": value, **({"c": world["conversation"]} if "$c" in document else {})}


def test_every_string_input_states_its_length_limit_and_has_a_case():
    inputs = string_inputs()
    assert len(inputs) > 30, inputs
    unlimited = [coordinate for coordinate, description in inputs.items() if not LIMIT.search(description or "")]
    assert unlimited == [], f"string inputs without 'At most N characters' in their description: {unlimited}"
    assert set(CASES) == set(inputs), f"cases missing: {set(inputs) - set(CASES)}; stale: {set(CASES) - set(inputs)}"


@pytest.mark.parametrize("coordinate", [c for c in CASES if not c.startswith("Subscription.")])
async def test_bad_strings_are_refused_cleanly_and_write_nothing(api, coordinate):
    subject, documents, base, field = CASES[coordinate]
    world = await prepared_world(api)
    for document in documents:
        for name, value in bad_values(world.get(base, base), limit_of(coordinate)).items():
            async with unchanged(api.engine):
                status, body = await api.post(document, variables_for(document, world, value), as_=subject)
            assert status == 200, (name, document, body)
            assert_refused(body, field, (name, document))
        await assert_lone_surrogate_refused(
            api, subject, document, variables_for(document, world, world.get(base, base) + "\ud800"), field
        )


async def assert_lone_surrogate_refused(api, subject: str, document: str, variables: dict, field) -> None:
    """JSON "\ud800" does not pass our HTTP transport (its JSON parser refuses the body: 400), and the
    schema refuses it from any transport that hands it over."""
    headers = {"Authorization": f"Bearer {api.token(subject)}", "Content-Type": "application/json"}
    role, platform_id = subject.split(":")
    viewer = await find_viewer(api.runtime.reader, SELLER if role == "shop" else CREATOR, platform_id)
    async with unchanged(api.engine):
        response = await api.http.post(
            "/graphql", headers=headers, data=json.dumps({"query": document, "variables": variables})
        )
        body = await response.json()
        if response.status == 400:
            assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_REQUEST"], body
        else:
            assert_refused(body, field, ("http", document))
        result = await build_schema().execute(
            document, variable_values=variables, context_value=Context(api.runtime, viewer)
        )
    assert_refused({"data": result.data, "errors": [e.formatted for e in result.errors or []]}, field, document)


@pytest.mark.parametrize("coordinate", [c for c in CASES if c.startswith("Subscription.")])
async def test_bad_strings_end_a_subscription_with_bad_user_input(api, coordinate):
    subject, (document,), base, _ = CASES[coordinate]
    world = await prepared_world(api)
    client = await WSClient.connect(
        api.http.session, str(api.http.make_url("/graphql")), TRANSPORT_WS, api.token(subject)
    )
    assert await client.acked()
    for name, value in bad_values(world[base], limit_of(coordinate)).items():
        await client.subscribe(document, {"v": value})
        message = await client.next_payload()
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"], (name, message)
    await client.ws.close()


async def test_tab_and_newline_are_text_but_not_keys(api):
    world = await prepared_world(api)
    text = "line one\n\tline two"
    data = await api.query(
        'mutation($v: String!) { sendMessage(input: {conversationId: "Q29udmVyc2F0aW9uOjE", '
        'clientMessageId: "t1", content: {text: $v}}) { message { content { ... on TextContent '
        "{ text } } } userErrors { code } } }",
        {"v": text},
        as_="shop:s1",
    )
    assert data["sendMessage"] == {"message": {"content": {"text": text}}, "userErrors": []}
    note = "size M\n\tcolour blue"
    data = await api.query(
        'mutation($v: String) { requestSample(input: {productId: "UHJvZHVjdDoy", '
        'clientRequestId: "r2", note: $v}) { sampleRequest { note } userErrors { code } } }',
        {"v": note},
        as_="creator:c1",
    )
    assert data["requestSample"] == {"sampleRequest": {"note": note}, "userErrors": []}
    data = await api.query(
        mutation("rejectSampleRequest", '{sampleRequestId: $v, reason: "Sold\\nout"}', "ID!"),
        {"v": world["sample"]},
        as_="shop:s1",
    )
    assert data["rejectSampleRequest"]["userErrors"] == []
    for key in ("tab\tkey", "new\nline"):
        async with unchanged(api.engine):
            _, body = await api.post(
                mutation(
                    "sendMessage", '{conversationId: "Q29udmVyc2F0aW9uOjE", clientMessageId: $v, content: {text: "hi"}}'
                ),
                {"v": key},
                as_="shop:s1",
            )
        assert_refused(body, ["input", "clientMessageId"], key)
    _, body = await api.post(
        "query($v: String) { creators(filter: {search: $v}) { nodes { id } } }", {"v": "a\tb"}, as_="shop:s1"
    )
    assert_refused(body, None, "tab in search")


async def test_a_filter_lists_at_most_50_categories(api):
    """Each category is a bound parameter: 33,000 of them were an INTERNAL_SERVER_ERROR on PostgreSQL."""
    await prepared_world(api)
    for field in ("creators", "conversations"):
        document = f"query($f: CreatorFilter) {{ {field}(filter: $f) {{ nodes {{ id }} }} }}"
        _, body = await api.post(document, {"f": {"categories": ["c"] * 33_000}}, as_="shop:s1")
        assert_refused(body, None, field)
        _, body = await api.post(document, {"f": {"categories": ["Tech"] * 51}}, as_="shop:s1")
        assert_refused(body, None, field)
        data = await api.query(document, {"f": {"categories": ["Tech"] * 50}}, as_="shop:s1")
        assert len(data[field]["nodes"]) == (1 if field == "creators" else 0)  # creator 2 is in Tech


async def test_values_at_the_limit_are_accepted(api):
    await prepared_world(api)
    data = await api.query(
        "query($v: String) { creators(filter: {search: $v}) { nodes { id } } }",
        {"v": "x" * limit_of("CreatorFilter.search")},
        as_="shop:s1",
    )
    assert data["creators"]["nodes"] == []
    key = "k" * limit_of("SendMessageInput.clientMessageId")
    text = "y" * limit_of("MessageContentInput.text")
    data = await api.query(
        mutation(
            "sendMessage",
            f'{{conversationId: "Q29udmVyc2F0aW9uOjE", clientMessageId: $v, content: {{text: "{text}"}}}}',
        ),
        {"v": key},
        as_="shop:s1",
    )
    assert data["sendMessage"]["userErrors"] == []


async def test_ids_and_cursors_with_garbage_are_malformed(api):
    """base64's lenient decoding skipped characters outside its alphabet: "Q3JlYXRvcjox " named Creator 1."""
    await prepared_world(api)
    for garbage in ("\x00", " ", "===", "+", "/", "%"):
        await _assert_garbage_refused(api, garbage)


async def _assert_garbage_refused(api, garbage: str) -> None:
    for value in (gid("Creator", 1) + garbage, gid("Creator", 1)[:4] + garbage + gid("Creator", 1)[4:]):
        _, body = await api.post("query($v: ID!) { creator(id: $v) { id } }", {"v": value}, as_="shop:s1")
        assert_refused(body, None, value)
        async with unchanged(api.engine):
            _, body = await api.post(mutation("blockCreator", "{creatorId: $v}", "ID!"), {"v": value}, as_="shop:s1")
        codes = [e["extensions"]["code"] for e in body.get("errors") or []]
        payload = (body.get("data") or {}).get("blockCreator")
        assert (
            codes == ["BAD_USER_INPUT"]
            or payload is not None
            and [e["code"] for e in payload["userErrors"]] == ["INVALID_INPUT"]
        ), body
    # A cursor too: the bare-id cursor of a list ordered by id ("MQ" is "1").
    _, body = await api.post(
        "query($v: String) { sampleRequests(after: $v) { nodes { id } } }", {"v": "MQ" + garbage}, as_="shop:s1"
    )
    assert_refused(body, None, "cursor")


DECIMALS = [
    "NaN",
    "sNaN",
    "-sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999999",
    "1E-999999",
    "0E+999999",
    "1e18",
    "0.1234567890123456789",
    "\u0661",
    "1_0",
    " 1",
    "",
    "0x10",
]


async def test_decimal_refuses_nan_infinity_and_extreme_exponents(api):
    """Literal or variable, in a mutation or a query: BAD_USER_INPUT, never decimal.InvalidOperation."""
    await prepared_world(api)
    create = (
        'createTargetCollaboration(input: {name: "Autumn", productIds: ["UHJvZHVjdDox"], '
        "commissionRate: %s}) { userErrors { code } }"
    )
    gmv = "creators(filter: {minGmv: %s}) { nodes { id } }"
    for value in DECIMALS:
        async with unchanged(api.engine):
            for document, variables in (
                (f"mutation {{ {create % json.dumps(value)} }}", None),
                (f"mutation($r: Decimal!) {{ {create % '$r'} }}", {"r": value}),
                (f"query {{ {gmv % json.dumps(value)} }}", None),
                (f"query($g: Decimal) {{ {gmv % '$g'} }}", {"g": value}),
            ):
                status, body = await api.post(document, variables, as_="shop:s1")
                assert status == 200, body
                assert_refused(body, None, (value, document))
    # Ordinary amounts, as strings or JSON numbers, still work.
    for rate in ("0.15", 0.2, "1.5e-1"):
        data = await api.query(f"mutation($r: Decimal!) {{ {create % '$r'} }}", {"r": rate}, as_="shop:s1")
        assert data["createTargetCollaboration"]["userErrors"] == [], rate
    data = await api.query(f"query($g: Decimal) {{ {gmv % '$g'} }}", {"g": "250.50"}, as_="shop:s1")
    assert data["creators"]["nodes"] == [{"id": gid("Creator", 3)}]  # gmv30d 100, 200 and 300


def test_a_string_input_without_a_kind_stops_the_schema_from_building():
    @strawberry.type
    class Query:
        @strawberry.field
        def echo(self, words: str) -> str:
            return words

    with pytest.raises(TypeError, match=r"Query.echo\(words:\) takes a string but names no TextKind"):
        guard_inputs(strawberry.Schema(query=Query)._schema)
