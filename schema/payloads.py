"""Mutation inputs and payloads."""

from decimal import Decimal

import strawberry
from strawberry.types import Info

from schema.conversation import Conversation, Message, load_conversation
from schema.enums import ConversationEntrance, ErrorCode
from schema.inputs import text_field
from schema.offers import SampleRequest, TargetCollaboration
from schema.platform import Creator
from services.errors import RuleViolation
from services.text import CLIENT_KEY, GLOBAL_ID, MESSAGE_TEXT, NAME, NOTE


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


class Refusable:
    """A payload that can answer refused input (schema/inputs.py) with its `userErrors` alone."""

    @classmethod
    def refused(cls, errors: list[RuleViolation]):
        return cls(user_errors=user_errors(errors))


@strawberry.input
class StartConversationInput:
    creator_id: strawberry.ID = text_field(GLOBAL_ID)
    entrance: ConversationEntrance


@strawberry.type
class ConversationPayload(Refusable):
    conversation: Conversation | None = None
    user_errors: list[UserError]


@strawberry.input(one_of=True, description="Exactly one field is set.")
class MessageContentInput:
    text: str | None = text_field(MESSAGE_TEXT, default=strawberry.UNSET)
    product_id: strawberry.ID | None = text_field(GLOBAL_ID, default=strawberry.UNSET)
    collaboration_id: strawberry.ID | None = text_field(GLOBAL_ID, default=strawberry.UNSET)


@strawberry.input(description="""Give conversationId, or the other party: creatorId when a seller writes, shopId when a creator writes
(the single conversation for that pair is found or opened; a refused send opens nothing). entrance
defaults to CREATOR_MESSAGES for sellers and CREATOR_INITIATED for creators. clientMessageId is unique
per sender: every retry with the same key, racing or not, returns the first message; the same key with
another target or content is INVALID_INPUT.""")
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
    async def conversation(self, info: Info) -> Conversation | None:
        """Loaded only when asked for: most senders need just the message."""
        return await load_conversation(info.context, self.conversation_id)


@strawberry.input
class SendBulkMessageInput:
    creator_ids: list[strawberry.ID] = text_field(GLOBAL_ID, each=True, description="At most 100 creators.")
    content: MessageContentInput
    client_batch_id: str = text_field(CLIENT_KEY, description="Idempotency key for the whole batch.")


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

    @classmethod
    def refused(cls, errors: list[RuleViolation]) -> "SendBulkMessagePayload":
        """Refused input names no creator to fail: the batch sent nothing."""
        return cls(results=[], sent_count=0, failed_count=0, user_errors=user_errors(errors))


@strawberry.input
class ConversationInput:
    conversation_id: strawberry.ID = text_field(GLOBAL_ID)


@strawberry.input
class MarkConversationReadInput:
    conversation_id: strawberry.ID = text_field(GLOBAL_ID)
    up_to_message_id: strawberry.ID | None = text_field(
        GLOBAL_ID, default=None, description="Defaults to the newest message.")


@strawberry.input
class CreatorInput:
    creator_id: strawberry.ID = text_field(GLOBAL_ID)


@strawberry.type
class BlockPayload(Refusable):
    creator: Creator | None = None
    conversation: Conversation | None = None
    user_errors: list[UserError]


@strawberry.input
class RequestSampleInput:
    product_id: strawberry.ID = text_field(GLOBAL_ID)
    client_request_id: str = text_field(CLIENT_KEY)
    note: str | None = text_field(NOTE, default=None)


@strawberry.input
class ApproveSampleRequestInput:
    sample_request_id: strawberry.ID = text_field(GLOBAL_ID)


@strawberry.input
class RejectSampleRequestInput:
    sample_request_id: strawberry.ID = text_field(GLOBAL_ID)
    reason: str | None = text_field(NOTE, default=None)


@strawberry.type
class SampleRequestPayload(Refusable):
    sample_request: SampleRequest | None = None
    user_errors: list[UserError]


@strawberry.input
class CreateTargetCollaborationInput:
    name: str = text_field(NAME)
    product_ids: list[strawberry.ID] = text_field(GLOBAL_ID, each=True)
    commission_rate: Decimal


@strawberry.type
class TargetCollaborationPayload(Refusable):
    collaboration: TargetCollaboration | None = None
    user_errors: list[UserError]
