"""Shops and their products: synced from the commerce platform by `server.py import`."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from models.types import Money, UtcDateTime, utcnow


class Shop(SQLModel, table=True):
    __tablename__ = "shop"

    id: int | None = Field(default=None, primary_key=True)
    platform_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    affiliate_gmv_30d: Decimal = Field(sa_column=Column(Money, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))


class Product(SQLModel, table=True):
    __tablename__ = "product"

    id: int | None = Field(default=None, primary_key=True)
    platform_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    shop_id: int = Field(foreign_key="shop.id", nullable=False, index=True)
    title: str = Field(sa_column=Column(String(300), nullable=False))
    price: Decimal = Field(sa_column=Column(Money, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    image_url: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
