"""Any node by its global ID, if the viewer may see it."""

from core.errors import BadUserInput
from resolvers.context import Context
from resolvers.ids import (
    decode_any_id,
)
from resolvers.marketplace import creator_by_pk
from resolvers.webhooks import visible_delivery, visible_endpoint
from services import images

NODE_TYPES = (
    "Shop",
    "Creator",
    "Product",
    "Conversation",
    "Message",
    "SampleRequest",
    "TargetCollaboration",
    "Image",
    "WebhookEndpoint",
    "WebhookDelivery",
)


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
    elif type_name == "Image":
        row = await images.visible_image(ctx.reader, viewer, pk)
    elif type_name == "SampleRequest":
        row = await loaders.sample_request_by_id.load(pk)
        if row and not viewer.owns(row.shop_id, row.creator_id):
            row = None
    elif type_name == "WebhookEndpoint":
        row = await visible_endpoint(ctx, pk)
    elif type_name == "WebhookDelivery":
        row = await visible_delivery(ctx, pk)
    else:
        row = await loaders.collaboration_by_id.load(pk)
        if row and row.shop_id != viewer.shop_id:
            row = None
    return (type_name, row) if row else None
