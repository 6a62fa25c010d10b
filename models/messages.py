"""Chat messages."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import BigId, UtcDateTime, utcnow


class Message(SQLModel, table=True):
    """A chat message; `kind` says which of the content columns is set."""

    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_conversation", "conversation_id", "id"),
        # Idempotency keys are unique per sender (the shop or the creator).
        UniqueConstraint("sender_key", "client_message_id", name="uq_message_client_id"),
        UniqueConstraint("sender_key", "client_batch_id", "conversation_id", name="uq_message_batch"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    conversation_id: int = Field(foreign_key="conversation.id", nullable=False)
    sender_role: str = Field(sa_column=Column(String(8), nullable=False))
    sender_key: str | None = Field(default=None, sa_column=Column(String(80), nullable=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    text: str | None = Field(default=None, sa_column=Column(String(2000), nullable=True))
    product_id: int | None = Field(default=None, foreign_key="product.id")
    collaboration_id: int | None = Field(default=None, foreign_key="target_collaboration.id")
    sample_request_id: int | None = Field(default=None, foreign_key="sample_request.id")
    notice_code: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    client_message_id: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    client_batch_id: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    # Last: added by migration 0006 (the column order is the table's, services.inbox.MessageRecord).
    image_id: int | None = Field(default=None, sa_column=Column(BigId, ForeignKey("image.id"), nullable=True))
