"""Webhooks: `WebhookEndpoint` and its deliveries, `Query.webhookEndpoints`, and the mutations that
manage endpoints (sellers only). Events, payloads and signatures: docs/webhooks.md."""

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from core.errors import RuleViolation
from core.text import GLOBAL_ID, WEBHOOK_URL
from resolvers import webhooks as webhooks_resolvers
from resolvers.context import Context
from resolvers.ids import encode_id
from schema.enums import WebhookDeliveryStatus, WebhookEventType
from schema.inputs import Cursor, text_field
from schema.payloads import Refusable, UserError, user_errors
from schema.relay import Connection, Node, node_id_connection
from services.webhooks import event_types_of


@strawberry.type(
    description="One event sent (or to be sent) to one endpoint. Deliveries are at least once: an event whose "
    "delivery is retried keeps its eventId, so a receiver can ignore duplicates."
)
class WebhookDelivery(Node):
    id: strawberry.ID
    event_id: str
    event_type: WebhookEventType
    status: WebhookDeliveryStatus
    attempts: int
    last_status_code: int | None = strawberry.field(
        description="HTTP status of the last attempt; null when the receiver could not be reached."
    )
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> "WebhookDelivery":
        return cls(
            id=encode_id("WebhookDelivery", row.id),
            event_id=row.event_id,
            event_type=WebhookEventType(row.event_type),
            status=WebhookDeliveryStatus(row.status),
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
        )


@strawberry.type(
    description="A shop's HTTPS endpoint that receives signed POSTs (the Standard Webhooks format) for the "
    "events it asks for."
)
class WebhookEndpoint(Node):
    id: strawberry.ID
    url: str
    event_types: list[WebhookEventType]
    is_enabled: bool
    disabled_reason: str | None = strawberry.field(
        description="Why the endpoint was disabled, e.g. after failing for three days; null while enabled or when "
        "a seller disabled it."
    )
    created_at: datetime
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> "WebhookEndpoint":
        return cls(
            id=encode_id("WebhookEndpoint", row.id),
            pk=row.id,
            url=row.url,
            event_types=[WebhookEventType(name) for name in event_types_of(row)],
            is_enabled=row.is_enabled,
            disabled_reason=row.disabled_reason,
            created_at=row.created_at,
        )

    @strawberry.field(description="Newest first.")
    async def deliveries(
        self,
        info: Info[Context, None],
        status: WebhookDeliveryStatus | None = None,
        first: int | None = 20,
        after: Cursor = None,
    ) -> Connection[WebhookDelivery]:
        page = await webhooks_resolvers.deliveries(
            info.context, self.pk, status.value if status else None, first, after
        )
        nodes = [WebhookDelivery.from_row(row) for row in page.rows]
        return node_id_connection(nodes, page.has_next, page.has_previous)


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = text_field(
        WEBHOOK_URL,
        "https:// (plain http:// only where the server is configured to allow it, e.g. for local development).",
    )
    event_types: list[WebhookEventType]


@strawberry.type
class WebhookEndpointPayload(Refusable):
    endpoint: WebhookEndpoint | None = None
    signing_secret: str | None = strawberry.field(
        default=None,
        description="The endpoint's signing secret (whsec_...), shown only by createWebhookEndpoint and "
        "rotateWebhookSecret.",
    )
    user_errors: list[UserError]


@strawberry.input
class UpdateWebhookEndpointInput:
    endpoint_id: strawberry.ID = text_field(GLOBAL_ID)
    url: str | None = text_field(WEBHOOK_URL, default=None)
    event_types: list[WebhookEventType] | None = None
    is_enabled: bool | None = None


@strawberry.input
class WebhookEndpointInput:
    endpoint_id: strawberry.ID = text_field(GLOBAL_ID)


@strawberry.input
class RedeliverWebhookInput:
    delivery_id: strawberry.ID = text_field(GLOBAL_ID)


@strawberry.type
class WebhookDeliveryPayload(Refusable):
    delivery: WebhookDelivery | None = None
    user_errors: list[UserError]


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="The shop's webhook endpoints (seller viewers).")
    async def webhook_endpoints(self, info: Info[Context, None]) -> list[WebhookEndpoint]:
        return [WebhookEndpoint.from_row(row) for row in await webhooks_resolvers.endpoints(info.context)]


def _endpoint_payload(outcome: tuple[Any, list[RuleViolation]], with_secret: bool = False) -> WebhookEndpointPayload:
    result, errors = outcome
    if errors:
        return WebhookEndpointPayload(user_errors=user_errors(errors))
    row, secret = result if with_secret else (result, None)
    return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_row(row), signing_secret=secret, user_errors=[])


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="Sellers: at most 10 endpoints per shop.")
    async def create_webhook_endpoint(
        self, info: Info[Context, None], input: CreateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        return _endpoint_payload(await webhooks_resolvers.create_endpoint(info.context, input), with_secret=True)

    @strawberry.mutation
    async def update_webhook_endpoint(
        self, info: Info[Context, None], input: UpdateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        return _endpoint_payload(await webhooks_resolvers.update_endpoint(info.context, input))

    @strawberry.mutation
    async def delete_webhook_endpoint(
        self, info: Info[Context, None], input: WebhookEndpointInput
    ) -> WebhookEndpointPayload:
        return _endpoint_payload(await webhooks_resolvers.delete_endpoint(info.context, input))

    @strawberry.mutation(description="A new signing secret; the old one keeps working for 24 hours.")
    async def rotate_webhook_secret(
        self, info: Info[Context, None], input: WebhookEndpointInput
    ) -> WebhookEndpointPayload:
        return _endpoint_payload(await webhooks_resolvers.rotate_secret(info.context, input), with_secret=True)

    @strawberry.mutation(
        description="Send a delivery again now, whatever its status, as a new attempt with the same eventId."
    )
    async def redeliver_webhook(
        self, info: Info[Context, None], input: RedeliverWebhookInput
    ) -> WebhookDeliveryPayload:
        delivery, errors = await webhooks_resolvers.redeliver(info.context, input)
        if errors:
            return WebhookDeliveryPayload(user_errors=user_errors(errors))
        return WebhookDeliveryPayload(delivery=WebhookDelivery.from_row(delivery), user_errors=[])
