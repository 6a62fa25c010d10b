"""`Query.node`: any object by its global ID."""

import strawberry
from strawberry.types import Info

from core.viewer import Viewer
from resolvers import nodes as nodes_resolvers
from schema.catalog import Product, Shop
from schema.collaborations import TargetCollaboration
from schema.conversations import Conversation
from schema.inputs import NodeId
from schema.marketplace import Creator
from schema.messages import Message
from schema.relay import Node
from schema.samples import SampleRequest


def node_of(type_name: str, row, viewer: Viewer) -> Node:
    """The GraphQL object of a row of the given node type."""
    if type_name in ("Conversation", "Message"):
        return {"Conversation": Conversation, "Message": Message}[type_name].from_row(row, viewer)
    return {"Shop": Shop, "Creator": Creator, "Product": Product, "SampleRequest": SampleRequest,
            "TargetCollaboration": TargetCollaboration}[type_name].from_row(row)


@strawberry.type
class NodeQuery:
    @strawberry.field
    async def node(self, info: Info, id: NodeId) -> Node | None:
        found = await nodes_resolvers.node(info.context, id)
        return node_of(*found, info.context.viewer) if found else None
