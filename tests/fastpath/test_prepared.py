"""Prepared reads (`models.prepared`): on PostgreSQL asyncpg runs them itself, and they must
answer exactly as SQLAlchemy does, count as statements, and survive a dropped connection."""

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from models.availability import is_unavailable
from models.database import GatedEngine, autocommit, create_engine
from models.prepared import Row, fetch
from services import catalog, inbox, messages
from tests.support.app import world_api
from tests.support.gql import SEND, text_to_shop


async def _answers(reader, statement, params) -> tuple[Sequence, Sequence]:
    """(rows read directly, rows read through SQLAlchemy) of one statement."""
    direct = await fetch(reader, statement, params)
    async with reader.connect() as conn:
        expected = await fetch(conn, statement, params)
    return direct, expected


async def test_direct_reads_answer_as_sqlalchemy_does(aiohttp_client, postgres_url, tmp_path):
    api = await world_api(aiohttp_client, postgres_url, tmp_path)
    for creator in (3, 4, 5, 7):
        body = await api.query(SEND, text_to_shop(1, f"Hi from {creator}", f"k{creator}"), as_=f"creator:c{creator}")
        assert body["sendMessage"]["userErrors"] == []
    reader = api.runtime.reader
    far_future = datetime(2999, 1, 1, tzinfo=UTC)
    cases = [
        # constants (the side), a repeated parameter (search), a Decimal bound, an aware cursor
        (inbox._page_statement("SELLER", "ALL", frozenset({"search", "min_gmv"}), True),
         {"owner": 1, "search": "creator", "min_gmv": 350, "after_at": far_future, "after_id": 10**6, "limit": 10}),
        (inbox._conversations_statement("SELLER", "creator_id", False), {"owner": 1, "keys": 3}),
        (inbox._counts_statement("SELLER"), {"owner": 1}),
        (messages._messages_statement(False, False, True), {"conversation": 1, "limit": 5}),
        (catalog._SHOP_STATUS, {"shop_id": 1}),
    ]
    for statement, params in cases:
        direct, expected = await _answers(reader, statement, params)
        assert direct and all(type(row) is Row for row in direct), "read by asyncpg itself"
        assert [tuple(row) for row in direct] == [tuple(row) for row in expected]
    page, _ = await _answers(reader, *cases[0])
    assert [row.handle for row in page] == ["creator7", "creator5", "creator4"]  # gmv >= 350, newest first


async def test_expanding_lists_go_through_sqlalchemy(aiohttp_client, postgres_url, tmp_path):
    api = await world_api(aiohttp_client, postgres_url, tmp_path)
    await api.query(SEND, text_to_shop(1, "Hi", "k1"), as_="creator:c2")
    statement = inbox._page_statement("SELLER", "ALL", frozenset({"categories"}), False)
    direct, expected = await _answers(api.runtime.reader, statement, {"owner": 1, "categories": ["Tech"],
                                                                     "limit": 5})
    assert len(direct) == 1 and direct == expected and type(direct[0]) is not Row


async def test_direct_reads_are_counted_as_statements(aiohttp_client, postgres_url, tmp_path):
    api = await world_api(aiohttp_client, postgres_url, tmp_path)
    with api.count_statements() as statements:
        await catalog.shop_status(api.runtime.reader, 1)
    assert statements == [catalog._SHOP_STATUS.postgresql_form(api.runtime.reader.dialect).sql]


async def test_a_dropped_connection_is_reported_unavailable_then_replaced(postgres_url):
    engine = create_engine(postgres_url, pool_size=1)
    reader = autocommit(GatedEngine(engine))
    try:
        assert await fetch(reader, catalog._SHOP_STATUS, {"shop_id": 1}) == []  # no shops: no rows
        async with reader.connect() as conn:
            backend = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        killer = create_engine(postgres_url)
        async with killer.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        await killer.dispose()
        with pytest.raises(OperationalError) as error:
            await fetch(reader, catalog._SHOP_STATUS, {"shop_id": 1})
        assert is_unavailable(error.value)
        assert await fetch(reader, catalog._SHOP_STATUS, {"shop_id": 1}) == []  # a new connection answers
    finally:
        await engine.dispose()
