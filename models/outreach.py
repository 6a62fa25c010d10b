"""The weekly outreach ledger."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey
from sqlmodel import Field, SQLModel

from models.types import UtcDateTime, utcnow


class OutreachUnit(SQLModel, table=True):
    """One unit of a shop's weekly outreach allowance, used on one creator in one week.

    The primary key makes a creator count once per shop and week.
    """

    __tablename__ = "outreach_unit"

    shop_id: int = Field(sa_column=Column(ForeignKey("shop.id"), primary_key=True))
    week_start: datetime = Field(sa_column=Column(UtcDateTime, primary_key=True))
    creator_id: int = Field(sa_column=Column(ForeignKey("creator.id"), primary_key=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
