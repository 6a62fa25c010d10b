"""Prepared reads (fastpath/reads.py): on PostgreSQL asyncpg runs the statements built once itself,
and they must answer exactly as SQLAlchemy does, count as statements, and survive a dropped
connection. The reads here are the speed layer's whatever INBOX_FAST_PATH says."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from core.metrics import count_statements, start_counting
from fastpath.reads import DirectReads, Row, postgresql_form
from models.availability import is_unavailable
from models.database import GatedEngine, autocommit, create_engine, fetch
from services import catalog, inbox, messages
from tests.support.app import world_api
from tests.support.gql import SEND, text_to_shop


@asynccontextmanager
async def direct_reader(url: str, pool_size: int = 10) -> AsyncIterator[GatedEngine]:
    """The speed layer's reader engine on the database at `url`."""
    engine = create_engine(url, pool_size=pool_size)
    try:
        yield autocommit(DirectReads(engine))
    finally:
        await engine.dispose()


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
    far_future = datetime(2999, 1, 1, tzinfo=UTC)
    cases = [
        # constants (the side), a repeated parameter (search), a Decimal bound, an aware cursor
        (
            inbox._page_statement("SELLER", "ALL", frozenset({"search", "min_gmv"}), True),
            {"owner": 1, "search": "creator", "min_gmv": 350, "after_at": far_future, "after_id": 10**6, "limit": 10},
        ),
        (inbox._conversations_statement("SELLER", "creator_id", False), {"owner": 1, "keys": 3}),
        (inbox._counts_statement("SELLER"), {"owner": 1}),
        (messages._messages_statement(False, False, True), {"conversation": 1, "limit": 5}),
        (catalog._SHOP_STATUS, {"shop_id": 1}),
    ]
    async with direct_reader(postgres_url) as reader:
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
    async with direct_reader(postgres_url) as reader:
        direct, expected = await _answers(reader, statement, {"owner": 1, "categories": ["Tech"], "limit": 5})
    assert len(direct) == 1 and direct == expected and type(direct[0]) is not Row


async def test_direct_reads_are_counted_as_statements(postgres_url):
    async with direct_reader(postgres_url) as reader:
        seen: list[tuple] = []
        stop = reader.watch_statements(lambda statement, parameters: seen.append((statement, list(parameters))))
        count_statements(reader)  # the operation counter the metrics and the operation log read
        counter = start_counting()
        try:
            assert await fetch(reader, catalog._SHOP_STATUS, {"shop_id": 1}) == []
        finally:
            stop()
        assert seen == [(postgresql_form(catalog._SHOP_STATUS, reader.dialect).sql, [1])]
        assert counter == [1]


async def test_a_dropped_connection_is_reported_unavailable_then_replaced(postgres_url):
    async with direct_reader(postgres_url, pool_size=1) as reader:
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
