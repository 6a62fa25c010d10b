"""Sample requests: a creator asks, the shop's seller approves or rejects once."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

from core.errors import RuleViolation
from core.text import CLIENT_KEY, GLOBAL_ID, NOTE
from resolvers import samples as samples_resolvers
from resolvers.context import Context
from resolvers.ids import encode_id, id_cursor
from schema.catalog import Product, Shop
from schema.enums import (
    SampleRequestStatus,
)
from schema.inputs import Cursor, text_field
from schema.marketplace import Creator
from schema.payloads import Refusable, UserError, user_errors
from schema.relay import Connection, Node, build_connection

if TYPE_CHECKING:
    from schema.conversations import Conversation


@strawberry.type
class SampleRequest(Node):
    id: strawberry.ID
    status: SampleRequestStatus
    note: str | None
    reject_reason: str | None
    created_at: datetime
    decided_at: datetime | None
    pk: strawberry.Private[int]
    shop_id: strawberry.Private[int]
    creator_id: strawberry.Private[int]
    product_id: strawberry.Private[int]
    conversation_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row[Any]) -> "SampleRequest":
        return cls(
            id=encode_id("SampleRequest", row.id),
            pk=row.id,
            shop_id=row.shop_id,
            creator_id=row.creator_id,
            product_id=row.product_id,
            conversation_id=row.conversation_id,
            status=SampleRequestStatus(row.status),
            note=row.note,
            reject_reason=row.reject_reason,
            created_at=row.created_at,
            decided_at=row.decided_at,
        )

    @strawberry.field
    async def shop(self, info: Info[Context, None]) -> Shop:
        return Shop.from_row(await info.context.loaders.shop_by_id.load(self.shop_id))

    @strawberry.field
    async def creator(self, info: Info[Context, None]) -> Creator:
        return Creator.from_row(await info.context.loaders.creator_by_id.load(self.creator_id))

    @strawberry.field
    async def product(self, info: Info[Context, None]) -> Product:
        return Product.from_row(await info.context.loaders.product_by_id.load(self.product_id))

    @strawberry.field
    async def conversation(
        self, info: Info[Context, None]
    ) -> Annotated["Conversation", strawberry.lazy("schema.conversations")]:
        from schema.conversations import Conversation

        row = await info.context.loaders.conversation_by_id.load(self.conversation_id)
        assert row is not None, "the viewer sees the conversation of a request it sees (its card is in it)"
        return Conversation.from_row(row, info.context.viewer)


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


@strawberry.type
class SampleQuery:
    @strawberry.field
    async def sample_requests(
        self,
        info: Info[Context, None],
        status: SampleRequestStatus | None = None,
        first: int | None = 20,
        after: Cursor = None,
    ) -> Connection[SampleRequest]:
        page = await samples_resolvers.sample_requests(info.context, status.value if status else None, first, after)
        return build_connection(page.rows, SampleRequest.from_row, id_cursor, page.has_next, page.has_previous)


@strawberry.type
class SampleMutation:
    @strawberry.mutation(
        description="Creators: ask the shop for a product sample; a SampleRequestCard appears in the conversation."
    )
    async def request_sample(self, info: Info[Context, None], input: RequestSampleInput) -> SampleRequestPayload:
        return _sample_payload(await samples_resolvers.request_sample(info.context, input))

    @strawberry.mutation
    async def approve_sample_request(
        self, info: Info[Context, None], input: ApproveSampleRequestInput
    ) -> SampleRequestPayload:
        return _sample_payload(await samples_resolvers.decide_sample(info.context, input, "APPROVED"))

    @strawberry.mutation
    async def reject_sample_request(
        self, info: Info[Context, None], input: RejectSampleRequestInput
    ) -> SampleRequestPayload:
        return _sample_payload(await samples_resolvers.decide_sample(info.context, input, "REJECTED", input.reason))


def _sample_payload(outcome: tuple[Row[Any] | None, list[RuleViolation]]) -> SampleRequestPayload:
    row, errors = outcome
    return SampleRequestPayload(
        sample_request=SampleRequest.from_row(row) if row else None, user_errors=user_errors(errors)
    )
