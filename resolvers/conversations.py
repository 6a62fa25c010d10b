"""One conversation, and opening and filing it."""

from resolvers.access import require_seller
from resolvers.context import Context
from resolvers.ids import (
    decode_id,
    optional_id,
)
from resolvers.outcomes import attempt
from services import conversations


async def conversation(ctx: Context, conversation_id: str):
    """The conversation row, if the viewer may see it."""
    return await ctx.loaders.conversation_by_id.load(decode_id(conversation_id, "Conversation"))


async def start_conversation(ctx: Context, input) -> tuple[int | None, list]:
    require_seller(ctx, "startConversation")
    creator_id = decode_id(input.creator_id, "Creator", "creatorId")
    return await attempt(ctx, lambda: conversations.start_conversation(ctx.app, ctx.viewer, creator_id, input.entrance.value))


async def set_flag(ctx: Context, input, action: str) -> tuple[int | None, list]:
    conversation_id = decode_id(input.conversation_id, "Conversation", "conversationId")
    return await attempt(ctx, lambda: conversations.set_flag(ctx.app, ctx.viewer, conversation_id, action))


async def mark_read(ctx: Context, input) -> tuple[int | None, list]:
    conversation_id = decode_id(input.conversation_id, "Conversation", "conversationId")
    up_to = optional_id(input.up_to_message_id, "Message", "upToMessageId")
    return await attempt(ctx, lambda: conversations.mark_read(ctx.app, ctx.viewer, conversation_id, up_to))
