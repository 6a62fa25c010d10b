"""The root Subscription: live messages and conversation changes for the viewer."""

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from resolvers import live as live_resolvers
from schema.conversations import Conversation
from schema.inputs import Cursor, OptionalNodeId
from schema.lookahead import selects
from schema.messages import Message


@strawberry.type
class Subscription:
    @strawberry.subscription(description="""New messages in the viewer's conversations (the viewer's own included, for their other tabs), or in one
conversation when conversationId is given. With after (a MessageEdge cursor, with or without
conversationId), first replays every message after it that the viewer may see, then continues live,
with no gap and no duplicate, so a client that reconnects loses nothing.""")
    async def message_added(self, info: Info, conversation_id: OptionalNodeId = None,
                            after: Cursor = None) -> AsyncGenerator[Message, None]:
        ctx = info.context
        receipts = selects(info, "isReadByOtherSide")
        async for row in live_resolvers.message_rows(ctx, conversation_id, after):
            ctx.refresh_loaders()
            yield Message.from_row(row, ctx.viewer, receipts and await live_resolvers.read_by_other_side(ctx, row))

    @strawberry.subscription(description="A conversation of the viewer changed: new message, read position "
                                         "(either side's), star, archive, block, sample status.")
    async def conversation_updated(self, info: Info) -> AsyncGenerator[Conversation, None]:
        ctx = info.context
        async for conversation_ids in live_resolvers.conversation_ids(ctx):
            ctx.refresh_loaders()
            # One event may name many conversations (a folder marked read): one statement reads them.
            for row in await ctx.loaders.conversation_by_id.load_many(conversation_ids):
                if row is not None:
                    yield Conversation.from_row(row, ctx.viewer)
