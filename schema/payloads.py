"""Mutation inputs and payloads."""

from decimal import Decimal

import strawberry
from strawberry.types import Info

from schema.conversation import Conversation, Message, load_conversation
from schema.enums import ConversationEntrance, ErrorCode
from schema.offers import SampleRequest, TargetCollaboration
from schema.platform import Creator
from services.errors import RuleViolation


@strawberry.type(description="A business rule said no. Nothing was changed by the failed part of the mutation.")
class UserError:
    code: ErrorCode
    message: str
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, if any, e.g. ["input", "content", "text"].')

    @classmethod
    def from_violation(cls, error: RuleViolation) -> "UserError":
        return cls(code=ErrorCode(error.code), message=error.message, field=error.field)


def user_errors(errors: list[RuleViolation]) -> list[UserError]:
    return [UserError.from_violation(error) for error in errors]


@strawberry.input
class StartConversationInput:
    creator_id: strawberry.ID
    entrance: ConversationEntrance


@strawberry.type
class ConversationPayload:
    conversation: Conversation | None
    user_errors: list[UserError]


@strawberry.input(one_of=True, description="Exactly one field is set.")
class MessageContentInput:
    text: str | None = strawberry.UNSET
    product_id: strawberry.ID | None = strawberry.UNSET
    collaboration_id: strawberry.ID | None = strawberry.UNSET


@strawberry.input(description="""Give conversationId, or the other party: creatorId when a seller writes, shopId when a creator writes
(the single conversation for that pair is found or opened; a refused send opens nothing). entrance
defaults to CREATOR_MESSAGES for sellers and CREATOR_INITIATED for creators. clientMessageId is unique
per sender: every retry with the same key, racing or not, returns the first message; the same key with
another target or content is INVALID_INPUT.""")
class SendMessageInput:
    client_message_id: str
    content: MessageContentInput
    conversation_id: strawberry.ID | None = None
    creator_id: strawberry.ID | None = None
    shop_id: strawberry.ID | None = None
    entrance: ConversationEntrance | None = None


@strawberry.type
class SendMessagePayload:
    message: Message | None
    user_errors: list[UserError]
    conversation_id: strawberry.Private[int | None] = None

    @strawberry.field
    async def conversation(self, info: Info) -> Conversation | None:
        """Loaded only when asked for: most senders need just the message."""
        return await load_conversation(info.context, self.conversation_id)


@strawberry.input
class SendBulkMessageInput:
    creator_ids: list[strawberry.ID] = strawberry.field(description="At most 100 creators.")
    content: MessageContentInput
    client_batch_id: str = strawberry.field(description="Idempotency key for the whole batch.")


@strawberry.type
class BulkSendResult:
    creator_id: strawberry.ID
    message: Message | None
    user_errors: list[UserError]


@strawberry.type
class SendBulkMessagePayload:
    results: list[BulkSendResult]
    sent_count: int
    failed_count: int
    user_errors: list[UserError]


@strawberry.input
class ConversationInput:
    conversation_id: strawberry.ID


@strawberry.input
class MarkConversationReadInput:
    conversation_id: strawberry.ID
    up_to_message_id: strawberry.ID | None = strawberry.field(
        default=None, description="Defaults to the newest message.")


@strawberry.input
class CreatorInput:
    creator_id: strawberry.ID


@strawberry.type
class BlockPayload:
    creator: Creator | None
    conversation: Conversation | None
    user_errors: list[UserError]


@strawberry.input
class RequestSampleInput:
    product_id: strawberry.ID
    client_request_id: str
    note: str | None = None


@strawberry.input
class ApproveSampleRequestInput:
    sample_request_id: strawberry.ID


@strawberry.input
class RejectSampleRequestInput:
    sample_request_id: strawberry.ID
    reason: str | None = None


@strawberry.type
class SampleRequestPayload:
    sample_request: SampleRequest | None
    user_errors: list[UserError]


@strawberry.input
class CreateTargetCollaborationInput:
    name: str
    product_ids: list[strawberry.ID]
    commission_rate: Decimal


@strawberry.type
class TargetCollaborationPayload:
    collaboration: TargetCollaboration | None
    user_errors: list[UserError]
