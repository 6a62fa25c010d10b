"""Blocks between shops and creators, one table per direction: both can hold at once, each lifted on its own."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey
from sqlmodel import Field, SQLModel

from models.types import UtcDateTime, utcnow


class Block(SQLModel, table=True):
    """A shop blocks a creator; the row exists exactly while the block holds."""

    __tablename__ = "block"

    shop_id: int = Field(sa_column=Column(ForeignKey("shop.id"), primary_key=True))
    creator_id: int = Field(sa_column=Column(ForeignKey("creator.id"), primary_key=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class ShopBlock(SQLModel, table=True):
    """A creator blocks a shop; the row exists exactly while the block holds. The key starts with the
    creator: `Shop.isBlocked` asks which of a page's shops the viewer creator blocks."""

    __tablename__ = "shop_block"

    creator_id: int = Field(sa_column=Column(ForeignKey("creator.id"), primary_key=True))
    shop_id: int = Field(sa_column=Column(ForeignKey("shop.id"), primary_key=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
