"""Creators: synced from the commerce platform by `server.py import`, listed by the marketplace."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel

from models.types import Money, UtcDateTime, utcnow


class Creator(SQLModel, table=True):
    __tablename__ = "creator"
    __table_args__ = (
        # The marketplace's two orders, keyset-paginated.
        Index("ix_creator_followers", "follower_count", "id"),
        Index("ix_creator_gmv", "gmv_30d", "id"),
        Index("ix_creator_category", "main_category", "follower_count", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    handle: str = Field(sa_column=Column(String(100), nullable=False))
    display_name: str = Field(sa_column=Column(String(200), nullable=False))
    avatar_url: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    follower_count: int = Field(nullable=False)
    main_category: str = Field(sa_column=Column(String(100), nullable=False))
    gmv_30d: Decimal = Field(sa_column=Column(Money, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
