"""Message search: checking its arguments and reading a page."""

from core.errors import BadUserInput
from resolvers.context import Context
from resolvers.ids import optional_id
from resolvers.messages import decode_message_cursor
from services import search


async def search_messages(
    ctx: Context, query: str, conversation_id: str | None, first: int | None, after: str | None
) -> search.SearchPage:
    """A page of the viewer's messages holding `query` (BadUserInput for a malformed argument)."""
    size = 20 if first is None else first
    if not 0 <= size <= search.MAX_RESULTS:
        raise BadUserInput(f"first must be between 0 and {search.MAX_RESULTS}.")
    conversation_pk = optional_id(conversation_id, "Conversation", "conversationId")
    cursor = decode_message_cursor(after)
    return await search.search_messages(ctx.reader, ctx.viewer, query, conversation_pk, size, cursor)
