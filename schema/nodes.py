"""`Query.node`: any object by its global ID."""

import strawberry
from strawberry.types import Info

from resolvers import nodes as nodes_resolvers
from resolvers.context import Context
from schema.catalog import Product, Shop
from schema.collaborations import TargetCollaboration
from schema.conversations import Conversation
from schema.inputs import NodeId
from schema.marketplace import Creator
from schema.messages import Message
from schema.relay import Node
from schema.samples import SampleRequest


async def node_of(ctx: Context, type_name: str, row) -> Node:
    """The GraphQL object of a row of the given node type."""
    if type_name == "Conversation":
        return Conversation.from_row(row, ctx.viewer)
    if type_name == "Message":
        # The access check loaded the conversation: its other side's read position costs no statement.
        conversation = await ctx.loaders.conversation_by_id.load(row.conversation_id)
        return Message.from_row(row, ctx.viewer, row.id <= conversation.other_last_read_message_id)
    return {"Shop": Shop, "Creator": Creator, "Product": Product, "SampleRequest": SampleRequest,
            "TargetCollaboration": TargetCollaboration}[type_name].from_row(row)


@strawberry.type
class NodeQuery:
    @strawberry.field
    async def node(self, info: Info, id: NodeId) -> Node | None:
        found = await nodes_resolvers.node(info.context, id)
        return await node_of(info.context, *found) if found else None
