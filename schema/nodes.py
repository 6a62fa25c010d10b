"""`Query.node`: any object by its global ID."""

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.types import Info

from core.viewer import Viewer
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

# Each node type's `from_row`; rows come from the loaders (resolvers/nodes.py).
_FROM_ROW_FOR_VIEWER: dict[str, Callable[[Any, Viewer], Node]] = {
    "Conversation": Conversation.from_row, "Message": Message.from_row}
_FROM_ROW: dict[str, Callable[[Any], Node]] = {
    "Shop": Shop.from_row, "Creator": Creator.from_row, "Product": Product.from_row,
    "SampleRequest": SampleRequest.from_row, "TargetCollaboration": TargetCollaboration.from_row}


def node_of(type_name: str, row: Any, viewer: Viewer) -> Node:
    """The GraphQL object of a row of the given node type."""
    if type_name in _FROM_ROW_FOR_VIEWER:
        return _FROM_ROW_FOR_VIEWER[type_name](row, viewer)
    return _FROM_ROW[type_name](row)


@strawberry.type
class NodeQuery:
    @strawberry.field
    async def node(self, info: Info[Context, None], id: NodeId) -> Node | None:
        found = await nodes_resolvers.node(info.context, id)
        return node_of(*found, info.context.viewer) if found else None
