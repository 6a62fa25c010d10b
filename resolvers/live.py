"""The subscriptions' streams for one viewer: arguments decoded, then the gap-free delivery of services/live.py."""

from collections.abc import AsyncIterator

from core.errors import ErrorCode, InboxError
from resolvers.context import Context
from resolvers.ids import decode_id
from resolvers.messages import decode_message_cursor
from services import live


async def message_rows(ctx: Context, conversation_id: str | None, after: str | None) -> AsyncIterator:
    """Message rows for `messageAdded`: the replay after the cursor, then live."""
    conversation_pk = decode_id(conversation_id, "Conversation", "conversationId") if conversation_id else None
    after_id = decode_message_cursor(after)
    if conversation_pk is not None and not await ctx.loaders.conversation_by_id.load(conversation_pk):
        raise InboxError("The conversation was not found.", code=ErrorCode.NOT_FOUND)
    async for row in live.message_rows(ctx.app, ctx.viewer, conversation_pk, after_id):
        yield row


async def read_by_other_side(ctx: Context, row) -> bool:
    """Whether the other side has read a message delivered live (only the viewer's own can be read)."""
    if row.sender_role != ctx.viewer.side:
        return False
    conversation = await ctx.loaders.conversation_by_id.load(row.conversation_id)
    return conversation is not None and row.id <= conversation.other_last_read_message_id


def conversation_ids(ctx: Context) -> AsyncIterator[list[int]]:
    """Ids of the viewer's conversations as they change, for `conversationUpdated`: those of one event at a time."""
    return live.conversation_ids(ctx.app, ctx.viewer)
