"""Webhooks: a shop's endpoints, and the outbox of their deliveries.

`record` writes one delivery row per endpoint that wants the event, in the transaction of the
change it reports: a rolled-back change leaves no row, a committed one a row that a dispatcher
(core/webhook_dispatch.py) sends until a receiver takes it. The body is frozen then, so every
attempt sends the same bytes. Payloads carry global IDs and the objects as the shop's sellers see
them in the API, and only the shop's own data.
"""

import base64
import json
import secrets
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    String,
    Text,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from core.config import Settings
from core.errors import ErrorCode, RuleViolation, invalid, not_found
from core.ids import global_id
from core.pages import Page
from core.viewer import Viewer
from core.webhook_dispatch import NOTIFY_CHANNEL, fail_pending
from core.webhook_http import resolution_problem, url_problem
from models.database import GatedEngine, fetch
from models.tables import shop_t, webhook_delivery_t, webhook_endpoint_t
from models.types import UtcDateTime, utcnow
from services import events, transactions
from services.runtime import Runtime
from services.transactions import OUTBOX_WRITTEN

# The API's WebhookEventType -> the `type` of the payload.
EVENT_TYPES = {
    "MESSAGE_CREATED": "message.created",
    "SAMPLE_REQUEST_CREATED": "sample_request.created",
    "SAMPLE_REQUEST_DECIDED": "sample_request.decided",
    "CONVERSATION_STARTED": "conversation.started",
    "BLOCK_CHANGED": "block.changed",
}
MAX_ENDPOINTS = 10
SECRET_OVERLAP = timedelta(hours=24)  # a rotated-out secret keeps signing this long

e, d = webhook_endpoint_t.c, webhook_delivery_t.c


def framed(event_types: Iterable[str]) -> str:
    """The stored form of a set of types, ",A,B,": one LIKE finds a type on both databases."""
    return "," + ",".join(sorted(set(event_types))) + ","


def event_types_of(row: Any) -> list[str]:
    return [name for name in row.event_types.split(",") if name]


# The outbox.


def _wanting(shop_id: ColumnElement[int], framed_type: ColumnElement[str] | str) -> tuple[ColumnElement[bool], ...]:
    """The shop's enabled endpoints that want a type (`framed_type`: "%,TYPE,%")."""
    return (e.shop_id == shop_id, e.is_enabled.is_(True), e.deleted_at.is_(None), e.event_types.like(framed_type))


_NOW = bindparam("now", type_=UtcDateTime())
_WANTING = (
    select(
        e.id,
        bindparam("event_id", type_=String()),
        bindparam("event_type", type_=String()),
        bindparam("body", type_=Text()),
        literal("PENDING"),
        literal(0),
        _NOW,
        _NOW,
        _NOW,
    )
    .where(*_wanting(bindparam("shop"), bindparam("framed_type")))
    .order_by(e.id)
)
_OUTBOX_COLUMNS = [
    "endpoint_id",
    "event_id",
    "event_type",
    "body",
    "status",
    "attempts",
    "next_attempt_at",
    "retry_since",
]
_INSERT = insert(webhook_delivery_t).from_select([*_OUTBOX_COLUMNS, "created_at"], _WANTING)
# PostgreSQL: the rows and, only if there are any, the NOTIFY that goes out at the commit, in one statement.
_INSERTED = _INSERT.returning(d.id).cte("inserted")
_INSERT_AND_NOTIFY = select(func.pg_notify(NOTIFY_CHANNEL, "")).where(exists(select(_INSERTED.c.id)))


def wanted(shop_id: ColumnElement[int], event_type: str) -> ColumnElement[bool]:
    """SQL: whether an enabled endpoint of the shop wants the event type (`webhooks_wanted`), for a
    statement that runs anyway to tell whether `record` has anything to write."""
    return exists().where(*_wanting(shop_id, f"%,{event_type},%")).label("webhooks_wanted")


