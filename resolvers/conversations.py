"""One conversation, and opening and filing it."""

from collections.abc import Sequence
from enum import Enum
from typing import Protocol

from core.errors import RuleViolation
from resolvers.access import require_seller
from resolvers.context import Context
from resolvers.ids import (
    decode_id,
    optional_id,
)
from resolvers.outcomes import attempt
from services import conversations
from services.inbox import ConversationRecord


class StartConversationInput(Protocol):
    @property
    def creator_id(self) -> str: ...
    @property
    def entrance(self) -> Enum: ...


class ConversationInput(Protocol):
    @property
    def conversation_id(self) -> str: ...


class MarkConversationReadInput(Protocol):
    @property
    def conversation_id(self) -> str: ...
    @property
    def up_to_message_id(self) -> str | None: ...


async def conversation(ctx: Context, conversation_id: str) -> ConversationRecord | None:
    """The conversation row, if the viewer may see it."""
    pk = decode_id(conversation_id, "Conversation")
    row: ConversationRecord | None = await ctx.loaders.conversation_by_id.load(pk)
    return row


async def start_conversation(ctx: Context, input: StartConversationInput) -> tuple[int | None, list[RuleViolation]]:
    require_seller(ctx, "startConversation")
    creator_id = decode_id(input.creator_id, "Creator", "creatorId")
    return await attempt(
        ctx, lambda: conversations.start_conversation(ctx.app, ctx.viewer, creator_id, input.entrance.value)
    )


async def set_flag(ctx: Context, input: ConversationInput, action: str) -> tuple[int | None, list[RuleViolation]]:
    conversation_id = decode_id(input.conversation_id, "Conversation", "conversationId")
    return await attempt(ctx, lambda: conversations.set_flag(ctx.app, ctx.viewer, conversation_id, action))


async def mark_read(ctx: Context, input: MarkConversationReadInput) -> tuple[int | None, list[RuleViolation]]:
    conversation_id = decode_id(input.conversation_id, "Conversation", "conversationId")
    up_to = optional_id(input.up_to_message_id, "Message", "upToMessageId")
    return await attempt(ctx, lambda: conversations.mark_read(ctx.app, ctx.viewer, conversation_id, up_to))


class MarkConversationsReadInput(Protocol):
    @property
    def conversation_ids(self) -> Sequence[str]: ...


class MarkAllConversationsReadInput(Protocol):
    @property
    def folder(self) -> Enum | None: ...


async def mark_many_read(
    ctx: Context,
    input: MarkConversationsReadInput,
) -> tuple[conversations.MarkedMany | None, list[RuleViolation]]:
    given = input.conversation_ids

    async def mark() -> conversations.MarkedMany:
        conversations.check_mark_many(len(given))  # counted as given, before any id is decoded
        ids = [decode_id(value, "Conversation", "conversationIds") for value in given]
        return await conversations.mark_many_read(ctx.app, ctx.viewer, ids)

    marked, refusal = await attempt(ctx, mark)
    return marked, refusal or (marked.errors if marked else [])


async def mark_all_read(
    ctx: Context,
    input: MarkAllConversationsReadInput,
) -> tuple[conversations.MarkedAll | None, list[RuleViolation]]:
    folder = input.folder.value if input.folder is not None else "ALL"  # an explicit null: the default
    return await attempt(ctx, lambda: conversations.mark_all_read(ctx.app, ctx.viewer, folder))
