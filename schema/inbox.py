"""The viewer, the inbox (folders, creator filter) and its counts."""

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import inbox as inbox_resolvers
from resolvers.context import Context
from schema.catalog import Shop
from schema.conversations import Conversation
from schema.enums import InboxFolder, ViewerRole
from schema.inputs import Cursor
from schema.marketplace import Creator, CreatorFilter
from schema.relay import Connection, build_connection


@strawberry.type(description="Who the caller is, taken from the bearer token.")
class Viewer:
    role: ViewerRole

    @strawberry.field
    async def shop(self, info: Info[Context, None]) -> Shop | None:
        viewer = info.context.viewer
        if not viewer.is_seller:
            return None
        return Shop.from_row(await info.context.loaders.shop_by_id.load(viewer.own_shop_id))

    @strawberry.field
    async def creator(self, info: Info[Context, None]) -> Creator | None:
        viewer = info.context.viewer
        if viewer.is_seller:
            return None
        return Creator.from_row(await info.context.loaders.creator_by_id.load(viewer.own_creator_id))


@strawberry.type(description="Badge counts for the folders, from the viewer's side.")
class InboxCounts:
    all: int
    unread: int
    unreplied: int
    starred: int
    archived: int


# How the field answers: (info, folder, filter, first, after) -> the page.
InboxPage = Callable[
    [Info[Context, None], InboxFolder | None, CreatorFilter | None, int | None, str | None],
    Awaitable[Connection[Conversation]],
]


def inbox_field(page: InboxPage) -> Any:
    """The `conversations` field, answered by `page` (`inbox_page`, or the speed layer's)."""

    async def conversations(
        self: Any,
        info: Info[Context, None],
        folder: InboxFolder | None = InboxFolder.ALL,
        filter: CreatorFilter | None = None,
        first: int | None = 20,
        after: Cursor = None,
    ) -> Connection[Conversation]:
        return await page(info, folder, filter, first, after)

    return strawberry.field(resolver=conversations, description="The viewer's inbox. first is at most 100.")


@strawberry.type
class InboxQuery:
    @strawberry.field
    def viewer(self, info: Info[Context, None]) -> Viewer:
        return Viewer(role=ViewerRole(info.context.viewer.role))

    conversations = inbox_field(lambda info, *arguments: inbox_page(info.context, *arguments))

    @strawberry.field
    async def inbox_counts(self, info: Info[Context, None]) -> InboxCounts:
        return InboxCounts(**await inbox_resolvers.counts(info.context))


async def inbox_page(
    ctx: Context, folder: InboxFolder | None, filter: CreatorFilter | None, first: int | None, after: str | None
) -> Connection[Conversation]:
    """`conversations`: a page of the viewer's inbox folder."""
    page = await inbox_resolvers.conversations(ctx, (folder or InboxFolder.ALL).value, filter, first, after)
    viewer = ctx.viewer
    return build_connection(
        page.rows,
        lambda row: Conversation.from_row(row, viewer),
        inbox_resolvers.conversation_cursor,
        page.has_next,
        page.has_previous,
    )
