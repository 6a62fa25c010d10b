"""Mutations: decode the input, call one service, hand back ids and business refusals."""

from collections.abc import Awaitable, Callable

from strawberry import UNSET

from resolvers.access import require_creator, require_seller
from resolvers.context import Context
from resolvers.ids import decode_id
from services import blocking, bulk, collaborations, folders, samples, sending
from services.chat import Content
from services.content import text_content
from services.errors import RateLimited, RuleViolation, invalid
from services.text import CLIENT_KEY


async def attempt(ctx: Context, call: Callable[[], Awaitable]) -> tuple[object, list[RuleViolation]]:
    """(result, []) or (None, [the refusal]) of a service call, within the principal's mutation rate."""
    verdict = await ctx.app.rate_limits.take(ctx.viewer.principal, "mutation")
    if not verdict.allowed:
        error = RateLimited(verdict.retry_after)
        return None, [RuleViolation("RATE_LIMITED", error.message)]
    try:
        return await call(), []
    except RuleViolation as error:
        return None, [error]


def client_key(value: str, name: str) -> str:
    if not 1 <= len(value) <= CLIENT_KEY.max_length:
        raise invalid(f"{name} must be 1 to {CLIENT_KEY.max_length} characters.", ["input", name])
    return value


def message_content(ctx: Context, value) -> Content:
    """The content of a `MessageContentInput` (exactly one field is set)."""
    # Fields left out of a oneOf input are UNSET, not None.
    if value.text is not None and value.text is not UNSET:
        return text_content(value.text)
    if value.product_id is not None and value.product_id is not UNSET:
        return Content("PRODUCT", product_id=decode_id(value.product_id, "Product", "productId"))
    return Content("COLLABORATION", collaboration_id=decode_id(value.collaboration_id, "TargetCollaboration",
                                                               "collaborationId"))


def _optional_id(value, type_name: str, name: str) -> int | None:
    return decode_id(value, type_name, name) if value is not None else None


async def start_conversation(ctx: Context, input) -> tuple[int | None, list]:
    require_seller(ctx, "startConversation")
    creator_id = decode_id(input.creator_id, "Creator", "creatorId")
    return await attempt(ctx, lambda: folders.start_conversation(ctx.app, ctx.viewer, creator_id, input.entrance.value))


async def send_message(ctx: Context, input) -> tuple[sending.Sent | None, list]:
    target = sending.Target(
        conversation_id=_optional_id(input.conversation_id, "Conversation", "conversationId"),
        creator_id=_optional_id(input.creator_id, "Creator", "creatorId"),
        shop_id=_optional_id(input.shop_id, "Shop", "shopId"))
    entrance = input.entrance.value if input.entrance else None
    return await attempt(ctx, lambda: sending.send_message(
        ctx.app, ctx.viewer, target, message_content(ctx, input.content),
        client_key(input.client_message_id, "clientMessageId"), entrance))


async def send_bulk_message(ctx: Context, input) -> tuple[list[bulk.BulkOutcome], list]:
    """Per-creator outcomes; a batch-wide refusal fails every creator with it."""
    require_seller(ctx, "sendBulkMessage")
    creator_ids = [decode_id(value, "Creator", "creatorIds") for value in input.creator_ids]
    outcomes, errors = await attempt(ctx, lambda: bulk.send_bulk(
        ctx.app, ctx.viewer, creator_ids, message_content(ctx, input.content),
        client_key(input.client_batch_id, "clientBatchId")))
    if errors:
        outcomes = [bulk.BulkOutcome(creator_id, error=errors[0]) for creator_id in creator_ids]
    return outcomes, errors


async def set_flag(ctx: Context, input, action: str) -> tuple[int | None, list]:
    conversation_id = decode_id(input.conversation_id, "Conversation", "conversationId")
    return await attempt(ctx, lambda: folders.set_flag(ctx.app, ctx.viewer, conversation_id, action))


async def mark_read(ctx: Context, input) -> tuple[int | None, list]:
    conversation_id = decode_id(input.conversation_id, "Conversation", "conversationId")
    up_to = _optional_id(input.up_to_message_id, "Message", "upToMessageId")
    return await attempt(ctx, lambda: folders.mark_read(ctx.app, ctx.viewer, conversation_id, up_to))


async def set_blocked(ctx: Context, input, blocked: bool) -> tuple[tuple[int, int | None] | None, list]:
    """((creator id, conversation id or None), errors)."""
    require_seller(ctx, "blockCreator" if blocked else "unblockCreator")
    creator_id = decode_id(input.creator_id, "Creator", "creatorId")
    conversation_id, errors = await attempt(ctx, lambda: blocking.set_blocked(ctx.app, ctx.viewer, creator_id, blocked))
    return (None if errors else (creator_id, conversation_id)), errors


async def request_sample(ctx: Context, input) -> tuple[object, list]:
    require_creator(ctx, "requestSample")
    product_id = decode_id(input.product_id, "Product", "productId")
    return await attempt(ctx, lambda: samples.request_sample(
        ctx.app, ctx.viewer, product_id, input.note, client_key(input.client_request_id, "clientRequestId")))


async def decide_sample(ctx: Context, input, status: str, reason: str | None = None) -> tuple[object, list]:
    require_seller(ctx, "approveSampleRequest" if status == "APPROVED" else "rejectSampleRequest")
    request_id = decode_id(input.sample_request_id, "SampleRequest", "sampleRequestId")
    return await attempt(ctx, lambda: samples.decide(ctx.app, ctx.viewer, request_id, status, reason))


async def create_collaboration(ctx: Context, input) -> tuple[object, list]:
    require_seller(ctx, "createTargetCollaboration")
    product_ids = [decode_id(value, "Product", "productIds") for value in input.product_ids]
    return await attempt(ctx, lambda: collaborations.create_collaboration(
        ctx.app, ctx.viewer, input.name, product_ids, input.commission_rate))
