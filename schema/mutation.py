"""The root Mutation, composed of each capability's mutations: each field one service call, refusals in `userErrors`."""

import strawberry

from schema.blocks import BlockMutation
from schema.bulk import BulkMutation
from schema.collaborations import CollaborationMutation
from schema.conversations import ConversationMutation
from schema.images import ImageMutation
from schema.live import LiveMutation
from schema.messages import MessageMutation
from schema.samples import SampleMutation
from schema.webhooks import WebhookMutation


@strawberry.type
class Mutation(
    ConversationMutation,
    MessageMutation,
    BulkMutation,
    BlockMutation,
    SampleMutation,
    CollaborationMutation,
    LiveMutation,
    ImageMutation,
    WebhookMutation,
):
    """Fields come from the bases; the schema lists them base by base, left to right."""
