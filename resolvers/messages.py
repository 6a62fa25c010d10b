"""Messages: a page of a conversation's messages, and sending one."""

from enum import Enum
from typing import Protocol

from strawberry import UNSET

from core.errors import BadUserInput, RuleViolation
from core.pages import Page
from resolvers.context import Context
from resolvers.ids import (
    decode_id,
    decode_node_cursor,
    optional_id,
    page_size,
)
from resolvers.outcomes import attempt, client_key
from services import messages
from services.content import Content, image_content, text_content

DEFAULT_MESSAGES = 20


class MessageContentInput(Protocol):
    """Exactly one field is set; the others are None or UNSET."""

    @property
    def text(self) -> str | None: ...
    @property
    def product_id(self) -> str | None: ...
    @property
    def collaboration_id(self) -> str | None: ...
    @property
    def image(self) -> "ImageMessageInput | None": ...


class ImageMessageInput(Protocol):
    @property
    def image_id(self) -> str: ...
    @property
    def caption(self) -> str | None: ...


class SendMessageInput(Protocol):
    @property
    def client_message_id(self) -> str: ...
    @property
    def content(self) -> MessageContentInput: ...
    @property
    def conversation_id(self) -> str | None: ...
    @property
    def creator_id(self) -> str | None: ...
    @property
    def shop_id(self) -> str | None: ...
    @property
    def entrance(self) -> Enum | None: ...


def decode_message_cursor(value: str | None) -> int | None:
    """A message's cursor (its ID, or the bare id cursor of earlier releases)."""
    return decode_node_cursor(value, "Message")


async def read_messages(
    ctx: Context, conversation_pk: int, first: int | None, after: str | None, last: int | None, before: str | None
) -> Page:
    """Messages of a conversation the viewer already reached (so already authorised)."""
    return await messages.list_messages(ctx.reader, conversation_pk, **messages_window(first, after, last, before))


def messages_window(
    first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None
) -> dict[str, int | None]:
    """`list_messages` arguments of a messages page's arguments (BadUserInput when invalid)."""
    if (first is not None or after is not None) and (last is not None or before is not None):
        raise BadUserInput("Page with first/after or with last/before, not both.")
    after_id, before_id = decode_message_cursor(after), decode_message_cursor(before)
    if first is not None or after is not None:
        return {"first": page_size(first, DEFAULT_MESSAGES), "after": after_id}
    return {"last": page_size(last, DEFAULT_MESSAGES, "last"), "before": before_id}


def message_content(ctx: Context, value: MessageContentInput) -> Content:
    """The content of a `MessageContentInput` (exactly one field is set)."""
    # Fields left out of a oneOf input are UNSET, not None.
    if value.text is not None and value.text is not UNSET:
        return text_content(value.text)
    if value.product_id is not None and value.product_id is not UNSET:
        return Content("PRODUCT", product_id=decode_id(value.product_id, "Product", "productId"))
    if value.image is not None and value.image is not UNSET:
        return image_content(decode_id(value.image.image_id, "Image", "imageId"), value.image.caption)
    assert value.collaboration_id is not None, "a oneOf input has exactly one field set"
    return Content(
        "COLLABORATION", collaboration_id=decode_id(value.collaboration_id, "TargetCollaboration", "collaborationId")
    )


async def send_message(ctx: Context, input: SendMessageInput) -> tuple[messages.Sent | None, list[RuleViolation]]:
    target = messages.Target(
        conversation_id=optional_id(input.conversation_id, "Conversation", "conversationId"),
        creator_id=optional_id(input.creator_id, "Creator", "creatorId"),
        shop_id=optional_id(input.shop_id, "Shop", "shopId"),
    )
    entrance = input.entrance.value if input.entrance else None
    return await attempt(
        ctx,
        lambda: messages.send_message(
            ctx.app,
            ctx.viewer,
            target,
            message_content(ctx, input.content),
            client_key(input.client_message_id, "clientMessageId"),
            entrance,
        ),
    )
