"""The root Subscription: live messages and conversation changes for the viewer."""

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from resolvers import live as live_resolvers
from resolvers.context import Context
from schema.conversations import Conversation
from schema.inputs import Cursor, OptionalNodeId
from schema.messages import Message

_MESSAGE_ADDED = """New messages in the viewer's conversations (the viewer's own included, for their other tabs), or in one
conversation when conversationId is given. With after (a MessageEdge cursor, with or without
conversationId), first replays every message after it that the viewer may see, then continues live,
with no gap and no duplicate, so a client that reconnects loses nothing."""  # noqa: E501 - the schema's text, line for line


@strawberry.type
class Subscription:
    @strawberry.subscription(description=_MESSAGE_ADDED)
    async def message_added(self, info: Info[Context, None], conversation_id: OptionalNodeId = None,
                            after: Cursor = None) -> AsyncGenerator[Message, None]:
        ctx = info.context
        async for row in live_resolvers.message_rows(ctx, conversation_id, after):
            ctx.refresh_loaders()
            yield Message.from_row(row, ctx.viewer)

    @strawberry.subscription(description="A conversation of the viewer changed: new message, read position, "
                                         "star, archive, block, sample status.")
    async def conversation_updated(self, info: Info[Context, None]) -> AsyncGenerator[Conversation, None]:
        ctx = info.context
        async for conversation_id in live_resolvers.conversation_ids(ctx):
            ctx.refresh_loaders()
            row = await ctx.loaders.conversation_by_id.load(conversation_id)
            if row is not None:
                yield Conversation.from_row(row, ctx.viewer)