async def record(conn: AsyncConnection, shop_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Write the event for each of the shop's enabled endpoints that wants it (one statement)."""
    now = utcnow()
    body = json.dumps(
        {"type": EVENT_TYPES[event_type], "timestamp": now.isoformat(), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    params = {
        "event_id": f"msg_{uuid.uuid4().hex}",
        "event_type": event_type,
        "body": body,
        "now": now,
        "shop": shop_id,
        "framed_type": f"%,{event_type},%",
    }
    if conn.dialect.name == "postgresql":
        written = (await conn.execute(_INSERT_AND_NOTIFY, params)).first() is not None
    else:
        written = ((await conn.execute(_INSERT, params)).rowcount or 0) > 0
    if written:
        # This process's dispatcher is woken after the commit (services/transactions.py); on PostgreSQL
        # the NOTIFY, delivered at the commit, wakes every process's.
        conn.info[OUTBOX_WRITTEN] = True


async def _wake_dispatchers(conn: AsyncConnection) -> None:
    """Wake the dispatchers after this transaction commits (a redelivery is due now)."""
    conn.info[OUTBOX_WRITTEN] = True
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))


# The events, each with the shop's view of its object.


def _pair(shop_id: int, conversation_id: int | None, creator_id: int) -> dict[str, Any]:
    """The keys every payload's `data` starts with (conversationId null for a pair without a conversation)."""
    return {
        "shopId": global_id("Shop", shop_id),
        "conversationId": global_id("Conversation", conversation_id) if conversation_id is not None else None,
        "creatorId": global_id("Creator", creator_id),
    }


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def message_content(message: Any) -> dict[str, Any]:
    """A message's `content` as the API shows it (MessageContent, with `__typename`)."""
    kind = message.kind
    if kind == "TEXT":
        return {"__typename": "TextContent", "text": message.text}
    if kind == "PRODUCT":
        return {"__typename": "ProductCard", "product": {"id": global_id("Product", message.product_id)}}
    if kind == "COLLABORATION":
        collaboration = global_id("TargetCollaboration", message.collaboration_id)
        return {"__typename": "CollaborationInvite", "collaboration": {"id": collaboration}}
    if kind == "SAMPLE_REQUEST":
        request = global_id("SampleRequest", message.sample_request_id)
        return {"__typename": "SampleRequestCard", "sampleRequest": {"id": request}}
    if kind == "IMAGE":
        image = {"id": global_id("Image", message.image_id)}
        return {"__typename": "ImageContent", "image": image, "caption": message.text}
    return {"__typename": "SystemNotice", "code": message.notice_code, "text": message.text}


async def message_created(conn: AsyncConnection, conversation: Any, message: Any) -> None:
    data = _pair(conversation.shop_id, conversation.id, conversation.creator_id) | {
        "message": {
            "id": global_id("Message", message.id),
            "senderRole": message.sender_role,
            "createdAt": _time(message.created_at),
            "content": message_content(message),
        }
    }
    await record(conn, conversation.shop_id, "MESSAGE_CREATED", data)


async def conversation_started(conn: AsyncConnection, conversation: Any) -> None:
    data = _pair(conversation.shop_id, conversation.id, conversation.creator_id) | {
        "conversation": {
            "id": global_id("Conversation", conversation.id),
            "entrance": conversation.entrance,
            "createdAt": _time(conversation.created_at),
        }
    }
    await record(conn, conversation.shop_id, "CONVERSATION_STARTED", data)


async def sample_request_changed(conn: AsyncConnection, request: Any, decided: bool) -> None:
    """sample_request.created, or .decided once approved or rejected."""
    data = _pair(request.shop_id, request.conversation_id, request.creator_id) | {
        "sampleRequest": {
            "id": global_id("SampleRequest", request.id),
            "status": request.status,
            "note": request.note,
            "rejectReason": request.reject_reason,
            "createdAt": _time(request.created_at),
            "decidedAt": _time(request.decided_at),
            "product": {"id": global_id("Product", request.product_id)},
        }
    }
    await record(conn, request.shop_id, "SAMPLE_REQUEST_DECIDED" if decided else "SAMPLE_REQUEST_CREATED", data)


async def block_changed(
    conn: AsyncConnection, shop_id: int, creator_id: int, conversation_id: int | None, blocked_by: str, blocked: bool
) -> None:
    """The shop blocked or unblocked the creator (`blocked_by` SHOP), or the creator the shop (CREATOR)."""
    data = _pair(shop_id, conversation_id, creator_id) | {"block": {"blockedBy": blocked_by, "isBlocked": blocked}}
    await record(conn, shop_id, "BLOCK_CHANGED", data)


# Endpoints.


def new_secret() -> str:
    """A Standard Webhooks signing secret: whsec_ and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _check_event_types(event_types: Sequence[str], field: list[str]) -> str:
    if not event_types:
        raise invalid("Choose at least one event type.", field)
    return framed(event_types)


async def _check_url(settings: Settings, url: str, field: list[str]) -> str:
    """The URL, trimmed, if it is https:// (or http:// where allowed) and resolves to public addresses only."""
    url = url.strip()
    problem = url_problem(url, settings.webhook_allow_private) or await resolution_problem(
        url, settings.webhook_allow_private
    )
    if problem is not None:
        raise invalid(problem, field)
    return url


async def create_endpoint(rt: Runtime, viewer: Viewer, url: str, event_types: Sequence[str]) -> tuple[Row[Any], str]:
    """(endpoint, its signing secret): at most MAX_ENDPOINTS per shop."""
    types = _check_event_types(event_types, ["input", "eventTypes"])
    url = await _check_url(rt.settings, url, ["input", "url"])
    secret = new_secret()

    async def work(conn: AsyncConnection) -> tuple[tuple[Row[Any], str], list[events.Event]]:
        # Why the shop row's lock: two racing creations count the same endpoints otherwise, and both
        # insert the tenth (SQLite: every transaction is already serialised, models/database.py).
        await conn.execute(select(shop_t.c.id).where(shop_t.c.id == viewer.own_shop_id).with_for_update())
        count = (
            await conn.execute(select(func.count()).where(e.shop_id == viewer.own_shop_id, e.deleted_at.is_(None)))
        ).scalar_one()
        if count >= MAX_ENDPOINTS:
            raise invalid(f"A shop may have at most {MAX_ENDPOINTS} webhook endpoints; delete one first.", ["input"])
        endpoint = (
            await conn.execute(
                insert(webhook_endpoint_t)
                .values(
                    shop_id=viewer.own_shop_id,
                    url=url,
                    event_types=types,
                    secret=secret,
                    is_enabled=True,
                    created_at=utcnow(),
                )
                .returning(*webhook_endpoint_t.c)
            )
        ).one()
        return (endpoint, secret), []

    return await transactions.write(rt, work)


async def _lock_endpoint(conn: AsyncConnection, viewer: Viewer, endpoint_id: int) -> Row[Any]:
    """The shop's endpoint, locked; NOT_FOUND for another shop's or a deleted one."""
    endpoint = (
        await conn.execute(
            select(webhook_endpoint_t)
            .where(e.id == endpoint_id, e.shop_id == viewer.own_shop_id, e.deleted_at.is_(None))
            .with_for_update()
        )
    ).first()
    if endpoint is None:
        raise not_found("The webhook endpoint", ["input", "endpointId"])
    return endpoint


async def _save(conn: AsyncConnection, endpoint_id: int, **values: Any) -> Row[Any]:
    return (
        await conn.execute(
            update(webhook_endpoint_t).where(e.id == endpoint_id).values(**values).returning(*webhook_endpoint_t.c)
        )
    ).one()


async def update_endpoint(
    rt: Runtime,
    viewer: Viewer,
    endpoint_id: int,
    url: str | None,
    event_types: Sequence[str] | None,
    is_enabled: bool | None,
) -> Row[Any]:
    """Change what is given. Disabling fails the pending deliveries; enabling clears `disabledReason`."""
    values: dict[str, Any] = {}
    if event_types is not None:
        values["event_types"] = _check_event_types(event_types, ["input", "eventTypes"])
    if url is not None:
        values["url"] = await _check_url(rt.settings, url, ["input", "url"])
    if is_enabled is not None:
        values.update(is_enabled=is_enabled, disabled_reason=None)

    async def work(conn: AsyncConnection) -> tuple[Row[Any], list[events.Event]]:
        endpoint = await _lock_endpoint(conn, viewer, endpoint_id)
        changes = dict(values)  # this attempt's: the write may run the work twice
        if is_enabled is False and endpoint.is_enabled:
            await fail_pending(conn, endpoint_id, "The endpoint was disabled.")
        if is_enabled is False and not endpoint.is_enabled:
            del changes["disabled_reason"]  # already disabled: keep why
        return (await _save(conn, endpoint_id, **changes) if changes else endpoint), []

    return await transactions.write(rt, work)


async def delete_endpoint(rt: Runtime, viewer: Viewer, endpoint_id: int) -> Row[Any]:
    """The endpoint as it was; it receives nothing more and its pending deliveries fail."""

    async def work(conn: AsyncConnection) -> tuple[Row[Any], list[events.Event]]:
        endpoint = await _lock_endpoint(conn, viewer, endpoint_id)
        await fail_pending(conn, endpoint_id, "The endpoint was deleted.")
        # Kept (deleted_at) while its deliveries are: they name it.
        await _save(conn, endpoint_id, deleted_at=utcnow(), is_enabled=False)
        return endpoint, []

    return await transactions.write(rt, work)


async def rotate_secret(rt: Runtime, viewer: Viewer, endpoint_id: int) -> tuple[Row[Any], str]:
    """(endpoint, new secret); the current secret keeps signing for SECRET_OVERLAP (one previous secret
    at most: a second rotation within the overlap ends the first one's)."""
    secret = new_secret()

    async def work(conn: AsyncConnection) -> tuple[tuple[Row[Any], str], list[events.Event]]:
        endpoint = await _lock_endpoint(conn, viewer, endpoint_id)
        saved = await _save(
            conn,
            endpoint_id,
            secret=secret,
            previous_secret=endpoint.secret,
            previous_secret_expires_at=utcnow() + SECRET_OVERLAP,
        )
        return (saved, secret), []

    return await transactions.write(rt, work)


async def redeliver(rt: Runtime, viewer: Viewer, delivery_id: int) -> Row[Any]:
    """The same delivery (eventId, body) due now, whatever its status, with another three days of retries."""

    async def work(conn: AsyncConnection) -> tuple[Row[Any], list[events.Event]]:
        found = (
            await conn.execute(
                select(d.id, e.is_enabled)
                .join(webhook_endpoint_t, e.id == d.endpoint_id)
                .where(d.id == delivery_id, e.shop_id == viewer.own_shop_id, e.deleted_at.is_(None))
                .with_for_update(of=webhook_delivery_t)
            )
        ).first()
        if found is None:
            raise not_found("The webhook delivery", ["input", "deliveryId"])
        if not found.is_enabled:
            raise RuleViolation(ErrorCode.FORBIDDEN, "The endpoint is disabled; enable it before redelivering.")
        now = utcnow()
        delivery = (
            await conn.execute(
                update(webhook_delivery_t)
                .where(d.id == delivery_id)
                .values(status="PENDING", next_attempt_at=now, retry_since=now)
                .returning(*webhook_delivery_t.c)
            )
        ).one()
        await _wake_dispatchers(conn)
        return delivery, []

    return await transactions.write(rt, work)


# Reads.


async def list_endpoints(db: GatedEngine | AsyncConnection, viewer: Viewer) -> Sequence[Row[Any]]:
    """The shop's endpoints, oldest first (deleted ones are gone)."""
    return await fetch(
        db, select(webhook_endpoint_t).where(e.shop_id == viewer.own_shop_id, e.deleted_at.is_(None)).order_by(e.id)
    )


# A page of an endpoint's deliveries: (endpoint id, status or None, page size, after id or None).
DeliveryPageKey = tuple[int, str | None, int, int | None]


def _page_query(endpoint_id: int, status: str | None, first: int, after: int | None) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = [d.endpoint_id == endpoint_id]
    if status is not None:
        conditions.append(d.status == status)
    if after is not None:
        conditions.append(d.id < after)
    return select(webhook_delivery_t).where(*conditions).order_by(d.id.desc()).limit(first + 1)


async def delivery_pages(db: GatedEngine, keys: list[DeliveryPageKey]) -> dict[DeliveryPageKey, Page]:
    """Each endpoint's page of deliveries, newest first, in one statement (a UNION ALL of each page's
    keyset read, which uses (endpoint_id, id) on both databases)."""
    parts = [_page_query(*key).add_columns(literal(n).label("page")).subquery() for n, key in enumerate(keys)]
    rows = await fetch(db, union_all(*(select(part) for part in parts)))
    grouped: dict[int, list[Any]] = {n: [] for n in range(len(keys))}
    for row in rows:
        grouped[row.page].append(row)
    pages = {}
    for n, key in enumerate(keys):
        first, after = key[2], key[3]
        found = grouped[n]
        pages[key] = Page(found[:first], has_next=len(found) > first, has_previous=after is not None)
    return pages
