"""Target collaborations: a shop's commission offer on some of its products."""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

from core.text import GLOBAL_ID, NAME
from resolvers import collaborations as collaborations_resolvers
from resolvers.context import Context
from resolvers.ids import encode_id
from schema.catalog import Product, Shop
from schema.enums import (
    TargetCollaborationStatus,
)
from schema.inputs import text_field
from schema.payloads import Refusable, UserError, user_errors
from schema.relay import Node

if TYPE_CHECKING:
    pass


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
    def from_row(cls, row: Row[Any]) -> "TargetCollaboration":
        return cls(
            id=encode_id("TargetCollaboration", row.id),
            pk=row.id,
            shop_id=row.shop_id,
            name=row.name,
            commission_rate=row.commission_rate,
            status=TargetCollaborationStatus(row.status),
            created_at=row.created_at,
        )

    @strawberry.field
    async def products(self, info: Info[Context, None]) -> list[Product]:
        rows = await info.context.loaders.products_by_collaboration.load(self.pk)
        return [Product.from_row(row) for row in rows]

    @strawberry.field
    async def shop(self, info: Info[Context, None]) -> Shop:
        return Shop.from_row(await info.context.loaders.shop_by_id.load(self.shop_id))


@strawberry.input
class CreateTargetCollaborationInput:
    name: str = text_field(NAME)
    product_ids: list[strawberry.ID] = text_field(GLOBAL_ID, each=True)
    commission_rate: Decimal


@strawberry.type
class TargetCollaborationPayload(Refusable):
    collaboration: TargetCollaboration | None = None
    user_errors: list[UserError]


@strawberry.type
class CollaborationMutation:
    @strawberry.mutation
    async def create_target_collaboration(
        self, info: Info[Context, None], input: CreateTargetCollaborationInput
    ) -> TargetCollaborationPayload:
        row, errors = await collaborations_resolvers.create_collaboration(info.context, input)
        return TargetCollaborationPayload(
            collaboration=TargetCollaboration.from_row(row) if row else None, user_errors=user_errors(errors)
        )
