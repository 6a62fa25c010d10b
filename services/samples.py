"""Sample requests: a creator asks, the shop's seller approves or rejects once."""

from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import ErrorCode, RuleViolation, invalid, not_found
from core.pages import Page
from core.text import NOTE
from core.viewer import CREATOR, Viewer
from models.tables import product_t, sample_t
from models.types import utcnow
from services import events, transactions, webhooks
from services.content import SYSTEM, Content
from services.conversations import (
    get_shop,
    lock_conversation,
    open_conversation,
    refuse_if_blocked,
)
from services.messages import append_message
from services.runtime import Runtime

DECISIONS = {"APPROVED": "SAMPLE_APPROVED", "REJECTED": "SAMPLE_REJECTED"}


def clean_note(note: str | None, field: list[str]) -> str | None:
    """An optional free text of at most 1,000 characters; blank means none."""
    note = (note or "").strip()
    if len(note) > NOTE.max_length:
        raise invalid(f"At most {NOTE.max_length:,} characters.", field)
    return note or None


async def request_sample(
    rt: Runtime, viewer: Viewer, product_id: int, note: str | None, client_request_id: str
) -> Row[Any]:
    """Create a PENDING request and its card in the conversation with the product's shop."""
    note = clean_note(note, ["input", "note"])
    return await transactions.write(rt, lambda conn: _request(conn, viewer, product_id, note, client_request_id))


async def _request(
    conn: AsyncConnection, viewer: Viewer, product_id: int, note: str | None, key: str
) -> tuple[Row[Any], list[events.Event]]:
    previous = await _by_client_id(conn, viewer.own_creator_id, key)
    if previous is not None:
        if previous.product_id != product_id or previous.note != note:
            raise invalid(
                "This clientRequestId was already used for another request; use a new key.",
                ["input", "clientRequestId"],
            )
        return previous, []
    product = (await conn.execute(select(product_t).where(product_t.c.id == product_id))).first()
    if product is None:
        raise not_found("The product", ["input", "productId"])
    shop = await get_shop(conn, product.shop_id)
    assert shop is not None, "a product's shop exists (foreign key)"
    if shop.status != "ACTIVE":
        raise RuleViolation(ErrorCode.FORBIDDEN, "This shop can no longer receive sample requests.")
    conversation, _ = await open_conversation(conn, product.shop_id, viewer.own_creator_id, "SAMPLE_REQUEST", CREATOR)
    # A request is the creator's message to the shop: refused while either block holds (and the
    # opening rolled back with it).
    refuse_if_blocked(
        CREATOR,
        conversation.blocked,
        conversation.blocked_by_creator,
        by_shop="This shop has blocked you, so you cannot request samples from it.",
    )
    request = (
        await conn.execute(
            insert(sample_t)
            .values(
                shop_id=product.shop_id,
                creator_id=viewer.creator_id,
                product_id=product_id,
                conversation_id=conversation.id,
                status="PENDING",
                note=note,
                client_request_id=key,
                created_at=utcnow(),
            )
            .returning(*sample_t.c)
        )
    ).one()
    await webhooks.sample_request_changed(conn, request, decided=False)
    # The card is the creator's message: it lifts the five-message limit and is unread for the seller.
    card = await append_message(
        conn,
        conversation,
        CREATOR,
        Content("SAMPLE_REQUEST", sample_request_id=request.id),
        sender_key=viewer.principal,
    )
    return request, [events.message_added(conversation, card)]


async def _by_client_id(conn: AsyncConnection, creator_id: int, key: str) -> Row[Any] | None:
    return (
        await conn.execute(
            select(sample_t).where(sample_t.c.creator_id == creator_id, sample_t.c.client_request_id == key)
        )
    ).first()


async def decide(rt: Runtime, viewer: Viewer, request_id: int, status: str, reason: str | None = None) -> Row[Any]:
    """Approve or reject once; the same decision again changes nothing, the other one is refused."""
    reason = clean_note(reason, ["input", "reason"])
    return await transactions.write(rt, lambda conn: _decide(conn, viewer, request_id, status, reason))


async def _decide(
    conn: AsyncConnection, viewer: Viewer, request_id: int, status: str, reason: str | None
) -> tuple[Row[Any], list[events.Event]]:
    # The row lock makes two racing decisions take turns: the second sees the first's status.
    request = (
        await conn.execute(
            select(sample_t).where(sample_t.c.id == request_id, sample_t.c.shop_id == viewer.shop_id).with_for_update()
        )
    ).first()
    if request is None:
        raise not_found("The sample request", ["input", "sampleRequestId"])
    if request.status == status:
        return request, []
    if request.status != "PENDING":
        raise RuleViolation(
            ErrorCode.SAMPLE_ALREADY_DECIDED,
            f"This sample request was already {request.status.lower()}; it cannot change.",
        )
    request = (
        await conn.execute(
            update(sample_t)
            .where(sample_t.c.id == request_id)
            .values(
                status=status,
                decided_at=utcnow(),
                reject_reason=reason if status == "REJECTED" else None,
            )
            .returning(*sample_t.c)
        )
    ).one()
    await webhooks.sample_request_changed(conn, request, decided=True)
    conversation = await lock_conversation(conn, request.conversation_id)
    assert conversation is not None, "a sample request's conversation exists (foreign key)"
    notice = await append_message(conn, conversation, SYSTEM, _notice(status, reason))
    return request, [events.message_added(conversation, notice)]


def _notice(status: str, reason: str | None) -> Content:
    if status == "APPROVED":
        text = "The shop approved your sample request."
    else:
        text = "The shop rejected your sample request." + (f" Reason: {reason}" if reason else "")
    return Content("NOTICE", text=text, notice_code=DECISIONS[status])


async def list_sample_requests(
    conn: AsyncConnection, viewer: Viewer, status: str | None, first: int, after: int | None
) -> Page:
    """The viewer's sample requests (the shop's, or the creator's own), newest first."""
    s = sample_t.c
    owner = s.shop_id == viewer.shop_id if viewer.is_seller else s.creator_id == viewer.creator_id
    query = select(sample_t).where(owner)
    if status is not None:
        query = query.where(s.status == status)
    if after is not None:
        query = query.where(s.id < after)
    rows = (await conn.execute(query.order_by(s.id.desc()).limit(first + 1))).all()
    return Page(rows[:first], has_next=len(rows) > first, has_previous=after is not None)
