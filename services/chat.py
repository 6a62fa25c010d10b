"""The shared write mechanics of a conversation: opening it, locking it, appending a message.

Every message (a send, a sample card, a system notice) goes through `append_message`,
which keeps the denormalised inbox columns right in the same transaction.
"""

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import BigInteger, bindparam, case, exists, insert, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from models import Block, Conversation, ConversationState, Creator, Message, Shop
from models.database import insert_ignoring_conflicts
from models.types import utcnow
from services.viewer import CREATOR, SELLER

conversation_t = Conversation.__table__
state_t = ConversationState.__table__
message_t = Message.__table__
block_t = Block.__table__
shop_t = Shop.__table__
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

    def columns(self) -> dict:
        return {"kind": self.kind, "text": self.text, "product_id": self.product_id,
                "collaboration_id": self.collaboration_id, "sample_request_id": self.sample_request_id,
                "notice_code": self.notice_code}

    def matches(self, row) -> bool:
        """Whether a stored message carries this same content."""
        return all(getattr(row, name) == value for name, value in self.columns().items())


@lru_cache(maxsize=4)
def _locking_select(by_pair: bool, with_key: bool):
    """The conversation row to lock, with what every send checks, in the same round trip:
    whether the shop blocks the creator, the shop's status, and the message an idempotency key
    was already used for (read at the statement's start: a racing retry that commits while we
    wait for the lock is caught by the unique key instead, and the caller retries).
    Built once per shape; the values are bound parameters."""
    c = conversation_t.c
    blocked = exists().where(block_t.c.shop_id == c.shop_id, block_t.c.creator_id == c.creator_id)
    shop_status = select(shop_t.c.status).where(shop_t.c.id == c.shop_id).scalar_subquery()
    previous = (select(message_t.c.id).where(message_t.c.sender_key == bindparam("sender_key"),
                                             message_t.c.client_message_id == bindparam("client_message_id"))
                .scalar_subquery() if with_key else null())
    match = ((c.shop_id == bindparam("shop"), c.creator_id == bindparam("creator")) if by_pair
             else (c.id == bindparam("conversation"),))
    return (select(conversation_t, blocked.label("blocked"), shop_status.label("shop_status"),
                   previous.label("previous_id")).where(*match).with_for_update(of=conversation_t))


async def _lock(conn: AsyncConnection, params: dict, sender_key: str | None, client_message_id: str | None):
    with_key = client_message_id is not None
    if with_key:
        params.update(sender_key=sender_key, client_message_id=client_message_id)
    return (await conn.execute(_locking_select("shop" in params, with_key), params)).first()


async def lock_conversation(conn: AsyncConnection, conversation_id: int, sender_key: str | None = None,
                            client_message_id: str | None = None):
    """The conversation row, locked until commit (see `_locking_select` for its extra columns).

    Every write to a conversation takes this lock first, so its messages get ids in commit
    order and the per-conversation counters (five before a reply) are read and bumped atomically.
    """
    return await _lock(conn, {"conversation": conversation_id}, sender_key, client_message_id)


async def lock_pair(conn: AsyncConnection, shop_id: int, creator_id: int, sender_key: str | None = None,
                    client_message_id: str | None = None):
    """The pair's conversation, locked as `lock_conversation` does, or None if there is none."""
    return await _lock(conn, {"shop": shop_id, "creator": creator_id}, sender_key, client_message_id)


async def find_conversation(conn: AsyncConnection, shop_id: int, creator_id: int):
    return (await conn.execute(select(conversation_t).where(
        conversation_t.c.shop_id == shop_id, conversation_t.c.creator_id == creator_id))).first()


