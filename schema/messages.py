"""Messages and the cards a message can carry; sending one."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

from core.pages import Page
from core.text import CLIENT_KEY, GLOBAL_ID, MESSAGE_TEXT
from core.viewer import Viewer
from resolvers import messages as messages_resolvers
from resolvers.context import Context
from resolvers.ids import encode_id
from schema.catalog import Product
from schema.collaborations import TargetCollaboration
from schema.enums import (
    ConversationEntrance,
    SenderRole,
    SystemNoticeCode,
    by_value,
)
from schema.images import ImageContent, ImageMessageInput
from schema.inputs import text_field
from schema.payloads import Refusable, UserError, user_errors
from schema.relay import Connection, Node, node_id_connection
from schema.samples import SampleRequest
from services.inbox import MessageRecord

if TYPE_CHECKING:
    from schema.conversations import Conversation

# Conversations hold messages: the type is looked up lazily, at schema build.
ConversationRef = Annotated["Conversation", strawberry.lazy("schema.conversations")]

_sender_role = by_value(SenderRole)


@strawberry.type
class TextContent:
    text: str


@strawberry.type
class ProductCard:
    product_id: strawberry.Private[int]

    @strawberry.field
    async def product(self, info: Info[Context, None]) -> Product:
        return Product.from_row(await info.context.loaders.product_by_id.load(self.product_id))


@strawberry.type
class CollaborationInvite:
    collaboration_id: strawberry.Private[int]

    @strawberry.field
    async def collaboration(self, info: Info[Context, None]) -> TargetCollaboration:
        row = await info.context.loaders.collaboration_by_id.load(self.collaboration_id)
        return TargetCollaboration.from_row(row)


@strawberry.type(
    description="A sample request shown as a card in the chat, sent by the creator (it counts as "
    "the creator's message); the seller approves or rejects it from there."
)
class SampleRequestCard:
    sample_request_id: strawberry.Private[int]

    @strawberry.field
    async def sample_request(self, info: Info[Context, None]) -> SampleRequest:
        return SampleRequest.from_row(await info.context.loaders.sample_request_by_id.load(self.sample_request_id))


@strawberry.type
class SystemNotice:
    code: SystemNoticeCode
    text: str


MessageContent = Annotated[
    TextContent | ProductCard | CollaborationInvite | SampleRequestCard | SystemNotice | ImageContent,
    strawberry.union("MessageContent"),
]


def content_of(row: Any) -> MessageContent:
    """The card a message row carries, by its kind (a row or record of `message`, typed loosely: its
    kind tells which of its nullable columns are set, as `services.content.Content` writes them). The one
    place a stored message becomes its API shape."""
    if row.kind == "TEXT":
        return TextContent(text=row.text)
    if row.kind == "PRODUCT":
        return ProductCard(product_id=row.product_id)
    if row.kind == "COLLABORATION":
        return CollaborationInvite(collaboration_id=row.collaboration_id)
    if row.kind == "SAMPLE_REQUEST":
        return SampleRequestCard(sample_request_id=row.sample_request_id)
    if row.kind == "IMAGE":
        return ImageContent(image_id=row.image_id, caption=row.text)
    return SystemNotice(code=SystemNoticeCode(row.notice_code), text=row.text)


@strawberry.type
class Message(Node):
    id: strawberry.ID
    sender_role: SenderRole
    is_mine: bool = strawberry.field(description="True when the viewer's side sent it.")
    content: MessageContent
    client_message_id: str | None = strawberry.field(
        description=(
            "The sender's idempotency key; a retry with the same key returns the first message instead of a "
            "duplicate. Shown to the sender only."
        )
    )
    created_at: datetime
    is_read_by_other_side: bool | None = strawberry.field(
        description=(
            "Read receipt, for the viewer's own messages: true once the other side's read position is at or past it. "
            "Null for every other message."
        )
    )
    pk: strawberry.Private[int]
    conversation_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any] | MessageRecord, viewer: Viewer, read_by_other_side: bool) -> "Message":
        """`read_by_other_side`: whether the other side's read position is at or past the row, as
        the caller read it with the row (a plain field: no statement per message); shown for the
        viewer's own messages only."""
        mine = row.sender_role == viewer.side
        return cls(
            id=encode_id("Message", row.id),
            pk=row.id,
            conversation_id=row.conversation_id,
            sender_role=_sender_role(row.sender_role),
            is_mine=mine,
            content=content_of(row),
            client_message_id=row.client_message_id if mine else None,
            created_at=row.created_at,
            is_read_by_other_side=read_by_other_side if mine else None,
        )

    @strawberry.field
    async def conversation(self, info: Info[Context, None]) -> ConversationRef:
        from schema.conversations import Conversation

        row = await info.context.loaders.conversation_by_id.load(self.conversation_id)
        assert row is not None, "a message is read only from a conversation the viewer sees"
        return Conversation.from_row(row, info.context.viewer)


