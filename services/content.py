"""What a message carries, and the checks on it: text rules, cards the sender's shop may send, and images
the sender's side uploaded."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import invalid
from core.text import MESSAGE_TEXT
from core.viewer import Viewer
from models.tables import collaboration_t, product_t
from services import images

SYSTEM = "SYSTEM"


@dataclass(frozen=True)
class Content:
    """What a message carries; `kind` is TEXT, PRODUCT, COLLABORATION, SAMPLE_REQUEST, NOTICE or IMAGE
    (whose caption, if any, is its `text`)."""

    kind: str
    text: str | None = None
    product_id: int | None = None
    collaboration_id: int | None = None
    sample_request_id: int | None = None
    notice_code: str | None = None
    image_id: int | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "product_id": self.product_id,
            "collaboration_id": self.collaboration_id,
            "sample_request_id": self.sample_request_id,
            "notice_code": self.notice_code,
            "image_id": self.image_id,
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


def image_content(image_id: int, caption: str | None) -> Content:
    """An image with its caption: trimmed, at most 2,000 characters, and none when blank."""
    caption = (caption or "").strip() or None
    if caption is not None and len(caption) > MESSAGE_TEXT.max_length:
        raise invalid(f"A caption may have at most {MESSAGE_TEXT.max_length:,} characters.", IMAGE_FIELD + ["caption"])
    return Content("IMAGE", text=caption, image_id=image_id)


IMAGE_FIELD = CONTENT_FIELD + ["image"]


async def check_card(conn: AsyncConnection, viewer: Viewer, content: Content) -> None:
    """A product or collaboration card must be the sender shop's own, an image the sender side's
    upload; creators send text and images only."""
    if content.kind == "TEXT":
        return
    if content.kind == "IMAGE":
        assert content.image_id is not None, "image_content sets it"
        await images.claim_for_send(conn, viewer, content.image_id)
        return
    if not viewer.is_seller:
        raise invalid("Creators can send text messages and images only.", CONTENT_FIELD)
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
