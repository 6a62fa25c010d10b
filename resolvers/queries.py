"""The remaining root queries: node, marketplace, quota, sample requests."""

from resolvers.access import require_seller
from resolvers.context import Context
from resolvers.conversations import creator_filter
from resolvers.ids import (
    cursor_decimal,
    cursor_int,
    decode_any_id,
    decode_cursor,
    decode_id,
    encode_cursor,
    page_size,
)
from services import history, marketplace, outreach
from services.errors import BadUserInput
from services.history import Page

NODE_TYPES = ("Shop", "Creator", "Product", "Conversation", "Message", "SampleRequest", "TargetCollaboration")


async def node(ctx: Context, global_id: str) -> tuple[str, object] | None:
    """(type name, row) of any node the viewer may see."""
    type_name, pk = decode_any_id(global_id)
    if type_name not in NODE_TYPES:
        raise BadUserInput(f"Malformed ID: {global_id!r}.")
    loaders, viewer = ctx.loaders, ctx.viewer
    row = None
    if type_name == "Shop":
        row = await loaders.shop_by_id.load(pk)
    elif type_name == "Creator":
        row = await creator_by_pk(ctx, pk)
    elif type_name == "Product":
        row = await loaders.product_by_id.load(pk)
    elif type_name == "Conversation":
        row = await loaders.conversation_by_id.load(pk)
    elif type_name == "Message":
        row = await loaders.message_by_id.load(pk)
        if row and not await loaders.conversation_by_id.load(row.conversation_id):
            row = None
    elif type_name == "SampleRequest":
        row = await loaders.sample_request_by_id.load(pk)
        if row and not viewer.owns(row.shop_id, row.creator_id):
            row = None
    else:
        row = await loaders.collaboration_by_id.load(pk)
        if row and row.shop_id != viewer.shop_id:
            row = None
    return (type_name, row) if row else None


def creator_cursor(order: str):
    return lambda row: encode_cursor(marketplace.order_value(row, order), row.id)


async def creators(ctx: Context, flt, order: str, first: int | None, after: str | None) -> Page:
    require_seller(ctx, "The creator marketplace")
    size = page_size(first, 20)
    value_type = cursor_int if order == "FOLLOWERS_DESC" else cursor_decimal
    cursor = decode_cursor(after, value_type, cursor_int)
    async with ctx.connect() as conn:
        rows, has_next = await marketplace.list_creators(conn, creator_filter(flt), order, size, cursor)
    return Page(rows, has_next, cursor is not None)


async def creator(ctx: Context, creator_id: str):
    return await creator_by_pk(ctx, decode_id(creator_id, "Creator"))


async def creator_by_pk(ctx: Context, pk: int):
    """A creator's profile: any for sellers (the marketplace shows them all), only their own for
    creators (creators deal with shops, never with each other)."""
    row = await ctx.loaders.creator_by_id.load(pk)
    return row if row and (ctx.viewer.is_seller or row.id == ctx.viewer.creator_id) else None


async def categories(ctx: Context) -> list[str]:
    async with ctx.connect() as conn:
        return await marketplace.categories(conn)


async def outreach_quota(ctx: Context) -> outreach.Quota:
    require_seller(ctx, "The outreach quota")
    async with ctx.connect() as conn:
        return await outreach.read_quota(conn, ctx.settings.outreach_tiers, ctx.viewer.shop_id)


async def sample_requests(ctx: Context, status: str | None, first: int | None, after: str | None) -> Page:
    size, cursor = page_size(first, 20), decode_cursor(after, cursor_int)
    async with ctx.connect() as conn:
        return await history.list_sample_requests(conn, ctx.viewer, status, size, cursor)
