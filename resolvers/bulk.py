"""Bulk messages: decode the creators, send to each."""

from collections.abc import Sequence
from typing import Protocol

from core.errors import RuleViolation
from resolvers.access import require_seller
from resolvers.context import Context
from resolvers.ids import decode_id
from resolvers.messages import MessageContentInput, message_content
from resolvers.outcomes import attempt, client_key
from services import bulk


class SendBulkMessageInput(Protocol):
    @property
    def creator_ids(self) -> Sequence[str]: ...
    @property
    def content(self) -> MessageContentInput: ...
    @property
    def client_batch_id(self) -> str: ...


async def send_bulk_message(
    ctx: Context, input: SendBulkMessageInput
) -> tuple[list[bulk.BulkOutcome], list[RuleViolation]]:
    """Per-creator outcomes; a batch-wide refusal fails every creator with it."""
    require_seller(ctx, "sendBulkMessage")
    creator_ids = [decode_id(value, "Creator", "creatorIds") for value in input.creator_ids]
    outcomes, errors = await attempt(
        ctx,
        lambda: bulk.send_bulk(
            ctx.app,
            ctx.viewer,
            creator_ids,
            message_content(ctx, input.content),
            client_key(input.client_batch_id, "clientBatchId"),
        ),
    )
    if outcomes is None:  # refused whole
        outcomes = [bulk.BulkOutcome(creator_id, error=errors[0]) for creator_id in creator_ids]
    return outcomes, errors
