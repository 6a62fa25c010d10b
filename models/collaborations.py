"""Target collaborations: a shop's commission offer on some of its products."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, ForeignKey, Index, String
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

    collaboration_id: int = Field(sa_column=Column(ForeignKey("target_collaboration.id"), primary_key=True))
    product_id: int = Field(sa_column=Column(ForeignKey("product.id"), primary_key=True))
    position: int = Field(nullable=False)
