"""The fast completion path (schema/fast_execution.py) answers exactly as graphql-core does.

Every document runs twice on the same data: through the app, whose schema completes plain
objects with generated plans, and through the same schema with graphql-core's own execution
context. Both answers must be equal, key order included (clients may rely on it).
"""

import json

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.context import Context
from schema.build import InboxSchema
from schema.fast_execution import _SHARED_PLANS
from schema.live import Subscription
from schema.mutation import Mutation
from schema.query import Query
from tests.support.gql import (
    BLOCK,
    CONVERSATION,
    CREATOR_CONVERSATION,
    INBOX,
    SEND_BULK,
    bulk_input,
    create_collaboration,
    creator_input,
    gid,
    invite_to_creator,
    product_to_creator,
    request_sample,
    send_ok,
    text_to_creator,
    text_to_shop,
)
from tests.support.world import build_world

PLAIN = InboxSchema(query=Query, mutation=Mutation, subscription=Subscription,
                    execution_context_class=StrawberryGraphQLCoreExecutionContext)

ALIASES_AND_FRAGMENTS = """
query Aliased {
  first: conversations(first: 3) { edges { node { ...Card kind: __typename } } }
  again: conversations(folder: UNREAD, first: 2) { nodes { ...Card id } }
  inboxCounts { all unread }
  viewer { role }
}
fragment Card on Conversation {
  id starred: isStarred unreadCount lastActivityAt
  creator { handle followers: followerCount gmv30d __typename }
  lastMessage { __typename isMine senderRole content { __typename ... on TextContent { words: text } } }
}"""

MARKETPLACE = """
query Market { creators(first: 5, filter: {minFollowers: 0}) { edges { cursor node {
  id handle followerCount mainCategory gmv30d isBlocked conversation { id unreadCount }
} } pageInfo { hasNextPage endCursor } } }"""


async def _plain(api, document: str, variables: dict | None, subject: str) -> dict:
    viewer = await api.runtime.auth.authenticate(f"Bearer {api.token(subject)}")
    result = await PLAIN.execute(document, variable_values=variables, context_value=Context(api.runtime, viewer))
    assert not result.errors and result.data is not None, result.errors
    return result.data


async def test_fast_path_answers_as_graphql_core(api):
    await build_world(api.engine)
    sent = await send_ok(api, text_to_creator(1, "Hello", "k1"), as_="shop:s1")
    await send_ok(api, text_to_shop(1, "Hi there", "r1"), as_="creator:c1")
    await send_ok(api, product_to_creator(1, 1, "k2"), as_="shop:s1")
    await send_ok(api, invite_to_creator(1, await create_collaboration(api), "k3"), as_="shop:s1")
    await request_sample(api, 1, "s1", "Please", as_="creator:c1")
    await send_ok(api, text_to_creator(2, "Hello two", "k4"), as_="shop:s1")
    await api.query(BLOCK, creator_input(2), as_="shop:s1")
    conversation = sent["conversation"]["id"]

    cases = [
        (INBOX, {"first": 10}, "shop:s1"), (INBOX, {"folder": "ARCHIVED"}, "shop:s1"),
        (INBOX, {"first": 10}, "creator:c1"), (CONVERSATION, {"id": conversation}, "shop:s1"),
        (CONVERSATION, {"id": conversation}, "creator:c1"),
        (CREATOR_CONVERSATION, {"id": gid("Creator", 1)}, "shop:s1"),
        (ALIASES_AND_FRAGMENTS, None, "shop:s1"), (ALIASES_AND_FRAGMENTS, None, "creator:c1"),
        (MARKETPLACE, None, "shop:s1"),
        # refused before writing anything; its userErrors carry a list of strings (`field`)
        (SEND_BULK, bulk_input([1, 2, 1], "Hi", "b1"), "shop:s1"),
    ]
    for document, variables, subject in cases:
        fast = await api.query(document, variables, as_=subject)
        plain = await _plain(api, document, variables, subject)
        assert json.dumps(fast) == json.dumps(plain), (document, subject)
    assert "SystemNotice" in json.dumps(await api.query(INBOX, {"first": 10}, as_="creator:c2"))
    # The fast path did run: the conversation cards were completed by a generated plan.
    assert any(key[0].name == "Conversation" and plan is not None for key, plan in _SHARED_PLANS.items())
