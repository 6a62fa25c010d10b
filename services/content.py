"""What a message carries, and the checks on it: text rules, and cards the sender's shop may send."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import invalid
from core.text import MESSAGE_TEXT
from core.viewer import Viewer
from models.tables import collaboration_t, product_t

SYSTEM = "SYSTEM"


@dataclass(frozen=True)
class Content:
    """What a message carries; `kind` is TEXT, PRODUCT, COLLABORATION, SAMPLE_REQUEST or NOTICE."""

    kind: str
    text: str | None = None
    product_id: int | None = None
    collaboration_id: int | None = None
    sample_request_id: int | None = None
    notice_code: str | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "product_id": self.product_id,
            "collaboration_id": self.collaboration_id,
            "sample_request_id": self.sample_request_id,
            "notice_code": self.notice_code,
        }

    def matches(self, row: object) -> bool:
        """Whether a stored message carries this same content."""
        return all(getattr(row, name) == value for name, value in self.columns().items())


CONTENT_FIELD = ["input", "content"]


def clean_text(text: str, field: list[str]) -> str:
    """Trimmed text of 1 to 2,000 characters (its characters were checked with the input, core/text.py)."""
    text = text.strip()
    if not 1 <= len(text) <= MESSAGE_TEXT.max_length:
        raise invalid(f"Text must be 1 to {MESSAGE_TEXT.max_length:,} characters after trimming.", field)
    return text


def text_content(text: str) -> Content:
    return Content("TEXT", text=clean_text(text, CONTENT_FIELD + ["text"]))


async def check_card(conn: AsyncConnection, viewer: Viewer, content: Content) -> None:
    """A product or collaboration card must be the sender shop's own; creators send text only."""
    if content.kind == "TEXT":
        return
    if not viewer.is_seller:
        raise invalid("Creators can send text messages only.", CONTENT_FIELD)
    if content.kind == "PRODUCT":
        shop_id = (await conn.execute(select(product_t.c.shop_id).where(product_t.c.id == content.product_id))).scalar()
        if shop_id != viewer.shop_id:
            raise invalid("The product must be one of your shop's products.", CONTENT_FIELD + ["productId"])
    elif content.kind == "COLLABORATION":
        row = (
            await conn.execute(
                select(collaboration_t.c.shop_id, collaboration_t.c.status).where(
                    collaboration_t.c.id == content.collaboration_id
                )
            )
        ).first()
        if row is None or row.shop_id != viewer.shop_id or row.status != "ACTIVE":
            raise invalid(
                "The collaboration must be an active target collaboration of your shop.",
                CONTENT_FIELD + ["collaborationId"],
            )
