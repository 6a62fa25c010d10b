"""Conversations: one conversation, and opening, reading and filing it."""

from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self

import strawberry
from strawberry.types import Info

from core.errors import RuleViolation
from core.text import GLOBAL_ID
from core.viewer import Viewer
from resolvers import conversations as conversations_resolvers
from resolvers import inbox as inbox_resolvers
from resolvers.context import Context
from resolvers.ids import encode_id
from schema.catalog import Shop
from schema.enums import (
    ConversationEntrance,
    InboxFolder,
    SampleRequestStatus,
    by_value,
)
from schema.inputs import Cursor, NodeId, text_field
from schema.marketplace import Creator
from schema.messages import Message, read_message_connection
from schema.payloads import Refusable, UserError, user_errors
from schema.relay import Connection, Node
from schema.samples import SampleRequest
from services.inbox import ConversationRecord
from services.outreach import PRE_REPLY_LIMIT

if TYPE_CHECKING:
    from schema.inbox import InboxCounts

# The inbox's counts, which mark-all answers with: the type is looked up lazily (schema.inbox imports this module).
InboxCountsRef = Annotated["InboxCounts", strawberry.lazy("schema.inbox")]

_entrance = by_value(ConversationEntrance)


@strawberry.type
class Conversation(Node):
    id: strawberry.ID
    entrance: ConversationEntrance = strawberry.field(
        description="The entrance through which the conversation was first opened."
    )
    created_at: datetime
    last_activity_at: datetime = strawberry.field(
        description="Newest message time, or createdAt when there is none; the inbox is ordered by it, newest first."
    )
    unread_count: int = strawberry.field(
        description="Messages from the other side newer than the viewer's read position."
    )
    is_starred: bool
    is_archived: bool
    is_unreplied: bool
    creator_has_replied: bool
    messages_remaining_before_reply: int | None = strawberry.field(
        description=(
            "For the seller: how many more messages may be sent before the creator replies; null once the creator "
            "has replied (the limit is lifted) and for creator viewers."
        )
    )
    is_blocked: bool = strawberry.field(description="True while the shop blocks the creator.")
    is_blocked_by_creator: bool = strawberry.field(description="True while the creator blocks the shop.")
    other_side_last_read_at: datetime | None = strawberry.field(
        description="When the other side last moved its read position forward; null if it never read anything."
    )
    shop: Shop
    creator: Creator
    last_message: "Message | None"
    pk: strawberry.Private[int]
    other_read: strawberry.Private[int]  # the other side's read position (a message id), for read receipts

    @classmethod
    def from_row(cls, row: ConversationRecord, viewer: Viewer) -> Self:
        """From a record of `services.inbox.conversation_record`, seen from the viewer's side.

        The record carries the creator, shop and newest message, so these are plain fields:
        an inbox page resolves without another query or an awaitable per row."""
        remaining = None
        if viewer.is_seller and not row.creator_has_replied:
            remaining = max(0, PRE_REPLY_LIMIT - row.seller_message_count)
        other_read = row.other_last_read_message_id
        last = row.last_message
        return cls(
            id=encode_id("Conversation", row.id),
            pk=row.id,
            shop=Shop.of_record(row.shop),
            creator=Creator.from_row(row.creator),
            other_read=other_read,
            other_side_last_read_at=row.other_last_read_at,
            last_message=Message.from_row(last, viewer, last.id <= other_read) if last else None,
            entrance=_entrance(row.entrance),
            created_at=row.created_at,
            last_activity_at=row.last_activity_at,
            unread_count=row.unread_count,
            is_starred=row.starred,
            is_archived=row.archived,
            is_unreplied=row.unreplied,
            creator_has_replied=row.creator_has_replied,
            messages_remaining_before_reply=remaining,
            is_blocked=row.blocked,
            is_blocked_by_creator=row.blocked_by_creator,
        )

    @strawberry.field(
        description="Chronological. Use last/before to page back through history, "
        "first/after to page forward. Without either, the latest 20."
    )
    def messages(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: Cursor = None,
        last: int | None = None,
        before: Cursor = None,
    ) -> Connection["Message"]:
        # An awaitable, or the page itself (fastpath/readahead.py): strawberry reads the schema from the
        # annotation, so it names the awaited value.
        return self.message_page(info.context, first, after, last, before)  # type: ignore[return-value]

    def message_page(
        self, ctx: Context, first: int | None, after: str | None, last: int | None, before: str | None
    ) -> Connection[Message] | Awaitable[Connection[Message]]:
        """The page, read now: an awaitable, which graphql-core awaits as an async resolver's result. A
        conversation read with its page answers at once instead (fastpath/readahead.py)."""
        return read_message_connection(ctx, self.pk, self.other_read, first, after, last, before)

    @strawberry.field
    async def sample_requests(
        self, info: Info[Context, None], status: SampleRequestStatus | None = None
    ) -> list[SampleRequest]:
        rows = await info.context.loaders.sample_requests_by_conversation.load(self.pk)
        return [SampleRequest.from_row(row) for row in rows if status is None or row.status == status.value]