def message_connection(page: Page, viewer: Viewer, other_read: int) -> Connection[Message]:
    """A page of messages of one conversation whose other side read up to `other_read`; a message's
    cursor is its ID (one encoding per message, not two)."""
    return node_id_connection(
        [Message.from_row(row, viewer, row.id <= other_read) for row in page.rows], page.has_next, page.has_previous
    )


async def read_message_connection(
    ctx: Context,
    conversation_pk: int,
    other_read: int,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Connection[Message]:
    """A page of a conversation's messages, read now."""
    page = await messages_resolvers.read_messages(ctx, conversation_pk, first, after, last, before)
    return message_connection(page, ctx.viewer, other_read)


@strawberry.input(one_of=True, description="Exactly one field is set.")
class MessageContentInput:
    text: str | None = text_field(MESSAGE_TEXT, default=strawberry.UNSET)
    product_id: strawberry.ID | None = text_field(GLOBAL_ID, default=strawberry.UNSET)
    collaboration_id: strawberry.ID | None = text_field(GLOBAL_ID, default=strawberry.UNSET)
    image: ImageMessageInput | None = strawberry.UNSET


_SEND_MESSAGE_INPUT = """Give conversationId, or the other party: creatorId when a seller writes, shopId when a creator writes
(the single conversation for that pair is found or opened; a refused send opens nothing). entrance
defaults to CREATOR_MESSAGES for sellers and CREATOR_INITIATED for creators. clientMessageId is unique
per sender: every retry with the same key, racing or not, returns the first message; the same key with
another target or content is INVALID_INPUT."""  # noqa: E501 - the schema's text, line for line


@strawberry.input(description=_SEND_MESSAGE_INPUT)
class SendMessageInput:
    client_message_id: str = text_field(CLIENT_KEY)
    content: MessageContentInput
    conversation_id: strawberry.ID | None = text_field(GLOBAL_ID, default=None)
    creator_id: strawberry.ID | None = text_field(GLOBAL_ID, default=None)
    shop_id: strawberry.ID | None = text_field(GLOBAL_ID, default=None)
    entrance: ConversationEntrance | None = None


@strawberry.type
class SendMessagePayload(Refusable):
    message: Message | None = None
    user_errors: list[UserError]
    conversation_id: strawberry.Private[int | None] = None

    @strawberry.field
    async def conversation(self, info: Info[Context, None]) -> ConversationRef | None:
        from schema.conversations import load_conversation

        """Loaded only when asked for: most senders need just the message."""
        return await load_conversation(info.context, self.conversation_id)


@strawberry.type
class MessageMutation:
    @strawberry.mutation
    async def send_message(self, info: Info[Context, None], input: SendMessageInput) -> SendMessagePayload:
        sent, errors = await messages_resolvers.send_message(info.context, input)
        if sent is None:
            return SendMessagePayload(message=None, user_errors=user_errors(errors))
        return SendMessagePayload(
            message=Message.from_row(sent.message, info.context.viewer, sent.read_by_other_side),
            conversation_id=sent.conversation_id,
            user_errors=[],
        )
