"""Sending messages: the single conversation per pair, the seller rules, idempotent retries."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from models import Message
from services import events
from services.chat import (Content, append_message, conversation_t, get_creator, get_shop, lock_conversation,
                           lock_pair, lock_shop, open_conversation)
from services.content import check_card
from services.errors import RuleViolation, invalid, not_found
from services.outreach import use_unit
from services.rules import PRE_REPLY_LIMIT
from services.runtime import Runtime
from services.viewer import Viewer

message_t = Message.__table__


@dataclass(frozen=True)
class Target:
    """Where a message goes: an existing conversation, or the other party."""

    conversation_id: int | None = None
    creator_id: int | None = None
    shop_id: int | None = None


@dataclass(frozen=True)
class Sent:
    message: object
    conversation_id: int


async def send_message(rt: Runtime, viewer: Viewer, target: Target, content: Content, client_message_id: str,
                       entrance: str | None = None) -> Sent:
    """Send one message, or return the first message sent with the same `client_message_id`."""
    _check_target_shape(viewer, target)
    for attempt in range(2):
        try:
            async with rt.engine.begin() as conn:
                sent, published = await _send(conn, rt.settings, viewer, target, content, client_message_id, entrance)
            break
        except IntegrityError:
            # A racing request with the same key committed first (into another conversation,
            # so the conversation lock did not order us); the retry finds and compares it.
            if attempt:
                raise
    await rt.publish(published)
    return sent


async def _send(conn: AsyncConnection, settings, viewer: Viewer, target: Target, content: Content, key: str,
                entrance: str | None):
    conversation = await _target_conversation(conn, viewer, target, entrance, key)
    if conversation.previous_id is not None:
        return await _replay(conn, viewer, conversation.previous_id, target, content), []
    await check_may_send(conn, settings, viewer, conversation, content)
    message = await append_message(conn, conversation, viewer.role, content, sender_key=viewer.principal,
                                   client_message_id=key)
    return Sent(message, conversation.id), [events.message_added(conversation, message)]


def _check_target_shape(viewer: Viewer, target: Target) -> None:
    other = target.creator_id if viewer.is_seller else target.shop_id
    wrong = target.shop_id if viewer.is_seller else target.creator_id
    given = [value for value in (target.conversation_id, other) if value is not None]
    if wrong is not None or len(given) != 1:
        party = "creatorId" if viewer.is_seller else "shopId"
        raise invalid(f"Give either conversationId or {party}.", ["input"])


async def _target_conversation(conn: AsyncConnection, viewer: Viewer, target: Target, entrance: str | None,
                               key: str):
    """The locked conversation a send goes to (with the message already sent under `key`, if any),
    opened if the other party was given and they have none yet."""
    if target.conversation_id is not None:
        conversation = await lock_conversation(conn, target.conversation_id, viewer.principal, key)
        if conversation is None or not viewer.owns(conversation.shop_id, conversation.creator_id):
            raise not_found("The conversation", ["input", "conversationId"])
        return conversation
    if viewer.is_seller:
        shop_id, creator_id, default = viewer.shop_id, target.creator_id, "CREATOR_MESSAGES"
    else:
        shop_id, creator_id, default = target.shop_id, viewer.creator_id, "CREATOR_INITIATED"
    conversation = await lock_pair(conn, shop_id, creator_id, viewer.principal, key)
    if conversation is not None:
        return conversation
    if viewer.is_seller and await get_creator(conn, creator_id) is None:
        raise not_found("The creator", ["input", "creatorId"])
    if not viewer.is_seller and await get_shop(conn, shop_id) is None:
        raise not_found("The shop", ["input", "shopId"])
    conversation, _opened = await open_conversation(conn, shop_id, creator_id, entrance or default, viewer.role,
                                                    viewer.principal, key)
    return conversation


async def check_may_send(conn: AsyncConnection, settings, viewer: Viewer, conversation, content: Content) -> None:
    """Every rule a send must pass, cheapest first; raises the first that fails."""
    await check_card(conn, viewer, content)
    if viewer.is_seller:
        await _check_seller_send(conn, settings, conversation, content)
        return
    if conversation.shop_status != "ACTIVE":
        raise RuleViolation("FORBIDDEN", "This shop can no longer receive creator messages.")
    if conversation.blocked:
        raise RuleViolation("BLOCKED", "This shop has blocked you, so you cannot message it.")


async def _check_seller_send(conn: AsyncConnection, settings, conversation, content: Content) -> None:
    """`conversation` is a row of `chat.lock_conversation`, with its block flag."""
    if conversation.blocked:
        raise RuleViolation("BLOCKED", "You have blocked this creator; unblock the creator first.")
    if not conversation.creator_has_replied and conversation.seller_message_count >= PRE_REPLY_LIMIT:
        raise RuleViolation("PRE_REPLY_LIMIT_REACHED",
                            f"You can send up to {PRE_REPLY_LIMIT} messages before the creator replies; "
                            "wait for their reply.")
    first_outreach = conversation.seller_message_count == 0 and not conversation.creator_has_replied
    if content.kind == "COLLABORATION" or first_outreach:
        await lock_shop(conn, conversation.shop_id)
        await use_unit(conn, settings.outreach_tiers, conversation.shop_id, conversation.creator_id)


async def _replay(conn: AsyncConnection, viewer: Viewer, message_id: int, target: Target, content: Content) -> Sent:
    """The first message of a retried key, if the retry asks for the same thing."""
    message = (await conn.execute(select(message_t).where(message_t.c.id == message_id))).one()
    row = (await conn.execute(select(conversation_t).where(conversation_t.c.id == message.conversation_id))).one()
    same_target = (target.conversation_id == row.id if target.conversation_id is not None
                   else (target.creator_id == row.creator_id if viewer.is_seller else target.shop_id == row.shop_id))
    if not same_target or not content.matches(message):
        raise invalid("This clientMessageId was already used for another message; use a new key.",
                      ["input", "clientMessageId"])
    return Sent(message, row.id)
