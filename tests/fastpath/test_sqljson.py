"""The chat screen and the inbox list answered by one statement that writes their JSON
(fastpath/sqljson.py) answer exactly as the reference path (resolvers and DataLoaders, the plain
app): the benchmark's documents byte for byte, and documents generated from the schema
(hypothesis-graphql) field by field, with the same access rules (seller and creator viewers, another
shop's conversation) and the same errors. On SQLite the compiled path never runs; the answers must
still be the same."""

import json

from graphql import ArgumentNode, FieldNode, NameNode, StringValueNode, Visitor, parse, print_ast, visit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from hypothesis_graphql import strategies as gql
from sqlalchemy import insert

from bench.scenarios import API_INBOX, API_MESSAGES, FILTER, decode_id
from models.tables import message_t
from models.types import utcnow
from tests.fastpath.test_fast_execution import answer, apps, assert_alike, chat_world  # noqa: F401 - the fixture
from tests.support.gql import gid
from tests.support.processes import ROOT

SCHEMA = (ROOT / "schema.graphql").read_text()
SUBJECTS = ("shop:s1", "creator:c1", "shop:s2")
GENERATED = 40  # documents per root field


def compiled(statements) -> int:
    """How many of the statements were compiled selections (the answer's JSON text, then `ok`)."""
    return sum(" AS TEXT) AS data, CAST(" in statement for statement in statements)


def postgres(api) -> bool:
    return api.engine.dialect.name == "postgresql"


async def test_the_benchmark_screens_answer_byte_for_byte(apps):  # noqa: F811 - the fixture
    fast, _ = apps
    conversation = await chat_world(fast)
    cases = [
        (API_MESSAGES, {"id": conversation}, "shop:s1"),
        (API_MESSAGES, {"id": conversation}, "creator:c1"),
        (API_MESSAGES, {"id": conversation}, "shop:s2"),  # another shop's conversation: null
        (API_INBOX, {"folder": "ALL"}, "shop:s1"),
        (API_INBOX, {"folder": "UNREAD"}, "shop:s1"),
        (API_INBOX, {"folder": "ALL"}, "creator:c1"),
        (API_INBOX, {"folder": "UNREAD"}, "creator:c1"),
        (API_INBOX, {"folder": "ALL", "filter": FILTER}, "shop:s1"),
    ]
    for query, variables, subject in cases:
        with fast.count_statements() as statements:
            body = await assert_alike(apps, query, variables, subject)
        assert b'"errors"' not in body, body
        # One statement for the screen (beside the viewer's, which authentication reads).
        assert compiled(statements) == (1 if postgres(fast) else 0), (query, list(statements))
    messages = json.loads((await answer(fast, API_MESSAGES, {"id": conversation}))[2])
    kinds = {edge["node"]["content"]["__typename"] for edge in messages["data"]["conversation"]["messages"]["edges"]}
    assert kinds == {"TextContent", "ProductCard", "CollaborationInvite", "SampleRequestCard"}, kinds


async def test_a_content_kind_it_does_not_know_answers_by_the_reference(apps):  # noqa: F811 - the fixture
    """A kind added later (images are on their way) is not guessed at: the reference path answers
    (here with its error for a content it cannot show either)."""
    fast, _ = apps
    conversation = await chat_world(fast)
    async with fast.engine.begin() as conn:
        await conn.execute(
            insert(message_t).values(
                conversation_id=decode_id(conversation), sender_role="SELLER", kind="IMAGE", created_at=utcnow()
            )
        )
    with fast.count_statements() as statements:
        await assert_alike(apps, API_MESSAGES, {"id": conversation})
    assert compiled(statements) == (1 if postgres(fast) else 0)  # tried, then answered by the reference


PAGE_OF = """
query Page($id: ID!, $first: Int, $last: Int, $after: String, $before: String) {
  conversation(id: $id) { messages(first: $first, last: $last, after: $after, before: $before) {
    edges { cursor node { id content { __typename ... on TextContent { text } } } }%s
  } }
}"""


