"""The anti-spam outreach rules: five messages before a reply, and the weekly allowance (GMV tiers, units in
`outreach_unit`)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.config import Tiers
from core.errors import ErrorCode, RuleViolation
from models.database import insert_ignoring_conflicts
from models.tables import outreach_t, shop_t
from models.types import utcnow

# Messages a seller may send in a conversation before the creator's first reply.
PRE_REPLY_LIMIT = 5


@dataclass(frozen=True)
class Quota:
    weekly_limit: int
    used: int
    period_start: datetime

    @property
    def remaining(self) -> int:
        return max(0, self.weekly_limit - self.used)

    @property
    def resets_at(self) -> datetime:
        return self.period_start + timedelta(days=7)


def week_start(now: datetime) -> datetime:
    """Monday 00:00 UTC of the week containing `now`."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def weekly_limit(tiers: Tiers, gmv: Decimal) -> int:
    """The limit of the first tier whose bound is above `gmv`."""
    for bound, limit in tiers:
        if bound is None or gmv < bound:
            return limit
    raise ValueError("outreach tiers must end with an unbounded tier")


async def read_quota(conn: AsyncConnection, tiers: Tiers, shop_id: int, now: datetime | None = None) -> Quota:
    """The shop's allowance for the current week."""
    start = week_start(now or utcnow())
    gmv = (await conn.execute(select(shop_t.c.affiliate_gmv_30d).where(shop_t.c.id == shop_id))).scalar_one()
    used = (
        await conn.execute(
            select(func.count())
            .select_from(outreach_t)
            .where(outreach_t.c.shop_id == shop_id, outreach_t.c.week_start == start)
        )
    ).scalar_one()
    return Quota(weekly_limit(tiers, gmv), used, start)


async def use_unit(conn: AsyncConnection, tiers: Tiers, shop_id: int, creator_id: int) -> None:
    """Record that the shop reached `creator_id` this week, or refuse at the limit.

    The caller holds the shop row lock (`lock_shop`), so concurrent sends of one shop
    count and insert one after another and can never overshoot the limit.
    """
    now = utcnow()
    start = week_start(now)
    already = (
        await conn.execute(
            select(outreach_t.c.creator_id).where(
                outreach_t.c.shop_id == shop_id, outreach_t.c.week_start == start, outreach_t.c.creator_id == creator_id
            )
        )
    ).first()
    if already:
        return
    quota = await read_quota(conn, tiers, shop_id, now)
    if quota.remaining <= 0:
        raise RuleViolation(
            ErrorCode.WEEKLY_OUTREACH_LIMIT_REACHED,
            f"Your shop has reached its weekly outreach limit of {quota.weekly_limit} creators; "
            f"it resets at {quota.resets_at.isoformat()}. Creators who already wrote to you can still be answered.",
        )
    await conn.execute(
        insert_ignoring_conflicts(
            conn, outreach_t, shop_id=shop_id, week_start=start, creator_id=creator_id, created_at=now
        )
    )


async def lock_shop(conn: AsyncConnection, shop_id: int) -> Row[Any]:
    """The shop row, locked: serialises the outreach units of one shop.

    FOR NO KEY UPDATE, not FOR UPDATE: every insert referencing the shop (a new conversation,
    an outreach unit) takes FOR KEY SHARE on it, which FOR UPDATE would wait for. Two sends
    that each opened a conversation and then locked the shop would deadlock.
    """
    query = select(shop_t).where(shop_t.c.id == shop_id).with_for_update(key_share=True)
    return (await conn.execute(query)).one()


async def check_outreach(conn: AsyncConnection, tiers: Tiers, conversation: Row[Any], kind: str) -> None:
    """The anti-spam rules of a seller's send into a locked conversation (a row of
    `conversations.lock_conversation`): at most PRE_REPLY_LIMIT messages before the creator's first
    reply, and a unit of the weekly allowance for a first outreach or a collaboration card."""
    if not conversation.creator_has_replied and conversation.seller_message_count >= PRE_REPLY_LIMIT:
        raise RuleViolation(
            ErrorCode.PRE_REPLY_LIMIT_REACHED,
            f"You can send up to {PRE_REPLY_LIMIT} messages before the creator replies; wait for their reply.",
        )
    first_outreach = conversation.seller_message_count == 0 and not conversation.creator_has_replied
    if kind == "COLLABORATION" or first_outreach:
        await lock_shop(conn, conversation.shop_id)
        await use_unit(conn, tiers, conversation.shop_id, conversation.creator_id)
