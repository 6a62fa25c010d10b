"""Events the services publish after commit, addressed to the participants who may see them."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from subscriptions import participant_channel


@dataclass(frozen=True)
class Event:
    payload: dict[str, Any]
    channels: tuple[str, ...]


def shop_channel(shop_id: int) -> str:
    return participant_channel("shop", shop_id)


def creator_channel(creator_id: int) -> str:
    return participant_channel("creator", creator_id)


def message_added(conversation: Row[Any], message: Row[Any]) -> Event:
    """A new message: both participants see it, and their conversation changed with it.

    `conversation` is the locked row as it was before the message, so its `last_message_id`
    is the message before this one: a stream that delivered exactly that one can deliver this
    one from the event, without reading the database.
    """
    row = {**message._mapping, "created_at": message.created_at.isoformat()}
    return Event({"type": "message", "conversation_id": conversation.id, "message_id": message.id,
                  "previous_id": conversation.last_message_id, "message": row},
                 (shop_channel(conversation.shop_id), creator_channel(conversation.creator_id)))


def conversation_changed(conversation: Row[Any], *, seller: bool = True, creator: bool = True) -> Event:
    """A conversation's state changed for one side or both (read position, star, archive, ...)."""
    channels = ((shop_channel(conversation.shop_id),) if seller else ()) + (
        (creator_channel(conversation.creator_id),) if creator else ())
    return Event({"type": "conversation", "conversation_id": conversation.id}, channels)
