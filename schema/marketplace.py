"""Creators, and the Find creators marketplace."""

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

from core import text
from resolvers import marketplace as marketplace_resolvers
from resolvers.context import Context
from resolvers.ids import encode_id
from schema.enums import CreatorOrder
from schema.inputs import Cursor, NodeId, text_field
from schema.relay import Connection, Node, build_connection
from services.inbox import MAX_CATEGORIES, CreatorRecord

if TYPE_CHECKING:
    from schema.conversations import Conversation

ConversationRef = Annotated["Conversation", strawberry.lazy("schema.conversations")]


@strawberry.type
class Creator(Node):
    id: strawberry.ID
    platform_id: str
    handle: str
    display_name: str
    avatar_url: str | None
    follower_count: int
    main_category: str
    gmv_30d: Decimal = strawberry.field(description="Sales performance: GMV the creator drove over the last 30 days.")
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any] | CreatorRecord) -> "Creator":
        return cls(
            id=encode_id("Creator", row.id),
            pk=row.id,
            platform_id=row.platform_id,
            handle=row.handle,
            display_name=row.display_name,
            avatar_url=row.avatar_url,
            follower_count=row.follower_count,
            main_category=row.main_category,
            gmv_30d=row.gmv_30d,
        )

    @strawberry.field(description="The viewer shop's conversation with this creator, if one exists (seller viewers).")
    async def conversation(self, info: Info[Context, None]) -> ConversationRef | None:
        from schema.conversations import Conversation

        if not info.context.viewer.is_seller:
            return None
        row = await info.context.loaders.conversation_by_creator.load(self.pk)
        return Conversation.from_row(row, info.context.viewer) if row else None

    @strawberry.field(description="Whether the viewer shop has blocked this creator (seller viewers).")
    async def is_blocked(self, info: Info[Context, None]) -> bool:
        if not info.context.viewer.is_seller:
            return False
        return await info.context.loaders.creator_blocked.load(self.pk)


@strawberry.input(
    description=(
        "Filters on the creator side of a conversation or on the creator marketplace. "
        "For seller viewers only. Bounds are inclusive."
    )
)
class CreatorFilter:
    min_followers: int | None = None
    max_followers: int | None = None
    categories: list[str] | None = text_field(
        text.CATEGORY,
        default=None,
        each=True,
        description=f"Main categories to match (any of them), at most {MAX_CATEGORIES}.",
    )
    min_gmv: Decimal | None = strawberry.field(default=None, description="Sales performance bounds on gmv30d.")
    max_gmv: Decimal | None = None
    search: str | None = text_field(
        text.SEARCH, default=None, description="Case-insensitive substring of the handle or the display name."
    )


@strawberry.type
class MarketplaceQuery:
    @strawberry.field(description="The Find creators marketplace (seller viewers).")
    async def creators(
        self,
        info: Info[Context, None],
        filter: CreatorFilter | None = None,
        order_by: CreatorOrder | None = CreatorOrder.FOLLOWERS_DESC,
        first: int | None = 20,
        after: Cursor = None,
    ) -> Connection[Creator]:
        order = (order_by or CreatorOrder.FOLLOWERS_DESC).value
        page = await marketplace_resolvers.creators(info.context, filter, order, first, after)
        return build_connection(
            page.rows, Creator.from_row, marketplace_resolvers.creator_cursor(order), page.has_next, page.has_previous
        )

    @strawberry.field
    async def creator(self, info: Info[Context, None], id: NodeId) -> Creator | None:
        row = await marketplace_resolvers.creator(info.context, id)
        return Creator.from_row(row) if row else None

    @strawberry.field(description="Distinct main categories, for filter menus.")
    async def categories(self, info: Info[Context, None]) -> list[str]:
        return await marketplace_resolvers.categories(info.context)
