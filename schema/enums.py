"""The contract's enums; their values are the strings stored in the database."""

from collections.abc import Callable
from enum import Enum
from typing import TypeVar

import strawberry

from core.errors import USER_ERROR_CODES

E = TypeVar("E", bound=Enum)


def by_value(enum: type[E]) -> Callable[[str], E]:
    """`enum(value)` as a dict lookup, for the rows of every page (EnumType.__call__ is slow)."""
    return {member.value: member for member in enum}.__getitem__


@strawberry.enum
class ViewerRole(Enum):
    SELLER = "SELLER"
    CREATOR = "CREATOR"


@strawberry.enum
class ShopStatus(Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    CLOSED = "CLOSED"


@strawberry.enum
class TargetCollaborationStatus(Enum):
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"


@strawberry.enum
class ConversationEntrance(Enum):
    CREATOR_MESSAGES = "CREATOR_MESSAGES"
    FIND_CREATORS = "FIND_CREATORS"
    TARGETED_PLAN = "TARGETED_PLAN"
    SAMPLE_REQUEST = "SAMPLE_REQUEST"
    BULK_MESSAGE = "BULK_MESSAGE"
    CREATOR_INITIATED = "CREATOR_INITIATED"


@strawberry.enum(
    description="""Inbox folders, always from the viewer's side:
ALL: every conversation the viewer has not archived.
UNREAD: not archived, with at least one message from the other side newer than the viewer's read position.
UNREPLIED: not archived, and the newest message is from the other side.
STARRED: starred by the viewer (archived or not).
ARCHIVED: archived by the viewer. A new message from the other side moves a conversation back out of ARCHIVED."""
)
class InboxFolder(Enum):
    ALL = "ALL"
    UNREAD = "UNREAD"
    UNREPLIED = "UNREPLIED"
    STARRED = "STARRED"
    ARCHIVED = "ARCHIVED"


@strawberry.enum
class CreatorOrder(Enum):
    FOLLOWERS_DESC = "FOLLOWERS_DESC"
    GMV_DESC = "GMV_DESC"


@strawberry.enum(
    description="SYSTEM messages (notices) show in the chat and as lastMessage, "
    "but never count as unread and are ignored by UNREPLIED."
)
class SenderRole(Enum):
    SELLER = "SELLER"
    CREATOR = "CREATOR"
    SYSTEM = "SYSTEM"


@strawberry.enum
class SystemNoticeCode(Enum):
    CREATOR_BLOCKED = "CREATOR_BLOCKED"
    CREATOR_UNBLOCKED = "CREATOR_UNBLOCKED"
    SHOP_BLOCKED = strawberry.enum_value(
        "SHOP_BLOCKED", description="The creator blocked the shop; the shop's sellers see it."
    )
    SHOP_UNBLOCKED = "SHOP_UNBLOCKED"
    SAMPLE_APPROVED = "SAMPLE_APPROVED"
    SAMPLE_REJECTED = "SAMPLE_REJECTED"


@strawberry.enum
class SampleRequestStatus(Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


@strawberry.enum(description="Events a shop can receive at its webhook endpoints.")
class WebhookEventType(Enum):
    MESSAGE_CREATED = strawberry.enum_value(
        "MESSAGE_CREATED",
        description="A message was added to one of the shop's conversations (either side, notices included).",
    )
    SAMPLE_REQUEST_CREATED = "SAMPLE_REQUEST_CREATED"
    SAMPLE_REQUEST_DECIDED = "SAMPLE_REQUEST_DECIDED"
    CONVERSATION_STARTED = "CONVERSATION_STARTED"
    BLOCK_CHANGED = strawberry.enum_value(
        "BLOCK_CHANGED",
        description="The shop blocked or unblocked a creator, or a creator blocked or unblocked the shop.",
    )


@strawberry.enum
class WebhookDeliveryStatus(Enum):
    PENDING = strawberry.enum_value(
        "PENDING", description="Not delivered yet; it will be tried again at nextAttemptAt."
    )
    DELIVERED = "DELIVERED"
    FAILED = strawberry.enum_value(
        "FAILED", description="Given up after the last retry, or the endpoint was disabled or deleted."
    )


# The contract's ErrorCode: the codes a business refusal carries (core/errors.py lists every code).
# mypy types Enum's functional form with a computed member list as a member, not as a class.
ErrorCode = strawberry.enum(  # type: ignore[call-overload]
    Enum("ErrorCode", [(code.name, code.value) for code in USER_ERROR_CODES])
)
