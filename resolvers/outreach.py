"""The seller's weekly outreach quota."""

from resolvers.access import require_seller
from resolvers.context import Context
from services import outreach


async def outreach_quota(ctx: Context) -> outreach.Quota:
    require_seller(ctx, "The outreach quota")
    async with ctx.connect() as conn:
        return await outreach.read_quota(conn, ctx.settings.outreach_tiers, ctx.viewer.own_shop_id)
