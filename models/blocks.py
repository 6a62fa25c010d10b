"""Blocks between shops and creators."""

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
