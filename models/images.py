"""Uploaded images: one row per upload, its bytes stored once per content hash (core/storage.py)."""

from datetime import datetime

from sqlalchemy import Column, Index, Integer, String
from sqlmodel import Field, SQLModel

from models.types import BigId, UtcDateTime, utcnow


class Image(SQLModel, table=True):
    """An image one side uploaded; `sha256` names its stored object (and `<sha256>.thumbnail` its
    thumbnail). `sent_at` is set by the first message that carries it: unsent images are removed after a day."""

    __tablename__ = "image"
    __table_args__ = (
        Index("ix_image_sha256", "sha256"),
        Index("ix_image_unsent", "created_at", postgresql_where="sent_at IS NULL", sqlite_where="sent_at IS NULL"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    owner_side: str = Field(sa_column=Column(String(8), nullable=False))  # SELLER or CREATOR
    owner_id: int = Field(sa_column=Column(Integer, nullable=False))  # the shop's or the creator's id
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    mime_type: str = Field(sa_column=Column(String(16), nullable=False))
    size_bytes: int = Field(sa_column=Column(Integer, nullable=False))
    width: int = Field(sa_column=Column(Integer, nullable=False))
    height: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
