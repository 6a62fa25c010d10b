"""Events the services publish (a write's after its commit), addressed to the participants who may see them."""

from datetime import timedelta
from typing import Any, NamedTuple

from sqlalchemy import Row

from core.indicators import LIFETIME_SECONDS, Change
from core.viewer import SELLER, Viewer
from models.types import utcnow
from subscriptions import participant_channel


class Event(NamedTuple):
    """A payload for the participants' channels (a tuple: a mark-all builds thousands)."""

    payload: dict[str, Any]
    channels: tuple[str, ...]
    # A typing event goes out only if the typing gate admits this change of this key (core/indicators.py).
    gate: tuple[str, Change] | None = None


def shop_channel(shop_id: int) -> str:
    return participant_channel("shop", shop_id)


def creator_channel(creator_id: int) -> str:
    return participant_channel("creator", creator_id)


def typing_channel(participant: str) -> str:
    """The typing events of a participant channel: apart, so message streams never wake for them."""
    return f"{participant}:typing"


def message_added(conversation: Row[Any], message: Row[Any]) -> Event:
    """A new message: both participants see it, and their conversation changed with it.

    `conversation` is the locked row as it was before the message, so its `last_message_id`
    is the message before this one: a stream that delivered exactly that one can deliver this
    one from the event, without reading the database.
    """
    row = {**message._mapping, "created_at": message.created_at.isoformat()}
    return Event(
        {
            "type": "message",
            "conversation_id": conversation.id,
            "message_id": message.id,
            "previous_id": conversation.last_message_id,
            "message": row,
        },
        (shop_channel(conversation.shop_id), creator_channel(conversation.creator_id)),
    )


def conversation_changed(conversation: Row[Any], *, seller: bool = True, creator: bool = True) -> Event:
    """A conversation's state changed for one side or both (read position, star, archive, ...)."""
    channels = ((shop_channel(conversation.shop_id),) if seller else ()) + (
        (creator_channel(conversation.creator_id),) if creator else ()
    )
    return Event({"type": "conversation", "conversation_id": conversation.id}, channels)


def typing(conversation: Row, role: str, change: Change) -> Event:
    """`role`'s side started or stopped typing, or sent its message: only the other side hears it."""
    to = creator_channel(conversation.creator_id) if role == SELLER else shop_channel(conversation.shop_id)
    expires_at = utcnow() + timedelta(seconds=LIFETIME_SECONDS)
    return Event(
        {
            "type": "typing",
            "conversation_id": conversation.id,
            "role": role,
            "is_typing": change is Change.START,
            "expires_at": expires_at.isoformat(),
        },
        (typing_channel(to),),
        gate=(f"{conversation.id}:{role}", change),
    )


# Conversations per event on the reader's own channel: marking a whole folder read sends a few
# events there (a subscription's queue holds 256), each read by its streams in one batch.
READ_BATCH = 500


def read_positions_moved(viewer: Viewer, conversations: list[Row[Any]]) -> list[Event]:
    """The viewer's read position moved in these conversations (rows with id, shop_id and
    creator_id): each other party hears of its own conversation (its read receipts changed),
    and the viewer's side of all of them, a batch per event."""
    ids = [row.id for row in conversations]
    own = shop_channel(viewer.own_shop_id) if viewer.is_seller else creator_channel(viewer.own_creator_id)
    other = creator_channel if viewer.is_seller else shop_channel
    parties = [row.creator_id if viewer.is_seller else row.shop_id for row in conversations]
    return [
        Event({"type": "conversations", "conversation_ids": ids[i : i + READ_BATCH]}, (own,))
        for i in range(0, len(ids), READ_BATCH)
    ] + [
        Event({"type": "conversation", "conversation_id": conversation_id}, (other(party),))
        for conversation_id, party in zip(ids, parties, strict=True)
    ]
