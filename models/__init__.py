"""SQLModel tables. `SQLModel.metadata` is Alembic's target metadata."""

from sqlmodel import SQLModel

from models.collaboration import CollaborationProduct, SampleRequest, TargetCollaboration
from models.conversation import Conversation, ConversationState, Message
from models.moderation import Block, OutreachUnit
from models.platform import Creator, Product, Shop

metadata = SQLModel.metadata

__all__ = [
    "Block",
    "CollaborationProduct",
    "Conversation",
    "ConversationState",
    "Creator",
    "Message",
    "OutreachUnit",
    "Product",
    "SampleRequest",
    "Shop",
    "TargetCollaboration",
    "metadata",
]
