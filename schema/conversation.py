"""Conversations, messages and the cards a message can carry."""

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from resolvers import conversations as conversation_resolvers
from resolvers.ids import encode_id
from schema.enums import ConversationEntrance, SampleRequestStatus, SenderRole, SystemNoticeCode, by_value
from schema.inputs import Cursor
from schema.offers import SampleRequest, TargetCollaboration
from schema.platform import Creator, Product, Shop
from schema.relay import Connection, Node, node_id_connection
from services.history import Page
from services.rules import PRE_REPLY_LIMIT
from services.viewer import Viewer

_entrance, _sender_role = by_value(ConversationEntrance), by_value(SenderRole)


@strawberry.type
class Conversation(Node):
    id: strawberry.ID
    entrance: ConversationEntrance = strawberry.field(
        description="The entrance through which the conversation was first opened.")
    created_at: datetime
    last_activity_at: datetime = strawberry.field(
        description="Newest message time, or createdAt when there is none; the inbox is ordered by it, newest first.")
    unread_count: int = strawberry.field(description="Messages from the other side newer than the viewer's read position.")
    is_starred: bool
    is_archived: bool
    is_unreplied: bool
    creator_has_replied: bool
    messages_remaining_before_reply: int | None = strawberry.field(description=(
        "For the seller: how many more messages may be sent before the creator replies; null once the creator "
        "has replied (the limit is lifted) and for creator viewers."))
    is_blocked: bool = strawberry.field(description="True while the shop blocks the creator.")
    shop: Shop
    creator: Creator
    last_message: "Message | None"
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row, viewer: Viewer) -> "Conversation":
        """From a record of `services.inbox.conversation_record`, seen from the viewer's side.

        The record carries the creator, shop and newest message, so these are plain fields:
        an inbox page resolves without another query or an awaitable per row."""
        remaining = None
        if viewer.is_seller and not row.creator_has_replied:
            remaining = max(0, PRE_REPLY_LIMIT - row.seller_message_count)
        return cls(
            id=encode_id("Conversation", row.id), pk=row.id, shop=Shop.of_record(row.shop),
            creator=Creator.from_row(row.creator),
            last_message=Message.from_row(row.last_message, viewer) if row.last_message else None,
            entrance=_entrance(row.entrance),
            created_at=row.created_at, last_activity_at=row.last_activity_at, unread_count=row.unread_count,
            is_starred=row.starred, is_archived=row.archived, is_unreplied=row.unreplied,
            creator_has_replied=row.creator_has_replied, messages_remaining_before_reply=remaining,
            is_blocked=row.blocked)

    @strawberry.field(description="Chronological. Use last/before to page back through history, "
                                  "first/after to page forward. Without either, the latest 20.")
    def messages(self, info: Info, first: int | None = None, after: Cursor = None,
                 last: int | None = None, before: Cursor = None) -> Connection["Message"]:
        # Synchronous when `Query.conversation` read the page ahead (no awaitable to run), else
        # an awaitable, which graphql-core awaits as it would an async resolver's.
        page = conversation_resolvers.read_messages(info.context, self.pk, first, after, last, before)
        if isinstance(page, Page):
            return _message_connection(page, info.context.viewer)
        return _awaited_message_connection(page, info.context.viewer)

    @strawberry.field
    async def sample_requests(self, info: Info, status: SampleRequestStatus | None = None) -> list[SampleRequest]:
        rows = await info.context.loaders.sample_requests_by_conversation.load(self.pk)
        return [SampleRequest.from_row(row) for row in rows if status is None or row.status == status.value]


@strawberry.type
class TextContent:
    text: str


@strawberry.type
class ProductCard:
    product_id: strawberry.Private[int]

    @strawberry.field
    async def product(self, info: Info) -> Product:
        return Product.from_row(await info.context.loaders.product_by_id.load(self.product_id))


@strawberry.type
class CollaborationInvite:
    collaboration_id: strawberry.Private[int]

    @strawberry.field
    async def collaboration(self, info: Info) -> TargetCollaboration:
        row = await info.context.loaders.collaboration_by_id.load(self.collaboration_id)
        return TargetCollaboration.from_row(row)


@strawberry.type(description="A sample request shown as a card in the chat, sent by the creator (it counts as "
                             "the creator's message); the seller approves or rejects it from there.")
class SampleRequestCard:
    sample_request_id: strawberry.Private[int]

    @strawberry.field
    async def sample_request(self, info: Info) -> SampleRequest:
        return SampleRequest.from_row(await info.context.loaders.sample_request_by_id.load(self.sample_request_id))


@strawberry.type
class SystemNotice:
    code: SystemNoticeCode
    text: str


MessageContent = Annotated[
    TextContent | ProductCard | CollaborationInvite | SampleRequestCard | SystemNotice,
    strawberry.union("MessageContent")]


def content_of(row) -> MessageContent:
    """The card a message row carries, by its kind."""
    if row.kind == "TEXT":
        return TextContent(text=row.text)
    if row.kind == "PRODUCT":
        return ProductCard(product_id=row.product_id)
    if row.kind == "COLLABORATION":
        return CollaborationInvite(collaboration_id=row.collaboration_id)
    if row.kind == "SAMPLE_REQUEST":
        return SampleRequestCard(sample_request_id=row.sample_request_id)
    return SystemNotice(code=SystemNoticeCode(row.notice_code), text=row.text)


@strawberry.type
class Message(Node):
    id: strawberry.ID
    sender_role: SenderRole
    is_mine: bool = strawberry.field(description="True when the viewer's side sent it.")
    content: MessageContent
    client_message_id: str | None = strawberry.field(description=(
        "The sender's idempotency key; a retry with the same key returns the first message instead of a "
        "duplicate. Shown to the sender only."))
    created_at: datetime
    pk: strawberry.Private[int]
    conversation_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row, viewer: Viewer) -> "Message":
        mine = row.sender_role == viewer.side
        return cls(id=encode_id("Message", row.id), pk=row.id, conversation_id=row.conversation_id,
                   sender_role=_sender_role(row.sender_role), is_mine=mine, content=content_of(row),
                   client_message_id=row.client_message_id if mine else None, created_at=row.created_at)

    @strawberry.field
    async def conversation(self, info: Info) -> Conversation:
        row = await info.context.loaders.conversation_by_id.load(self.conversation_id)
        return Conversation.from_row(row, info.context.viewer)


def _message_connection(page: Page, viewer: Viewer) -> Connection[Message]:
    """A page of messages; a message's cursor is its ID (one encoding per message, not two)."""
    return node_id_connection([Message.from_row(row, viewer) for row in page.rows], page.has_next, page.has_previous)


async def _awaited_message_connection(page: Awaitable[Page], viewer: Viewer) -> Connection[Message]:
    return _message_connection(await page, viewer)


async def load_conversation(ctx, conversation_id: int | None) -> Conversation | None:
    """The conversation as it is now (after a mutation), seen by the viewer."""
    if conversation_id is None:
        return None
    ctx.loaders.forget(ctx.loaders.conversation_by_id, conversation_id)
    row = await ctx.loaders.conversation_by_id.load(conversation_id)
    return Conversation.from_row(row, ctx.viewer) if row else None
