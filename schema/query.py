"""The root Query."""

import strawberry
from strawberry.types import Info

from resolvers import conversations as conversation_resolvers
from resolvers import queries
from resolvers.ids import id_cursor
from schema.conversation import Conversation, Message
from schema.enums import CreatorOrder, InboxFolder, SampleRequestStatus, ViewerRole
from schema.inbox import CreatorFilter, InboxCounts, OutreachQuota, Viewer
from schema.inputs import Cursor, NodeId
from schema.lookahead import subfield_arguments
from schema.offers import SampleRequest, TargetCollaboration
from schema.platform import Creator, Product, Shop
from schema.relay import Connection, Node, build_connection


def node_of(type_name: str, row, viewer) -> Node:
    """The GraphQL object of a row of the given node type."""
    if type_name in ("Conversation", "Message"):
        return {"Conversation": Conversation, "Message": Message}[type_name].from_row(row, viewer)
    return {"Shop": Shop, "Creator": Creator, "Product": Product, "SampleRequest": SampleRequest,
            "TargetCollaboration": TargetCollaboration}[type_name].from_row(row)


@strawberry.type
class Query:
    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        return Viewer(role=ViewerRole(info.context.viewer.role))

    @strawberry.field
    async def node(self, info: Info, id: NodeId) -> Node | None:
        found = await queries.node(info.context, id)
        return node_of(*found, info.context.viewer) if found else None

    @strawberry.field(description="The viewer's inbox. first is at most 100.")
    async def conversations(self, info: Info, folder: InboxFolder | None = InboxFolder.ALL,
                            filter: CreatorFilter | None = None, first: int | None = 20,
                            after: Cursor = None) -> Connection[Conversation]:
        page = await conversation_resolvers.conversations(
            info.context, (folder or InboxFolder.ALL).value, filter, first, after)
        viewer = info.context.viewer
        return build_connection(page.rows, lambda row: Conversation.from_row(row, viewer),
                                conversation_resolvers.conversation_cursor, page.has_next, page.has_previous)

    @strawberry.field
    async def conversation(self, info: Info, id: NodeId) -> Conversation | None:
        # The chat screen asks for the conversation and its messages: one statement reads both.
        row = await conversation_resolvers.conversation(info.context, id, subfield_arguments(info, "messages"))
        return Conversation.from_row(row, info.context.viewer) if row else None

    @strawberry.field
    async def inbox_counts(self, info: Info) -> InboxCounts:
        return InboxCounts(**await conversation_resolvers.counts(info.context))

    @strawberry.field(description="The Find creators marketplace (seller viewers).")
    async def creators(self, info: Info, filter: CreatorFilter | None = None,
                       order_by: CreatorOrder | None = CreatorOrder.FOLLOWERS_DESC, first: int | None = 20,
                       after: Cursor = None) -> Connection[Creator]:
        order = (order_by or CreatorOrder.FOLLOWERS_DESC).value
        page = await queries.creators(info.context, filter, order, first, after)
        return build_connection(page.rows, Creator.from_row, queries.creator_cursor(order),
                                page.has_next, page.has_previous)

    @strawberry.field
    async def creator(self, info: Info, id: NodeId) -> Creator | None:
        row = await queries.creator(info.context, id)
        return Creator.from_row(row) if row else None

    @strawberry.field(description="Distinct main categories, for filter menus.")
    async def categories(self, info: Info) -> list[str]:
        return await queries.categories(info.context)

    @strawberry.field(description="Seller viewers only.")
    async def outreach_quota(self, info: Info) -> OutreachQuota:
        return OutreachQuota.from_quota(await queries.outreach_quota(info.context))

    @strawberry.field
    async def sample_requests(self, info: Info, status: SampleRequestStatus | None = None, first: int | None = 20,
                              after: Cursor = None) -> Connection[SampleRequest]:
        page = await queries.sample_requests(info.context, status.value if status else None, first, after)
        return build_connection(page.rows, SampleRequest.from_row, id_cursor, page.has_next, page.has_previous)
