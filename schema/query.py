"""The root Query, composed of each capability's query fields."""

import strawberry

from schema.conversations import ConversationQuery
from schema.inbox import InboxQuery
from schema.marketplace import MarketplaceQuery
from schema.nodes import NodeQuery
from schema.outreach import OutreachQuery
from schema.samples import SampleQuery
from schema.search import SearchQuery
from schema.webhooks import WebhookQuery


@strawberry.type
class Query(
    InboxQuery, NodeQuery, ConversationQuery, MarketplaceQuery, OutreachQuery, SampleQuery, SearchQuery, WebhookQuery
):
    """Fields come from the bases; the schema lists them base by base, left to right."""
