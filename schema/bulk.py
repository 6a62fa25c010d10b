"""Bulk messages: one message to up to 100 creators."""

import strawberry
from strawberry.types import Info

from core.errors import RuleViolation
from core.text import CLIENT_KEY, GLOBAL_ID
from resolvers import bulk as bulk_resolvers
from resolvers.context import Context
from resolvers.ids import encode_id
from schema.inputs import text_field
from schema.messages import Message, MessageContentInput
from schema.payloads import UserError, user_errors


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


@strawberry.type
class BulkMutation:
    @strawberry.mutation(description="Per-creator results; one creator's failure does not stop the others.")
    async def send_bulk_message(self, info: Info[Context, None], input: SendBulkMessageInput) -> SendBulkMessagePayload:
        outcomes, errors = await bulk_resolvers.send_bulk_message(info.context, input)
        viewer = info.context.viewer
        results = [
            BulkSendResult(
                creator_id=encode_id("Creator", outcome.creator_id),
                message=Message.from_row(outcome.message, viewer, outcome.read_by_other_side)
                if outcome.message
                else None,
                user_errors=user_errors([outcome.error] if outcome.error else []),
            )
            for outcome in outcomes
        ]
        sent = sum(1 for outcome in outcomes if outcome.message)
        return SendBulkMessagePayload(
            results=results, sent_count=sent, failed_count=len(outcomes) - sent, user_errors=user_errors(errors)
        )
