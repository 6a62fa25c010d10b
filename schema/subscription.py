"""The root Subscription: live messages and conversation changes for the viewer."""

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from resolvers import live
from resolvers.conversations import decode_message_cursor
from resolvers.ids import decode_id
from schema.conversation import Conversation, Message
from schema.inputs import Cursor, OptionalNodeId
from services.errors import InboxError


@strawberry.type
class Subscription:
    @strawberry.subscription(description="""New messages in the viewer's conversations (the viewer's own included, for their other tabs), or in one
conversation when conversationId is given. With after (a MessageEdge cursor, with or without
conversationId), first replays every message after it that the viewer may see, then continues live,
with no gap and no duplicate, so a client that reconnects loses nothing.""")
    async def message_added(self, info: Info, conversation_id: OptionalNodeId = None,
                            after: Cursor = None) -> AsyncGenerator[Message, None]:
        ctx = info.context
        conversation_pk = decode_id(conversation_id, "Conversation", "conversationId") if conversation_id else None
        after_id = decode_message_cursor(after)
        if conversation_pk is not None and not await ctx.loaders.conversation_by_id.load(conversation_pk):
            raise InboxError("The conversation was not found.", code="NOT_FOUND")
        async for row in live.message_rows(ctx, conversation_pk, after_id):
            ctx.refresh_loaders()
            yield Message.from_row(row, ctx.viewer)

    @strawberry.subscription(description="A conversation of the viewer changed: new message, read position, "
                                         "star, archive, block, sample status.")
    async def conversation_updated(self, info: Info) -> AsyncGenerator[Conversation, None]:
        ctx = info.context
        async for conversation_id in live.conversation_ids(ctx):
            ctx.refresh_loaders()
            row = await ctx.loaders.conversation_by_id.load(conversation_id)
            if row is not None:
                yield Conversation.from_row(row, ctx.viewer)
