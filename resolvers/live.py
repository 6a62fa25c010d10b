"""The subscriptions' streams for one viewer (arguments decoded, then the delivery of services/live.py), and
typing reports."""

from collections.abc import AsyncIterator
from typing import Any

from core.errors import ErrorCode, InboxError, RuleViolation
from resolvers.context import Context
from resolvers.ids import decode_id
from resolvers.messages import decode_message_cursor
from resolvers.outcomes import attempt
from services import live
from services.inbox import MessageRecord


def _conversation_pk(conversation_id: str | None) -> int | None:
    return decode_id(conversation_id, "Conversation", "conversationId") if conversation_id else None


async def _require_seen(ctx: Context, conversation_pk: int | None) -> None:
    """NOT_FOUND for a subscription limited to a conversation the viewer does not see."""
    if conversation_pk is not None and not await ctx.loaders.conversation_by_id.load(conversation_pk):
        raise InboxError("The conversation was not found.", code=ErrorCode.NOT_FOUND)


async def message_rows(ctx: Context, conversation_id: str | None, after: str | None) -> AsyncIterator:
    """Message rows for `messageAdded`: the replay after the cursor, then live. The arguments are checked
    when awaited; the stream is the service's own (no generator of ours in between: one less frame held
    for as long as the subscription lives, by every idle subscription)."""
    conversation_pk = _conversation_pk(conversation_id)
    after_id = decode_message_cursor(after)
    await _require_seen(ctx, conversation_pk)
    return live.message_rows(ctx.app, ctx.viewer, conversation_pk, after_id)


async def read_by_other_side(ctx: Context, row: MessageRecord) -> bool:
    """Whether the other side has read a message delivered live (only the viewer's own can be read)."""
    if row.sender_role != ctx.viewer.side:
        return False
    conversation = await ctx.loaders.conversation_by_id.load(row.conversation_id)
    return conversation is not None and row.id <= conversation.other_last_read_message_id


def conversation_ids(ctx: Context) -> AsyncIterator[list[int]]:
    """Ids of the viewer's conversations as they change, for `conversationUpdated`: those of one event at a time."""
    return live.conversation_ids(ctx.app, ctx.viewer)


async def typing_events(ctx: Context, conversation_id: str | None) -> AsyncIterator[dict]:
    """The other sides' typing events, for `typing` (checked when awaited, as `message_rows`)."""
    conversation_pk = _conversation_pk(conversation_id)
    await _require_seen(ctx, conversation_pk)
    return live.typing_events(ctx.app, ctx.viewer, conversation_pk)


async def report_typing(ctx: Context, input: Any) -> list[RuleViolation]:
    """The refusals of a typing report, within the principal's typing rate (a bucket of its own)."""
    conversation_id = decode_id(input.conversation_id, "Conversation", "conversationId")
    _, errors = await attempt(
        ctx,
        lambda: live.report_typing(ctx.app, ctx.viewer, conversation_id, input.is_typing is not False),
        bucket="typing",
    )
    return errors
