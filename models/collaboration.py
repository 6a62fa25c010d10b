"""Target collaborations (product offers) and sample requests."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import Rate, UtcDateTime, utcnow


class TargetCollaboration(SQLModel, table=True):
    __tablename__ = "target_collaboration"
    __table_args__ = (Index("ix_collaboration_shop", "shop_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shop.id", nullable=False)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    commission_rate: Decimal = Field(sa_column=Column(Rate, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class CollaborationProduct(SQLModel, table=True):
    __tablename__ = "collaboration_product"

    collaboration_id: int = Field(
        sa_column=Column(ForeignKey("target_collaboration.id"), primary_key=True))
    product_id: int = Field(sa_column=Column(ForeignKey("product.id"), primary_key=True))
    position: int = Field(nullable=False)


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
