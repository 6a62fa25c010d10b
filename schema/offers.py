"""Target collaborations and sample requests."""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from resolvers.ids import encode_id
from schema.enums import SampleRequestStatus, TargetCollaborationStatus
from schema.platform import Creator, Product, Shop
from schema.relay import Node

if TYPE_CHECKING:
    from schema.conversation import Conversation


@strawberry.type
class TargetCollaboration(Node):
    id: strawberry.ID
    name: str
    commission_rate: Decimal
    status: TargetCollaborationStatus
    created_at: datetime
    pk: strawberry.Private[int]
    shop_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row) -> "TargetCollaboration":
        return cls(id=encode_id("TargetCollaboration", row.id), pk=row.id, shop_id=row.shop_id, name=row.name,
                   commission_rate=row.commission_rate, status=TargetCollaborationStatus(row.status),
                   created_at=row.created_at)

    @strawberry.field
    async def products(self, info: Info) -> list[Product]:
        rows = await info.context.loaders.products_by_collaboration.load(self.pk)
        return [Product.from_row(row) for row in rows]

    @strawberry.field
    async def shop(self, info: Info) -> Shop:
        return Shop.from_row(await info.context.loaders.shop_by_id.load(self.shop_id))


@strawberry.type
class SampleRequest(Node):
    id: strawberry.ID
    status: SampleRequestStatus
    note: str | None
    reject_reason: str | None
    created_at: datetime
    decided_at: datetime | None
    pk: strawberry.Private[int]
    shop_id: strawberry.Private[int]
    creator_id: strawberry.Private[int]
    product_id: strawberry.Private[int]
    conversation_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row) -> "SampleRequest":
        return cls(id=encode_id("SampleRequest", row.id), pk=row.id, shop_id=row.shop_id,
                   creator_id=row.creator_id, product_id=row.product_id, conversation_id=row.conversation_id,
                   status=SampleRequestStatus(row.status), note=row.note, reject_reason=row.reject_reason,
                   created_at=row.created_at, decided_at=row.decided_at)

    @strawberry.field
    async def shop(self, info: Info) -> Shop:
        return Shop.from_row(await info.context.loaders.shop_by_id.load(self.shop_id))

    @strawberry.field
    async def creator(self, info: Info) -> Creator:
        return Creator.from_row(await info.context.loaders.creator_by_id.load(self.creator_id))

    @strawberry.field
    async def product(self, info: Info) -> Product:
        return Product.from_row(await info.context.loaders.product_by_id.load(self.product_id))

    @strawberry.field
    async def conversation(
            self, info: Info) -> Annotated["Conversation", strawberry.lazy("schema.conversation")]:
        from schema.conversation import Conversation

        row = await info.context.loaders.conversation_by_id.load(self.conversation_id)
        return Conversation.from_row(row, info.context.viewer)
