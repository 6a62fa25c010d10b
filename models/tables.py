"""The tables as SQLAlchemy Core sees them, for the services' statements: one alias per table."""

from sqlalchemy import Table
from sqlmodel import SQLModel

from models import (
    Block,
    CollaborationProduct,
    Conversation,
    ConversationState,
    Creator,
    CreatorSearch,
    Image,
    Message,
    MessageSearch,
    OutreachUnit,
    Product,
    SampleRequest,
    Shop,
    ShopBlock,
    TargetCollaboration,
    WebhookDelivery,
    WebhookEndpoint,
)


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table (SQLAlchemy's declarative base sets `__table__`; SQLModel does not declare it)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


block_t = table_of(Block)
collaboration_product_t = table_of(CollaborationProduct)
collaboration_t = table_of(TargetCollaboration)
conversation_t = table_of(Conversation)
creator_t = table_of(Creator)
creator_search_t = table_of(CreatorSearch)
image_t = table_of(Image)
message_t = table_of(Message)
message_search_t = table_of(MessageSearch)
outreach_t = table_of(OutreachUnit)
product_t = table_of(Product)
sample_t = table_of(SampleRequest)
shop_t = table_of(Shop)
shop_block_t = table_of(ShopBlock)
state_t = table_of(ConversationState)
webhook_delivery_t = table_of(WebhookDelivery)
webhook_endpoint_t = table_of(WebhookEndpoint)
