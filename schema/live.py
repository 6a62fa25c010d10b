"""The root Subscription: live messages, conversation changes and the other side typing; typing reports."""

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from core.text import GLOBAL_ID
from resolvers import live as live_resolvers
from resolvers.context import Context
from schema.conversations import Conversation
from schema.enums import SenderRole, by_value
from schema.inputs import Cursor, OptionalNodeId, text_field
from schema.messages import Message
from schema.payloads import Refusable, UserError, user_errors

_role = by_value(SenderRole)


@strawberry.type(description="Another party is typing in a conversation of the viewer.")
class TypingIndicator:
    conversation: Conversation
    role: SenderRole
    is_typing: bool = strawberry.field(description="False when they stopped or sent their message.")
    expires_at: datetime = strawberry.field(description="When the indicator should disappear unless it is renewed.")


@strawberry.input
class ReportTypingInput:
    conversation_id: strawberry.ID = text_field(GLOBAL_ID)
    is_typing: bool | None = strawberry.field(
        default=True, description="False when the viewer stopped typing without sending."
    )


def asks_for(info: Info[Context, None], name: str) -> bool:
    """Whether the current field's selection may ask for the `name` field of its result: directly, or in
    any fragment (whatever its type condition or directives, so True errs on the safe side)."""
    pending = [selection for field in info.selected_fields for selection in field.selections]
    while pending:
        selection = pending.pop()
        if isinstance(selection, SelectedField):
            if selection.name == name:
                return True
        else:  # a fragment spread or an inline fragment
            pending.extend(selection.selections)
    return False


@strawberry.type
class ReportTypingPayload(Refusable):
    user_errors: list[UserError]


@strawberry.type
class LiveMutation:
    @strawberry.mutation(description="Tell the other side that the viewer is typing; nothing is stored.")
    async def report_typing(self, info: Info, input: ReportTypingInput) -> ReportTypingPayload:
        return ReportTypingPayload(user_errors=user_errors(await live_resolvers.report_typing(info.context, input)))


_MESSAGE_ADDED = """New messages in the viewer's conversations (the viewer's own included, for their other tabs), or in one
conversation when conversationId is given. With after (a MessageEdge cursor, with or without
conversationId), first replays every message after it that the viewer may see, then continues live,
with no gap and no duplicate, so a client that reconnects loses nothing."""  # noqa: E501 - the schema's text, line for line


@strawberry.type
class Subscription:
    @strawberry.subscription(description=_MESSAGE_ADDED)
    async def message_added(
        self, info: Info[Context, None], conversation_id: OptionalNodeId = None, after: Cursor = None
    ) -> AsyncGenerator[Message, None]:
        ctx = info.context
        receipts = asks_for(info, "isReadByOtherSide")
        # Not held by the frame for the subscription's life: `info` caches the converted selection (the
        # nodes `asks_for` read), about 2 KB that every idle subscription would keep.
        del info
        async for row in await live_resolvers.message_rows(ctx, conversation_id, after):
            ctx.refresh_loaders()
            yield Message.from_row(row, ctx.viewer, receipts and await live_resolvers.read_by_other_side(ctx, row))

    @strawberry.subscription(
        description="A conversation of the viewer changed: new message, read position "
        "(either side's), star, archive, block, sample status."
    )
    async def conversation_updated(self, info: Info[Context, None]) -> AsyncGenerator[Conversation, None]:
        ctx = info.context
        async for conversation_ids in live_resolvers.conversation_ids(ctx):
            ctx.refresh_loaders()
            # One event may name many conversations (a folder marked read): one statement reads them.
            for row in await ctx.loaders.conversation_by_id.load_many(conversation_ids):
                if row is not None:
                    yield Conversation.from_row(row, ctx.viewer)

    @strawberry.subscription(description="The other side typing in the viewer's conversations, or in one.")
    async def typing(self, info: Info, conversation_id: OptionalNodeId = None) -> AsyncGenerator[TypingIndicator, None]:
        ctx = info.context
        async for event in await live_resolvers.typing_events(ctx, conversation_id):
            ctx.refresh_loaders()
            row = await ctx.loaders.conversation_by_id.load(event["conversation_id"])
            if row is not None:
                yield TypingIndicator(
                    conversation=Conversation.from_row(row, ctx.viewer),
                    role=_role(event["role"]),
                    is_typing=event["is_typing"],
                    expires_at=datetime.fromisoformat(event["expires_at"]),
                )
