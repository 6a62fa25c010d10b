"""`Query.node`: any object by its global ID."""

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import nodes as nodes_resolvers
from resolvers.context import Context
from schema.catalog import Product, Shop
from schema.collaborations import TargetCollaboration
from schema.conversations import Conversation
from schema.images import Image
from schema.inputs import NodeId
from schema.marketplace import Creator
from schema.messages import Message
from schema.relay import Node
from schema.samples import SampleRequest
from schema.webhooks import WebhookDelivery, WebhookEndpoint

# The `from_row` of each node type that reads no viewer; rows come from the loaders (resolvers/nodes.py).
_FROM_ROW: dict[str, Callable[[Any], Node]] = {
    "Shop": Shop.from_row,
    "Creator": Creator.from_row,
    "Product": Product.from_row,
    "SampleRequest": SampleRequest.from_row,
    "TargetCollaboration": TargetCollaboration.from_row,
    "WebhookEndpoint": WebhookEndpoint.from_row,
    "WebhookDelivery": WebhookDelivery.from_row,
}


async def node_of(ctx: Context, type_name: str, row: Any) -> Node:
    """The GraphQL object of a row of the given node type."""
    if type_name == "Conversation":
        return Conversation.from_row(row, ctx.viewer)
    if type_name == "Image":
        return Image.from_row(ctx, row)
    if type_name == "Message":
        # The access check loaded the conversation: its other side's read position costs no statement.
        conversation = await ctx.loaders.conversation_by_id.load(row.conversation_id)
        assert conversation is not None, "resolvers.nodes returns a message only in a conversation the viewer sees"
        return Message.from_row(row, ctx.viewer, row.id <= conversation.other_last_read_message_id)
    return _FROM_ROW[type_name](row)


@strawberry.type
class NodeQuery:
    @strawberry.field
    async def node(self, info: Info[Context, None], id: NodeId) -> Node | None:
        found = await nodes_resolvers.node(info.context, id)
        return await node_of(info.context, *found) if found else None