async def load_conversation(ctx: Context, conversation_id: int | None) -> Conversation | None:
    """The conversation as it is now (after a mutation), seen by the viewer."""
    if conversation_id is None:
        return None
    ctx.loaders.forget(ctx.loaders.conversation_by_id, conversation_id)
    row = await ctx.loaders.conversation_by_id.load(conversation_id)
    return Conversation.from_row(row, ctx.viewer) if row else None


@strawberry.input
class StartConversationInput:
    creator_id: strawberry.ID = text_field(GLOBAL_ID)
    entrance: ConversationEntrance


@strawberry.type
class ConversationPayload(Refusable):
    conversation: Conversation | None = None
    user_errors: list[UserError]


@strawberry.input
class ConversationInput:
    conversation_id: strawberry.ID = text_field(GLOBAL_ID)


@strawberry.input
class MarkConversationReadInput:
    conversation_id: strawberry.ID = text_field(GLOBAL_ID)
    up_to_message_id: strawberry.ID | None = text_field(
        GLOBAL_ID, default=None, description="Defaults to the newest message."
    )


@strawberry.input
class MarkConversationsReadInput:
    conversation_ids: list[strawberry.ID] = text_field(
        GLOBAL_ID, each=True, description="At most 100 conversations; each is marked read up to its newest message."
    )


@strawberry.type
class MarkConversationsReadPayload(Refusable):
    conversations: list[Conversation] = strawberry.field(
        default_factory=list, description="The conversations that were marked read, in the order given."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description=(
            'One error per conversation that could not be marked, with field ["input", "conversationIds", "<index>"].'
        ),
    )


@strawberry.input
class MarkAllConversationsReadInput:
    folder: InboxFolder | None = strawberry.field(
        default=InboxFolder.ALL, description="Every conversation of this folder is marked read."
    )


@strawberry.type
class MarkAllConversationsReadPayload:
    marked_count: int = strawberry.field(description="How many conversations had unread messages and are now read.")
    inbox_counts: InboxCountsRef
    user_errors: list[UserError]


@strawberry.type
class ConversationQuery:
    @strawberry.field
    async def conversation(self, info: Info[Context, None], id: NodeId) -> Conversation | None:
        row = await conversations_resolvers.conversation(info.context, id)
        return Conversation.from_row(row, info.context.viewer) if row else None


@strawberry.type
class ConversationMutation:
    @strawberry.mutation(
        description="Find or open the single conversation with a creator (sellers). "
        "Opening uses no outreach quota; the first message does."
    )
    async def start_conversation(self, info: Info[Context, None], input: StartConversationInput) -> ConversationPayload:
        outcome = await conversations_resolvers.start_conversation(info.context, input)
        return await conversation_payload(info.context, outcome)

    @strawberry.mutation
    async def mark_conversation_read(
        self, info: Info[Context, None], input: MarkConversationReadInput
    ) -> ConversationPayload:
        return await conversation_payload(info.context, await conversations_resolvers.mark_read(info.context, input))

    @strawberry.mutation
    async def mark_conversations_read(
        self, info: Info[Context, None], input: MarkConversationsReadInput
    ) -> MarkConversationsReadPayload:
        ctx = info.context
        marked, errors = await conversations_resolvers.mark_many_read(ctx, input)
        rows = await ctx.loaders.conversation_by_id.load_many(marked.conversation_ids) if marked else []
        return MarkConversationsReadPayload(
            conversations=[Conversation.from_row(row, ctx.viewer) for row in rows if row is not None],
            user_errors=user_errors(errors),
        )

    @strawberry.mutation
    async def mark_all_conversations_read(
        self, info: Info[Context, None], input: MarkAllConversationsReadInput
    ) -> MarkAllConversationsReadPayload:
        from schema.inbox import InboxCounts

        ctx = info.context
        marked, errors = await conversations_resolvers.mark_all_read(ctx, input)
        counts = marked.counts if marked else await inbox_resolvers.counts(ctx)
        return MarkAllConversationsReadPayload(
            marked_count=marked.marked_count if marked else 0,
            inbox_counts=InboxCounts(**counts),
            user_errors=user_errors(errors),
        )

    @strawberry.mutation
    async def star_conversation(self, info: Info[Context, None], input: ConversationInput) -> ConversationPayload:
        outcome = await conversations_resolvers.set_flag(info.context, input, "star")
        return await conversation_payload(info.context, outcome)

    @strawberry.mutation
    async def unstar_conversation(self, info: Info[Context, None], input: ConversationInput) -> ConversationPayload:
        outcome = await conversations_resolvers.set_flag(info.context, input, "unstar")
        return await conversation_payload(info.context, outcome)

    @strawberry.mutation
    async def archive_conversation(self, info: Info[Context, None], input: ConversationInput) -> ConversationPayload:
        outcome = await conversations_resolvers.set_flag(info.context, input, "archive")
        return await conversation_payload(info.context, outcome)

    @strawberry.mutation
    async def unarchive_conversation(self, info: Info[Context, None], input: ConversationInput) -> ConversationPayload:
        outcome = await conversations_resolvers.set_flag(info.context, input, "unarchive")
        return await conversation_payload(info.context, outcome)


async def conversation_payload(ctx: Context, outcome: tuple[int | None, list[RuleViolation]]) -> ConversationPayload:
    conversation_id, errors = outcome
    return ConversationPayload(
        conversation=await load_conversation(ctx, conversation_id), user_errors=user_errors(errors)
    )
