"""Creating a target collaboration."""

from resolvers.access import require_seller
from resolvers.context import Context
from resolvers.ids import decode_id
from resolvers.outcomes import attempt
from services import collaborations


async def create_collaboration(ctx: Context, input) -> tuple[object, list]:
    require_seller(ctx, "createTargetCollaboration")
    product_ids = [decode_id(value, "Product", "productIds") for value in input.product_ids]
    return await attempt(ctx, lambda: collaborations.create_collaboration(
        ctx.app, ctx.viewer, input.name, product_ids, input.commission_rate))