async def test_a_page_shorter_than_the_conversation_answers_alike_with_and_without_page_info(apps):  # noqa: F811
    """Without hasNextPage / hasPreviousPage the statement reads the page's rows only; with them, one
    row more. Both keep to the page, either way through the conversation."""
    fast, _ = apps
    conversation = await chat_world(fast)
    newest = json.loads(await assert_alike(apps, PAGE_OF % "", {"id": conversation, "last": 3}, "shop:s1"))
    oldest = json.loads(await assert_alike(apps, PAGE_OF % "", {"id": conversation, "first": 3}, "shop:s1"))
    assert len(newest["data"]["conversation"]["messages"]["edges"]) == 3
    middle = newest["data"]["conversation"]["messages"]["edges"][0]["cursor"]
    start = oldest["data"]["conversation"]["messages"]["edges"][0]["cursor"]
    info = " pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
    for selection in ("", info):
        for window in (
            {"last": 3},
            {"first": 3},
            {"last": 2, "before": middle},
            {"first": 2, "after": start},
        ):
            with fast.count_statements() as statements:
                await assert_alike(apps, PAGE_OF % selection, {"id": conversation, **window}, "shop:s1")
            assert compiled(statements) == (1 if postgres(fast) else 0), (selection, window)


def documents(root: str, conversation: str) -> list[str]:
    """Documents of `root` generated from the schema (positive ones: valid), deterministically, with
    the conversation's id in every `conversation(id:)` (a generated id would name no conversation)."""
    found: list[str] = []
    scalars = {
        "DateTime": st.sampled_from(["2026-01-01T00:00:00+00:00"]).map(nodes.String),
        "Decimal": st.sampled_from(["0", "1234.50"]).map(nodes.String),
    }

    @settings(
        max_examples=GENERATED, database=None, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(gql.queries(SCHEMA, fields=[root], custom_scalars=scalars))
    def collect(document: str) -> None:
        found.append(print_ast(_with_conversation(parse(document), conversation)))

    collect()
    return found


class _WithConversation(Visitor):
    def __init__(self, conversation: str) -> None:
        super().__init__()
        self.id = ArgumentNode(name=NameNode(value="id"), value=StringValueNode(value=conversation))

    def enter_field(self, node: FieldNode, *_args) -> FieldNode | None:
        arguments = node.arguments or ()
        if node.name.value != "conversation" or not any(a.name.value == "id" for a in arguments):
            return None
        kept = tuple(a for a in arguments if a.name.value != "id")
        return FieldNode(
            **{key: getattr(node, key) for key in node.keys if key != "arguments"}, arguments=(self.id, *kept)
        )


def _with_conversation(document, conversation: str):
    return visit(document, _WithConversation(conversation))


def field_by_field(fast_body: bytes, plain_body: bytes, where: tuple) -> None:
    """The answers compared as JSON values (a difference is shown at its path), then as bytes."""
    assert json.loads(fast_body) == json.loads(plain_body), where
    assert fast_body == plain_body, where


async def test_generated_documents_answer_alike(apps):  # noqa: F811 - the fixture
    fast, plain = apps
    conversation = await chat_world(fast)
    ran = 0
    for root in ("conversation", "conversations"):
        for document in documents(root, conversation):
            for subject in SUBJECTS:
                with fast.count_statements() as statements:
                    fast_answer = await answer(fast, document, None, subject)
                plain_answer = await answer(plain, document, None, subject)
                assert fast_answer[:2] == plain_answer[:2], (document, subject)
                field_by_field(fast_answer[2], plain_answer[2], (document, subject))
                ran += compiled(statements)
    print(f"{ran} answers of generated documents came from compiled statements")
    if postgres(fast):
        assert ran >= GENERATED // 2, ran  # the compiler covers a good share of them


async def test_another_viewers_conversation_is_null_and_bad_arguments_fail_alike(apps):  # noqa: F811 - the fixture
    fast, _ = apps
    conversation = await chat_world(fast)
    cases = [
        (API_MESSAGES, {"id": conversation}, "creator:c2"),
        (API_MESSAGES, {"id": gid("Creator", 1)}, "shop:s1"),  # an id of another type
        (API_MESSAGES, {"id": "not-an-id"}, "shop:s1"),
        (
            "query($id: ID!) { conversation(id: $id) { messages(last: 500) { edges { cursor } } } }",
            {"id": conversation},
            "shop:s1",
        ),
        (
            "query($id: ID!) { conversation(id: $id) { ... on Node { id } messages(last: 3) { nodes {"
            " ... on Node { id } ... on Message { isMine } content { ... on TextContent { text } } } } } }",
            {"id": conversation},
            "shop:s1",
        ),  # the fields of a fragment on an interface: the reference path
        ("{ conversations(first: 101) { edges { cursor } } }", None, "shop:s1"),
        ('{ conversations(after: "bm8") { edges { cursor } } }', None, "shop:s1"),
        (
            "query($f: CreatorFilter) { conversations(filter: $f) { edges { cursor } } }",
            {"f": {"categories": [str(n) for n in range(51)]}},
            "shop:s1",
        ),
    ]
    for query, variables, subject in cases:
        await assert_alike(apps, query, variables, subject)
