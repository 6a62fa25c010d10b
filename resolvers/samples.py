"""Sample requests: the viewer's list, a creator asking, a seller deciding."""

from typing import Any, Protocol

from sqlalchemy import Row

from core.errors import RuleViolation
from core.pages import Page
from resolvers.access import require_creator, require_seller
from resolvers.context import Context
from resolvers.ids import (
    cursor_int,
    decode_cursor,
    decode_id,
    page_size,
)
from resolvers.outcomes import attempt, client_key
from services import samples


class RequestSampleInput(Protocol):
    @property
    def product_id(self) -> str: ...
    @property
    def client_request_id(self) -> str: ...
    @property
    def note(self) -> str | None: ...


class SampleRequestInput(Protocol):
    @property
    def sample_request_id(self) -> str: ...


async def sample_requests(ctx: Context, status: str | None, first: int | None, after: str | None) -> Page:
    size, cursor = page_size(first, 20), decode_cursor(after, cursor_int)
    async with ctx.connect() as conn:
        return await samples.list_sample_requests(conn, ctx.viewer, status, size, cursor)


async def request_sample(ctx: Context, input: RequestSampleInput) -> tuple[Row[Any] | None, list[RuleViolation]]:
    require_creator(ctx, "requestSample")
    product_id = decode_id(input.product_id, "Product", "productId")
    return await attempt(
        ctx,
        lambda: samples.request_sample(
            ctx.app, ctx.viewer, product_id, input.note, client_key(input.client_request_id, "clientRequestId")
        ),
    )


async def decide_sample(
    ctx: Context, input: SampleRequestInput, status: str, reason: str | None = None
) -> tuple[Row[Any] | None, list[RuleViolation]]:
    require_seller(ctx, "approveSampleRequest" if status == "APPROVED" else "rejectSampleRequest")
    request_id = decode_id(input.sample_request_id, "SampleRequest", "sampleRequestId")
    return await attempt(ctx, lambda: samples.decide(ctx.app, ctx.viewer, request_id, status, reason))
