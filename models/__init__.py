"""SQLModel tables, one module per capability. `SQLModel.metadata` is Alembic's target metadata."""

from sqlmodel import SQLModel

from models.blocks import Block, ShopBlock
from models.catalog import Product, Shop
from models.collaborations import CollaborationProduct, TargetCollaboration
from models.conversations import Conversation, ConversationState
from models.images import Image
from models.marketplace import Creator
from models.messages import Message
from models.outreach import OutreachUnit
from models.samples import SampleRequest
from models.search import CreatorSearch, MessageSearch
from models.webhooks import WebhookDelivery, WebhookEndpoint

metadata = SQLModel.metadata

__all__ = [
    "Block",
    "CollaborationProduct",
    "Conversation",
    "ConversationState",
    "Creator",
    "CreatorSearch",
    "Image",
    "Message",
    "MessageSearch",
    "OutreachUnit",
    "Product",
    "SampleRequest",
    "Shop",
    "ShopBlock",
    "TargetCollaboration",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
