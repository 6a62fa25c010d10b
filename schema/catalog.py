"""Shops and their products: the commerce platform's records."""

from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

from resolvers import catalog as catalog_resolvers
from resolvers.context import Context
from resolvers.ids import encode_id, id_cursor
from schema.enums import ShopStatus, by_value
from schema.inputs import Cursor
from schema.relay import Connection, Node, build_connection, empty_connection
from services.inbox import ShopRecord

if TYPE_CHECKING:
    from schema.collaborations import TargetCollaboration

TargetCollaborationRef = Annotated["TargetCollaboration", strawberry.lazy("schema.collaborations")]
_shop_status = by_value(ShopStatus)


@strawberry.type
class Shop(Node):
    id: strawberry.ID
    platform_id: str = strawberry.field(
        description="The shop's id on the commerce platform (the id used in imports and token subjects)."
    )
    name: str
    status: ShopStatus
    pk: strawberry.Private[int]
    gmv: strawberry.Private[Decimal]

    @classmethod
    def from_row(cls, row: Row[Any] | ShopRecord) -> "Shop":
        return cls(
            id=encode_id("Shop", row.id),
            pk=row.id,
            platform_id=row.platform_id,
            name=row.name,
            status=_shop_status(row.status),
            gmv=row.affiliate_gmv_30d,
        )

    @classmethod
    @lru_cache(maxsize=1024)
    def of_record(cls, record: ShopRecord) -> "Shop":
        """`from_row` of a hashable record, remembered: a seller's inbox page names one shop 50 times.
        Shops are read-only values, so sharing one between requests is safe."""
        return cls.from_row(record)

    @strawberry.field(
        name="affiliateGmv30d",
        description=(
            "Affiliate GMV over the last 30 days; it sets the weekly outreach limit. Visible to the shop's own "
            "sellers only: null for everyone else."
        ),
    )
    def affiliate_gmv_30d(self, info: Info[Context, None]) -> Decimal | None:
        # A commercial figure: a Shop object is shared between requests (of_record), so the
        # viewer is checked here, on every read, not when the object is built.
        return self.gmv if info.context.viewer.shop_id == self.pk else None

    @strawberry.field(description="Whether the viewer creator blocks this shop (creator viewers; false for sellers).")
    async def is_blocked(self, info: Info) -> bool:
        # Viewer-relative, like affiliateGmv30d: read per request, never kept on the shared object.
        if info.context.viewer.is_seller:
            return False
        return await info.context.loaders.shop_blocked.load(self.pk)

    @strawberry.field(description="The shop's products, for the chat side panel. Visible to the shop's own seller.")
    async def products(
        self, info: Info[Context, None], first: int | None = 20, after: Cursor = None
    ) -> Connection["Product"]:
        page = await catalog_resolvers.shop_products(info.context, self.pk, first, after)
        if page is None:
            return empty_connection()
        return build_connection(page.rows, Product.from_row, id_cursor, page.has_next, page.has_previous)

    @strawberry.field
    async def target_collaborations(
        self, info: Info[Context, None], first: int | None = 20, after: Cursor = None
    ) -> Connection[TargetCollaborationRef]:
        from schema.collaborations import TargetCollaboration

        page = await catalog_resolvers.shop_collaborations(info.context, self.pk, first, after)
        if page is None:
            return empty_connection()
        return build_connection(page.rows, TargetCollaboration.from_row, id_cursor, page.has_next, page.has_previous)


@strawberry.type
class Product(Node):
    id: strawberry.ID
    platform_id: str
    title: str
    price: Decimal
    currency: str
    image_url: str | None
    shop_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any]) -> "Product":
        return cls(
            id=encode_id("Product", row.id),
            shop_id=row.shop_id,
            platform_id=row.platform_id,
            title=row.title,
            price=row.price,
            currency=row.currency,
            image_url=row.image_url,
        )

    @strawberry.field
    async def shop(self, info: Info[Context, None]) -> Shop:
        return Shop.from_row(await info.context.loaders.shop_by_id.load(self.shop_id))
