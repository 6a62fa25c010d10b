"""Creating a target collaboration."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Row

from core.errors import RuleViolation
from resolvers.access import require_seller
from resolvers.context import Context
from resolvers.ids import decode_id
from resolvers.outcomes import attempt
from services import collaborations


class CreateTargetCollaborationInput(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def product_ids(self) -> Sequence[str]: ...
    @property
    def commission_rate(self) -> Decimal: ...


async def create_collaboration(
    ctx: Context, input: CreateTargetCollaborationInput
) -> tuple[Row[Any] | None, list[RuleViolation]]:
    require_seller(ctx, "createTargetCollaboration")
    product_ids = [decode_id(value, "Product", "productIds") for value in input.product_ids]
    return await attempt(
        ctx,
        lambda: collaborations.create_collaboration(
            ctx.app, ctx.viewer, input.name, product_ids, input.commission_rate
        ),
    )
