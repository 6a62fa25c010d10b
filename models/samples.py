"""Sample requests: a creator asks a shop for a product sample."""

from datetime import datetime

from sqlalchemy import Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UtcDateTime, utcnow


class SampleRequest(SQLModel, table=True):
    __tablename__ = "sample_request"
    __table_args__ = (
        UniqueConstraint("creator_id", "client_request_id", name="uq_sample_client_id"),
        Index("ix_sample_shop", "shop_id", "status", "id"),
        Index("ix_sample_creator", "creator_id", "status", "id"),
        Index("ix_sample_conversation", "conversation_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shop.id", nullable=False)
    creator_id: int = Field(foreign_key="creator.id", nullable=False)
    product_id: int = Field(foreign_key="product.id", nullable=False)
    conversation_id: int = Field(foreign_key="conversation.id", nullable=False)
    status: str = Field(sa_column=Column(String(16), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(String(1000), nullable=True))
    reject_reason: str | None = Field(default=None, sa_column=Column(String(1000), nullable=True))
    client_request_id: str = Field(sa_column=Column(String(100), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
