"""GraphQL documents and helpers of the webhook tests."""

import asyncio

ALL_TYPES = [
    "MESSAGE_CREATED",
    "SAMPLE_REQUEST_CREATED",
    "SAMPLE_REQUEST_DECIDED",
    "CONVERSATION_STARTED",
    "BLOCK_CHANGED",
]

ENDPOINT_FIELDS = "id url eventTypes isEnabled disabledReason createdAt"
ENDPOINT_PAYLOAD = f"endpoint {{ {ENDPOINT_FIELDS} }} signingSecret userErrors {{ code message field }}"
DELIVERY_FIELDS = "id eventId eventType status attempts lastStatusCode lastError nextAttemptAt deliveredAt createdAt"

CREATE = f"""
mutation Create($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{ {ENDPOINT_PAYLOAD} }}
}}"""
UPDATE = f"""
mutation Update($input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(input: $input) {{ {ENDPOINT_PAYLOAD} }}
}}"""
DELETE = f"""
mutation Delete($input: WebhookEndpointInput!) {{
  deleteWebhookEndpoint(input: $input) {{ endpoint {{ {ENDPOINT_FIELDS} }} userErrors {{ code message field }} }}
}}"""
ROTATE = f"""
mutation Rotate($input: WebhookEndpointInput!) {{
  rotateWebhookSecret(input: $input) {{ {ENDPOINT_PAYLOAD} }}
}}"""
REDELIVER = f"""
mutation Redeliver($input: RedeliverWebhookInput!) {{
  redeliverWebhook(input: $input) {{ delivery {{ {DELIVERY_FIELDS} }} userErrors {{ code message field }} }}
}}"""
ENDPOINTS = f"""
query Endpoints($status: WebhookDeliveryStatus, $first: Int, $after: String) {{
  webhookEndpoints {{
    {ENDPOINT_FIELDS}
    deliveries(status: $status, first: $first, after: $after) {{
      nodes {{ {DELIVERY_FIELDS} }} pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}"""


async def create_endpoint(api, url: str, types=ALL_TYPES, *, as_: str = "shop:s1") -> tuple[dict, str]:
    """(endpoint, signing secret) of a creation that must succeed."""
    payload = (await api.query(CREATE, {"input": {"url": url, "eventTypes": types}}, as_=as_))["createWebhookEndpoint"]
    assert payload["userErrors"] == [] and payload["signingSecret"].startswith("whsec_"), payload
    return payload["endpoint"], payload["signingSecret"]


async def endpoints(api, *, as_: str = "shop:s1", **variables) -> list[dict]:
    return (await api.query(ENDPOINTS, variables, as_=as_))["webhookEndpoints"]


async def deliveries(api, *, as_: str = "shop:s1") -> list[dict]:
    """Every delivery of the shop's endpoints, newest first per endpoint."""
    return [d for endpoint in await endpoints(api, as_=as_, first=100) for d in endpoint["deliveries"]["nodes"]]


async def settled(api, count: int, *, as_: str = "shop:s1", timeout: float = 10.0) -> list[dict]:
    """The deliveries, once `count` of them are no longer PENDING."""
    async with asyncio.timeout(timeout):
        while True:
            found = await deliveries(api, as_=as_)
            if sum(d["status"] != "PENDING" for d in found) >= count:
                return found
            await asyncio.sleep(0.05)
