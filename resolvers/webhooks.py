"""Webhooks: a shop's endpoints and their deliveries, for its sellers only."""

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Row

from core.errors import RuleViolation
from core.pages import Page
from resolvers.access import require_seller
from resolvers.context import Context
from resolvers.ids import decode_id, decode_node_cursor, page_size
from resolvers.outcomes import attempt
from services import webhooks

Outcome = tuple[Any | None, list[RuleViolation]]


class CreateInput(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def event_types(self) -> Sequence[Any]: ...


class UpdateInput(Protocol):
    @property
    def endpoint_id(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def event_types(self) -> Sequence[Any] | None: ...
    @property
    def is_enabled(self) -> bool | None: ...


class EndpointInput(Protocol):
    @property
    def endpoint_id(self) -> str: ...


class DeliveryInput(Protocol):
    @property
    def delivery_id(self) -> str: ...


def _names(event_types: Sequence[Any]) -> list[str]:
    return [event_type.value for event_type in event_types]


async def endpoints(ctx: Context) -> Sequence[Row[Any]]:
    require_seller(ctx, "webhookEndpoints")
    return await webhooks.list_endpoints(ctx.reader, ctx.viewer)


async def deliveries(ctx: Context, endpoint_id: int, status: str | None, first: int | None, after: str | None) -> Page:
    """A page of an endpoint's deliveries, newest first; the pages of every endpoint read together."""
    key = (endpoint_id, status, page_size(first, 20), decode_node_cursor(after, "WebhookDelivery"))
    return await ctx.loaders.webhook_deliveries.load(key)


async def create_endpoint(ctx: Context, input: CreateInput) -> Outcome:
    """((endpoint, signing secret) or None, errors)."""
    require_seller(ctx, "createWebhookEndpoint")
    types = _names(input.event_types)
    return await attempt(ctx, lambda: webhooks.create_endpoint(ctx.app, ctx.viewer, input.url, types))


async def update_endpoint(ctx: Context, input: UpdateInput) -> Outcome:
    require_seller(ctx, "updateWebhookEndpoint")
    endpoint_id = decode_id(input.endpoint_id, "WebhookEndpoint", "endpointId")
    types = None if input.event_types is None else _names(input.event_types)
    return await attempt(
        ctx,
        lambda: webhooks.update_endpoint(ctx.app, ctx.viewer, endpoint_id, input.url, types, input.is_enabled),
    )


async def delete_endpoint(ctx: Context, input: EndpointInput) -> Outcome:
    require_seller(ctx, "deleteWebhookEndpoint")
    endpoint_id = decode_id(input.endpoint_id, "WebhookEndpoint", "endpointId")
    return await attempt(ctx, lambda: webhooks.delete_endpoint(ctx.app, ctx.viewer, endpoint_id))


async def rotate_secret(ctx: Context, input: EndpointInput) -> Outcome:
    """((endpoint, new signing secret) or None, errors)."""
    require_seller(ctx, "rotateWebhookSecret")
    endpoint_id = decode_id(input.endpoint_id, "WebhookEndpoint", "endpointId")
    return await attempt(ctx, lambda: webhooks.rotate_secret(ctx.app, ctx.viewer, endpoint_id))


async def redeliver(ctx: Context, input: DeliveryInput) -> Outcome:
    require_seller(ctx, "redeliverWebhook")
    delivery_id = decode_id(input.delivery_id, "WebhookDelivery", "deliveryId")
    return await attempt(ctx, lambda: webhooks.redeliver(ctx.app, ctx.viewer, delivery_id))


async def visible_endpoint(ctx: Context, endpoint_id: int) -> Row[Any] | None:
    """The endpoint, if it is the viewer's shop's and not deleted (Query.node)."""
    row = await ctx.loaders.webhook_endpoint_by_id.load(endpoint_id)
    return row if row is not None and _owned(ctx, row) else None


async def visible_delivery(ctx: Context, delivery_id: int) -> Row[Any] | None:
    """The delivery, if its endpoint is visible (Query.node)."""
    row = await ctx.loaders.webhook_delivery_by_id.load(delivery_id)
    return row if row is not None and await visible_endpoint(ctx, row.endpoint_id) else None


def _owned(ctx: Context, endpoint: Any) -> bool:
    return ctx.viewer.is_seller and endpoint.shop_id == ctx.viewer.shop_id and endpoint.deleted_at is None
