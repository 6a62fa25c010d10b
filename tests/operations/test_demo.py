"""Demo data: every invariant the API relies on holds, on both databases."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, func, insert, select, text

from commands.demo import (
    CATEGORIES,
    MAX_SCALE,
    database_is_empty,
    platform_data,
    seed_demo,
)
from core.config import DEFAULT_TIERS
from models import Message, TargetCollaboration
from models.types import UtcDateTime, utcnow
from services.outreach import week_start, weekly_limit

OTHER_SIDE = "CASE s.side WHEN 'SELLER' THEN 'CREATOR' ELSE 'SELLER' END"

# Each query counts the rows that break one invariant.
VIOLATIONS = {
    "conversation pair is unique": """
        SELECT count(*) - count(DISTINCT shop_id || '-' || creator_id) FROM conversation""",
    "entrance is known": """
        SELECT count(*) FROM conversation WHERE entrance NOT IN ('CREATOR_MESSAGES', 'FIND_CREATORS',
            'TARGETED_PLAN', 'SAMPLE_REQUEST', 'BULK_MESSAGE', 'CREATOR_INITIATED')""",
    "last_message_id is the newest message": """
        SELECT count(*) FROM conversation c WHERE coalesce(c.last_message_id, 0)
            <> coalesce((SELECT max(id) FROM message m WHERE m.conversation_id = c.id), 0)""",
    "last_activity_at is the newest message time or created_at": """
        SELECT count(*) FROM conversation c WHERE c.last_activity_at <> coalesce(
            (SELECT max(created_at) FROM message m WHERE m.conversation_id = c.id), c.created_at)""",
    "created_at is not after the first message": """
        SELECT count(*) FROM message m JOIN conversation c ON c.id = m.conversation_id
        WHERE m.created_at < c.created_at""",
    "creator_has_replied": """
        SELECT count(*) FROM conversation c WHERE c.creator_has_replied <> EXISTS (
            SELECT 1 FROM message m WHERE m.conversation_id = c.id AND m.sender_role = 'CREATOR'
            AND m.kind IN ('TEXT', 'SAMPLE_REQUEST'))""",
    "seller_message_count": """
        SELECT count(*) FROM conversation c WHERE c.seller_message_count
            <> (SELECT count(*) FROM message m WHERE m.conversation_id = c.id AND m.sender_role = 'SELLER')""",
    "message ids grow with time in a conversation": """
        SELECT count(*) FROM (SELECT created_at, lag(created_at) OVER (
            PARTITION BY conversation_id ORDER BY id) AS previous FROM message) t
        WHERE previous > created_at""",
    "message content matches its kind": """
        SELECT count(*) FROM message m JOIN conversation c ON c.id = m.conversation_id
        LEFT JOIN product p ON p.id = m.product_id
        LEFT JOIN target_collaboration t ON t.id = m.collaboration_id
        LEFT JOIN sample_request s ON s.id = m.sample_request_id
        WHERE NOT coalesce(
            (m.kind = 'TEXT' AND m.sender_role IN ('SELLER', 'CREATOR') AND m.text IS NOT NULL
             AND m.product_id IS NULL AND m.collaboration_id IS NULL AND m.sample_request_id IS NULL
             AND m.notice_code IS NULL)
            OR (m.kind = 'PRODUCT' AND m.sender_role = 'SELLER' AND p.shop_id = c.shop_id AND m.text IS NULL)
            OR (m.kind = 'COLLABORATION' AND m.sender_role = 'SELLER' AND t.shop_id = c.shop_id
                AND t.status = 'ACTIVE')
            OR (m.kind = 'SAMPLE_REQUEST' AND m.sender_role = 'CREATOR' AND s.conversation_id = c.id)
            OR (m.kind = 'NOTICE' AND m.sender_role = 'SYSTEM' AND m.text IS NOT NULL AND m.notice_code IN
                ('CREATOR_BLOCKED', 'CREATOR_UNBLOCKED', 'SAMPLE_APPROVED', 'SAMPLE_REJECTED')), false)""",
    "sender_key and client_message_id": """
        SELECT count(*) FROM message m JOIN conversation c ON c.id = m.conversation_id
        WHERE coalesce(m.sender_key, '') <> CASE m.sender_role WHEN 'SELLER' THEN 'shop:' || c.shop_id
                                              WHEN 'CREATOR' THEN 'creator:' || c.creator_id ELSE '' END
           OR (m.sender_role = 'SYSTEM') <> (m.client_message_id IS NULL)""",
    "at most five seller messages before the creator's first": """
        SELECT count(*) FROM conversation c WHERE (
            SELECT count(*) FROM message m WHERE m.conversation_id = c.id AND m.sender_role = 'SELLER'
            AND m.id < coalesce((SELECT min(id) FROM message x WHERE x.conversation_id = c.id
                                 AND x.sender_role = 'CREATOR'), 9223372036854775807)) > 5""",
    "two state rows per conversation, one per side and owner": """
        SELECT count(*) FROM conversation c WHERE (SELECT count(*) FROM conversation_state s
            WHERE s.conversation_id = c.id AND ((s.side = 'SELLER' AND s.owner_id = c.shop_id)
                                             OR (s.side = 'CREATOR' AND s.owner_id = c.creator_id))) <> 2
        UNION ALL SELECT count(*) - 2 * (SELECT count(*) FROM conversation) FROM conversation_state""",
    "each state row carries its conversation's creator": """
        SELECT count(*) FROM conversation_state s JOIN conversation c ON c.id = s.conversation_id
        WHERE s.creator_id <> c.creator_id""",
    "state visibility and activity": """
        SELECT count(*) FROM conversation_state s JOIN conversation c ON c.id = s.conversation_id
        WHERE s.visible <> (s.side = 'SELLER' OR c.last_message_id IS NOT NULL)
           OR s.last_activity_at <> c.last_activity_at""",
    "read position is 0 or a message of the conversation": """
        SELECT count(*) FROM conversation_state s WHERE s.last_read_message_id <> 0 AND NOT EXISTS (
            SELECT 1 FROM message m WHERE m.id = s.last_read_message_id AND m.conversation_id = s.conversation_id)""",
    "unread_count counts the other side's messages after the read position": f"""
        SELECT count(*) FROM conversation_state s WHERE s.unread_count <> (
            SELECT count(*) FROM message m WHERE m.conversation_id = s.conversation_id
            AND m.id > s.last_read_message_id AND m.sender_role = {OTHER_SIDE})""",
    "unreplied: the newest non-system message is from the other side": f"""
        SELECT count(*) FROM conversation_state s WHERE s.unreplied <> coalesce((
            SELECT m.sender_role FROM message m WHERE m.conversation_id = s.conversation_id
            AND m.sender_role <> 'SYSTEM' ORDER BY m.id DESC LIMIT 1) = {OTHER_SIDE}, false)""",
    "sample request matches its conversation, product and card": """
        SELECT count(*) FROM sample_request r JOIN conversation c ON c.id = r.conversation_id
        JOIN product p ON p.id = r.product_id
        WHERE r.shop_id <> c.shop_id OR r.creator_id <> c.creator_id OR p.shop_id <> r.shop_id
           OR r.status NOT IN ('PENDING', 'APPROVED', 'REJECTED')
           OR (r.status = 'PENDING') <> (r.decided_at IS NULL)
           OR (r.reject_reason IS NOT NULL AND r.status <> 'REJECTED')
           OR NOT EXISTS (SELECT 1 FROM message m WHERE m.sample_request_id = r.id
                          AND m.conversation_id = c.id AND m.created_at = r.created_at)""",
    "a decided sample has its notice after the card": """
        SELECT count(*) FROM sample_request r WHERE r.status <> 'PENDING' AND NOT EXISTS (
            SELECT 1 FROM message n JOIN message card ON card.conversation_id = r.conversation_id
                                                      AND card.sample_request_id = r.id
            WHERE n.conversation_id = r.conversation_id AND n.id > card.id AND n.created_at = r.decided_at
            AND n.notice_code = CASE r.status WHEN 'APPROVED' THEN 'SAMPLE_APPROVED' ELSE 'SAMPLE_REJECTED' END)""",
    "collaborations: 2-4 a shop, rate 0.05-0.30, products of the shop at positions 0..n": """
        SELECT count(*) FROM shop s WHERE (SELECT count(*) FROM target_collaboration t
                                           WHERE t.shop_id = s.id) NOT BETWEEN 2 AND 4
        UNION ALL SELECT count(*) FROM target_collaboration t
        WHERE t.commission_rate NOT BETWEEN 0.05 AND 0.30 OR t.status NOT IN ('ACTIVE', 'ENDED')
           OR NOT EXISTS (SELECT 1 FROM collaboration_product cp WHERE cp.collaboration_id = t.id)
           OR (SELECT max(position) + 1 - count(*) FROM collaboration_product cp
               WHERE cp.collaboration_id = t.id) <> 0
           OR (SELECT min(position) FROM collaboration_product cp WHERE cp.collaboration_id = t.id) <> 0
        UNION ALL SELECT count(*) FROM collaboration_product cp
        JOIN target_collaboration t ON t.id = cp.collaboration_id JOIN product p ON p.id = cp.product_id
        WHERE p.shop_id <> t.shop_id""",
    "a blocked creator's conversation ends with the CREATOR_BLOCKED notice": """
        SELECT count(*) FROM block b JOIN conversation c ON c.shop_id = b.shop_id AND c.creator_id = b.creator_id
        JOIN message m ON m.id = c.last_message_id WHERE coalesce(m.notice_code, '') <> 'CREATOR_BLOCKED'""",
    "a CREATOR_BLOCKED notice is the last one only while the block holds": """
        SELECT count(*) FROM conversation c JOIN message m ON m.id = (
            SELECT max(id) FROM message n WHERE n.conversation_id = c.id AND n.notice_code LIKE 'CREATOR_%')
        WHERE (m.notice_code = 'CREATOR_BLOCKED') <> EXISTS (
            SELECT 1 FROM block b WHERE b.shop_id = c.shop_id AND b.creator_id = c.creator_id)""",
    # The demo's texts are English (and emoji): lower() folds them as core.text.fold does.
    "text messages, and they only, have their folded search row, of their conversation's parties": """
        SELECT count(*) FROM message m JOIN conversation c ON c.id = m.conversation_id
        LEFT JOIN message_search s ON s.message_id = m.id
        WHERE (m.kind = 'TEXT') <> (s.message_id IS NOT NULL) OR s.conversation_id <> m.conversation_id
           OR s.shop_id <> c.shop_id OR s.creator_id <> c.creator_id OR s.body <> lower(m.text)""",
    "every creator has its folded search row": """
        SELECT count(*) FROM creator c LEFT JOIN creator_search s ON s.creator_id = c.id
        WHERE s.creator_id IS NULL OR s.handle <> lower(c.handle) OR s.display_name <> lower(c.display_name)""",
}


async def _scalars(conn, sql: str, **params) -> list:
    return list((await conn.execute(text(sql), params)).scalars())


async def _count_rows(conn, table: str) -> int:
    return (await _scalars(conn, f"SELECT count(*) FROM {table}"))[0]


async def _folders(conn, side: str, owner_id: int) -> dict[str, int]:
    """How many conversations each inbox folder holds for one owner."""
    conditions = {
        "ALL": "NOT archived",
        "UNREAD": "NOT archived AND unread_count > 0",
        "UNREPLIED": "NOT archived AND unreplied",
        "STARRED": "starred",
        "ARCHIVED": "archived",
    }
    return {
        folder: (
            await _scalars(
                conn,
                f"SELECT count(*) FROM conversation_state WHERE side = :side"
                f" AND owner_id = :owner AND visible AND {condition}",
                side=side,
                owner=owner_id,
            )
        )[0]
        for folder, condition in conditions.items()
    }


async def test_seed_demo_builds_a_consistent_marketplace(engine):
    assert await database_is_empty(engine)

    summary = await seed_demo(engine, scale=1, progress=False)

    assert not await database_is_empty(engine)
    assert (summary.shop, summary.creator, summary.conversation, summary.conversation_state) == (7, 2000, 1500, 3000)
    assert 12_000 <= summary.message <= 18_000
    assert summary.block > 0 and summary.sample_request > 0 and summary.outreach_unit > 0
    # One seeded database serves every read-only check: seeding is the slow part.
    async with engine.connect() as conn:
        broken = {name: counts for name, sql in VIOLATIONS.items() if any(counts := await _scalars(conn, sql))}
        assert broken == {}
        await _check_folders(conn)
        await _check_platform(conn)
        await _check_outreach(conn)


async def _check_folders(conn) -> None:
    """Every folder has content for shop s1 and creator c1, who talks to several shops."""
    shop_ids = dict((await conn.execute(text("SELECT platform_id, id FROM shop"))).all())
    c1 = (await _scalars(conn, "SELECT id FROM creator WHERE platform_id = 'c1'"))[0]
    seller, creator = await _folders(conn, "SELLER", shop_ids["s1"]), await _folders(conn, "CREATOR", c1)
    assert all(seller.values()) and all(creator.values()), (seller, creator)
    assert seller["ALL"] + seller["ARCHIVED"] == 750 and seller["UNREAD"] > 0.2 * seller["ALL"]
    c1_shops = await _scalars(conn, "SELECT shop_id FROM conversation WHERE creator_id = :c", c=c1)
    assert shop_ids["s1"] in c1_shops and len(c1_shops) >= 3


async def _check_platform(conn) -> None:
    """GMV tiers, Glow Lab, reach and categories, empty chats, and the time span."""
    shops = {
        pid: (name, status, Decimal(gmv))
        for pid, name, status, gmv in await conn.execute(
            text("SELECT platform_id, name, status, affiliate_gmv_30d FROM shop")
        )
    }
    assert shops["s1"][0] == "Glow Lab" and 10_000 <= shops["s1"][2] < 100_000
    active = sorted(gmv for _, status, gmv in shops.values() if status == "ACTIVE")
    assert [weekly_limit(DEFAULT_TIERS, gmv) for gmv in active] == [10, 50, 200, 200, 500, 500]
    assert "SUSPENDED" in {status for _, status, _ in shops.values()}
    followers = await _scalars(conn, "SELECT follower_count FROM creator")
    assert 1000 <= min(followers) and max(followers) <= 5_000_000 and max(followers) > 500_000
    assert set(await _scalars(conn, "SELECT DISTINCT main_category FROM creator")) == set(CATEGORIES)
    empty = (await _scalars(conn, "SELECT count(*) FROM conversation WHERE last_message_id IS NULL"))[0]
    assert 0 < empty < 60
    newest, oldest = (await conn.execute(select(func.max(Message.created_at), func.min(Message.created_at)))).one()
    assert utcnow() - timedelta(minutes=10) < newest < utcnow()
    assert oldest > utcnow() - timedelta(days=91)


async def _check_outreach(conn) -> None:
    """One unit per seller-opened chat whose first message is this week; every shop under its limit."""
    start = week_start(utcnow())
    week = bindparam("w", type_=UtcDateTime)  # stored as naive UTC on SQLite
    units = set(
        await conn.execute(
            text("SELECT shop_id, creator_id FROM outreach_unit WHERE week_start = :w").bindparams(week), {"w": start}
        )
    )
    opened = set(
        await conn.execute(
            text(
                "SELECT c.shop_id, c.creator_id FROM conversation c WHERE c.entrance NOT IN "
                "('CREATOR_INITIATED', 'SAMPLE_REQUEST') AND (SELECT min(created_at) FROM message m "
                "WHERE m.conversation_id = c.id) >= :w"
            ).bindparams(week),
            {"w": start},
        )
    )
    assert units == opened and await _count_rows(conn, "outreach_unit") == len(units)
    for shop_id, gmv in await conn.execute(text("SELECT id, affiliate_gmv_30d FROM shop")):
        assert sum(shop == shop_id for shop, _ in units) < weekly_limit(DEFAULT_TIERS, Decimal(gmv))


async def test_seeded_database_takes_new_rows_but_no_second_seed(engine):  # noqa: F811
    await seed_demo(engine, scale=1, progress=False)

    async with engine.begin() as conn:
        shop_id = await conn.scalar(text("SELECT id FROM shop WHERE platform_id = 's1'"))
        collaboration = await conn.execute(
            insert(TargetCollaboration).values(
                shop_id=shop_id, name="New", commission_rate=Decimal("0.1"), status="ACTIVE", created_at=utcnow()
            )
        )
        message = await conn.execute(
            insert(Message).values(conversation_id=1, sender_role="SELLER", kind="TEXT", text="hi", created_at=utcnow())
        )
        # The demo's explicit ids run 1..n, so the sequences must hand out the new counts.
        assert collaboration.inserted_primary_key[0] == await _count_rows(conn, "target_collaboration")
        assert message.inserted_primary_key[0] == await _count_rows(conn, "message")
        messages = await _count_rows(conn, "message")

    with pytest.raises(ValueError, match="empty database"):
        await seed_demo(engine, scale=1, progress=False)

    async with engine.connect() as conn:
        assert await _count_rows(conn, "message") == messages


def test_platform_data_is_reproducible():
    assert platform_data(random.Random(7), 1) == platform_data(random.Random(7), 1)
    assert platform_data(random.Random(7), 1) != platform_data(random.Random(8), 1)


async def test_scale_is_bounded():
    with pytest.raises(ValueError, match=f"between 1 and {MAX_SCALE}"):
        await seed_demo(None, scale=MAX_SCALE + 1)