async def open_conversation(conn: AsyncConnection, shop_id: int, creator_id: int, entrance: str,
                            opened_by: str, sender_key: str | None = None,
                            client_message_id: str | None = None) -> tuple[object, bool]:
    """(locked conversation, opened now) for the pair, opening it if there is none.

    An existing conversation costs one round trip. Otherwise ON CONFLICT DO NOTHING makes two
    racing opens wait on the unique pair: exactly one inserts, the other finds its row. The
    entrance is recorded only by the one that opens.
    """
    existing = await lock_pair(conn, shop_id, creator_id, sender_key, client_message_id)
    if existing is not None:
        return existing, False
    now = utcnow()
    inserted = (await conn.execute(insert_ignoring_conflicts(
        conn, conversation_t, shop_id=shop_id, creator_id=creator_id, entrance=entrance, created_at=now,
        last_activity_at=now, creator_has_replied=False, seller_message_count=0,
    ).returning(conversation_t.c.id))).scalar()
    if inserted is not None:
        # A creator does not see a conversation a seller opened until its first message.
        await conn.execute(insert(state_t), [
            dict(conversation_id=inserted, side=SELLER, owner_id=shop_id, creator_id=creator_id, visible=True,
                 last_activity_at=now),
            dict(conversation_id=inserted, side=CREATOR, owner_id=creator_id, creator_id=creator_id,
                 visible=opened_by == CREATOR, last_activity_at=now),
        ])
    locked = await lock_pair(conn, shop_id, creator_id, sender_key, client_message_id)
    return locked, inserted is not None


_INSERT_MESSAGE = insert(message_t).returning(*message_t.c)
_BUMP_CONVERSATION = update(conversation_t).where(conversation_t.c.id == bindparam("conversation")).values(
    last_message_id=bindparam("message"), last_activity_at=bindparam("now"),
    creator_has_replied=conversation_t.c.creator_has_replied | bindparam("from_creator"),
    seller_message_count=conversation_t.c.seller_message_count + bindparam("from_seller"))


async def append_message(conn: AsyncConnection, conversation, sender_role: str, content: Content, *,
                         sender_key: str | None = None, client_message_id: str | None = None,
                         client_batch_id: str | None = None):
    """Insert a message into a locked conversation and update both sides' inbox state."""
    now = utcnow()
    message = (await conn.execute(_INSERT_MESSAGE, dict(
        conversation_id=conversation.id, sender_role=sender_role, sender_key=sender_key,
        client_message_id=client_message_id, client_batch_id=client_batch_id, created_at=now,
        **content.columns()))).one()
    await conn.execute(_BUMP_CONVERSATION, {
        "conversation": conversation.id, "message": message.id, "now": now,
        "from_creator": sender_role == CREATOR, "from_seller": 1 if sender_role == SELLER else 0})
    await conn.execute(_state_update(sender_role == SYSTEM), {
        "conversation": conversation.id, "sender": sender_role, "message": message.id, "now": now})
    return message


@lru_cache(maxsize=2)
def _state_update(system: bool):
    """Both sides see the new activity; the receiver gets an unread message and an unreplied
    conversation out of ARCHIVED; the sender has read everything up to its own message.
    System notices change neither unread counts nor replied state."""
    s = state_t.c
    values = {"last_activity_at": bindparam("now"), "visible": True}
    if not system:
        receives = s.side != bindparam("sender")
        values.update(
            unread_count=case((receives, s.unread_count + 1), else_=0),
            unreplied=receives,
            archived=case((receives, False), else_=s.archived),
            last_read_message_id=case((receives, s.last_read_message_id), else_=bindparam("message", type_=BigInteger)))
    return update(state_t).where(s.conversation_id == bindparam("conversation")).values(**values)


async def lock_shop(conn: AsyncConnection, shop_id: int):
    """The shop row, locked: serialises the outreach units of one shop.

    FOR NO KEY UPDATE, not FOR UPDATE: every insert referencing the shop (a new conversation,
    an outreach unit) takes FOR KEY SHARE on it, which FOR UPDATE would wait for. Two sends
    that each opened a conversation and then locked the shop would deadlock.
    """
    query = select(Shop.__table__).where(Shop.id == shop_id).with_for_update(key_share=True)
    return (await conn.execute(query)).one()


async def is_blocked(conn: AsyncConnection, shop_id: int, creator_id: int) -> bool:
    return (await conn.execute(select(Block.creator_id).where(
        Block.shop_id == shop_id, Block.creator_id == creator_id))).first() is not None


async def get_shop(conn: AsyncConnection, shop_id: int):
    return (await conn.execute(select(Shop.__table__).where(Shop.id == shop_id))).first()


async def get_creator(conn: AsyncConnection, creator_id: int):
    return (await conn.execute(select(Creator.__table__).where(Creator.id == creator_id))).first()
