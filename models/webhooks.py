"""Webhooks: a shop's endpoints, and one delivery row per event and endpoint (the outbox)."""

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from models.types import BigId, UtcDateTime, utcnow


class WebhookEndpoint(SQLModel, table=True):
    """An HTTPS endpoint of a shop. `event_types` is ",MESSAGE_CREATED,BLOCK_CHANGED," (comma-framed, so one
    LIKE finds a type on both databases). During a rotation `previous_secret` signs too, until its expiry."""

    __tablename__ = "webhook_endpoint"
    __table_args__ = (Index("ix_webhook_endpoint_shop", "shop_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shop.id", nullable=False)
    url: str = Field(sa_column=Column(String(2048), nullable=False))
    event_types: str = Field(sa_column=Column(String(200), nullable=False))
    secret: str = Field(sa_column=Column(String(64), nullable=False))
    previous_secret: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    previous_secret_expires_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    is_enabled: bool = Field(sa_column=Column(Boolean, nullable=False))
    disabled_reason: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    deleted_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint, written in the transaction of the change it reports. `body` is frozen
        then, so every attempt sends the same bytes; `next_attempt_at` is also the lease of an attempt in flight
        (core/webhook_dispatch.py), and `attempts` its claim token: an outcome is recorded only by the attempt
    that claimed it."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            postgresql_where="status = 'PENDING'",
            sqlite_where="status = 'PENDING'",
        ),
        Index("ix_webhook_delivery_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_delivery_created", "created_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    endpoint_id: int = Field(sa_column=Column(Integer, ForeignKey("webhook_endpoint.id"), nullable=False))
    event_id: str = Field(sa_column=Column(String(40), nullable=False))
    event_type: str = Field(sa_column=Column(String(32), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    attempts: int = Field(sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    # When it was written, or redelivered: it is retried for three days from then.
    retry_since: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_status_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
