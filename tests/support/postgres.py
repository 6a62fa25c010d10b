"""The shared PostgreSQL server of the tests (INBOX_TEST_POSTGRES_URL), and commands run on it."""

import asyncio
import os
import uuid
from collections.abc import Iterator

import asyncpg

PG_URL = os.environ.get("INBOX_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("INBOX_REQUIRE_POSTGRES") == "1"


def dsn(url: str, database: str | None = None) -> str:
    """The asyncpg DSN of an SQLAlchemy URL, or of another database on the same server."""
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    return plain.rsplit("/", 1)[0] + f"/{database}" if database else plain


async def admin(sql: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the server's default database."""
    conn = await asyncpg.connect(dsn(PG_URL), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def clone_database(template: str) -> Iterator[str]:
    """The URL of a new database cloned from `template`, dropped when the generator is closed."""
    name = f"inbox_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield dsn(PG_URL, name).replace("postgresql://", "postgresql+asyncpg://")
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
