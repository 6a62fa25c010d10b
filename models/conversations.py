"""Conversations and each side's view of them."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from models.types import UtcDateTime, utcnow


def _partial(name: str, condition: str) -> Index:
    """A folder index on one side's inbox, limited to the rows the folder can contain."""
    where = text(f"visible AND {condition}")
    return Index(
        name, "side", "owner_id", "last_activity_at", "conversation_id", postgresql_where=where, sqlite_where=where
    )


class Conversation(SQLModel, table=True):
    """The single conversation between a shop and a creator."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("shop_id", "creator_id", name="uq_conversation_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shop.id", nullable=False)
    creator_id: int = Field(foreign_key="creator.id", nullable=False, index=True)
    entrance: str = Field(sa_column=Column(String(32), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    last_message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    last_activity_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    # Denormalised for the outreach rules, kept in the send transaction.
    creator_has_replied: bool = Field(default=False, nullable=False)
    seller_message_count: int = Field(default=0, nullable=False)


class ConversationState(SQLModel, table=True):
    """One side's view of a conversation: its folders, read position and inbox ordering.

    Both sides share this table, so one query serves a seller's and a creator's inbox:
    `owner_id` is the shop id on the SELLER side and the creator id on the CREATOR side.
    """

    __tablename__ = "conversation_state"
    __table_args__ = (
        Index(
            "ix_state_inbox",
            "side",
            "owner_id",
            "archived",
            "last_activity_at",
            "conversation_id",
            postgresql_where=text("visible"),
            sqlite_where=text("visible"),
        ),
        _partial("ix_state_unread", "NOT archived AND unread_count > 0"),
        _partial("ix_state_unreplied", "NOT archived AND unreplied"),
        _partial("ix_state_starred", "starred"),
    )

    conversation_id: int = Field(sa_column=Column(ForeignKey("conversation.id"), primary_key=True))
    side: str = Field(sa_column=Column(String(8), primary_key=True))
    owner_id: int = Field(nullable=False)
    # The conversation's creator, copied here so that an inbox page filtered on the creator joins
    # state -> creator directly and walks the folder index in order (no scan of `conversation`).
    creator_id: int = Field(foreign_key="creator.id", nullable=False)
    # A creator does not see a conversation a seller opened until its first message.
    visible: bool = Field(default=True, nullable=False)
    starred: bool = Field(default=False, nullable=False)
    archived: bool = Field(default=False, nullable=False)
    last_read_message_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    unread_count: int = Field(default=0, nullable=False)
    # The newest non-system message is from the other side.
    unreplied: bool = Field(default=False, nullable=False)
    last_activity_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    # When this side last moved its read position forward (the other side's read receipts); null
    # until it reads something.
    last_read_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
