"""Fixtures: a migrated database per test on SQLite and on PostgreSQL, an app client, tokens.

PostgreSQL tests run against INBOX_TEST_POSTGRES_URL (default: the local server). When it
cannot be reached they are skipped with a clear reason, unless INBOX_REQUIRE_POSTGRES=1
(as in CI), where they fail instead.
"""

import asyncio
import os
import shutil
import uuid

import asyncpg
import pytest
import pytest_asyncio

from core.config import Settings
from models.migrate import upgrade
from tests.client import GraphQLClient
from tests.processes import RedisServer

PG_URL = os.environ.get("INBOX_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("INBOX_REQUIRE_POSTGRES") == "1"
JWT_SECRET = "test-secret-" + "x" * 32
TEMPLATE_DB = f"inbox_test_template_{os.getpid()}"


def _dsn(url: str, database: str | None = None) -> str:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    return dsn.rsplit("/", 1)[0] + f"/{database}" if database else dsn


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_dsn(PG_URL), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_template():
    """A database migrated once per session, cloned for each test (as Synapse does)."""
    try:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"'))
        asyncio.run(_admin(f'CREATE DATABASE "{TEMPLATE_DB}"'))
    except (OSError, asyncpg.PostgresError) as error:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (INBOX_REQUIRE_POSTGRES=1) but unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL} ({error}); PostgreSQL tests skipped")
    upgrade(_dsn(PG_URL, TEMPLATE_DB).replace("postgresql://", "postgresql+asyncpg://"))
    yield TEMPLATE_DB
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite-template") / "inbox.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def _postgres_clone(request):
    """A database cloned from the migrated template, dropped after the test."""
    template = request.getfixturevalue("postgres_template")
    name = f"inbox_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield _dsn(PG_URL, name).replace("postgresql://", "postgresql+asyncpg://")
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, migrated database for one test, on each backend."""
    if request.param == "postgresql":
        yield from _postgres_clone(request)
        return
    path = tmp_path / "inbox.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def postgres_url(request):
    """A fresh PostgreSQL database only, for tests that race across processes."""
    yield from _postgres_clone(request)


@pytest.fixture
def redis_server(tmp_path):
    """A private redis-server for one test, free to be killed and restarted."""
    server = RedisServer(str(tmp_path))
    server.start()
    yield server
    server.kill()


def make_settings(database_url: str, tmp_path, **overrides) -> Settings:
    # No metrics listener unless a test asks for one on a port of its own (tests run side by side).
    values = dict(data_dir=tmp_path, database_url=database_url, jwt_secret=JWT_SECRET, metrics_port=0)
    values.update(overrides)
    return Settings(**values)


@pytest_asyncio.fixture
async def engine(database_url):
    """An engine on a fresh, migrated database, for tests below the API."""
    from models.database import create_engine

    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest_asyncio.fixture
async def api(aiohttp_client, settings):
    """A GraphQL client of a running app on the test database."""
    return await client_of(aiohttp_client, settings)


async def client_of(aiohttp_client, settings: Settings) -> GraphQLClient:
    """A GraphQL client of a running app with these settings (the `api` fixture's, or a test's own)."""
    from server import APP_STATE, create_app

    app = create_app(settings)
    return GraphQLClient(await aiohttp_client(app), JWT_SECRET, app[APP_STATE])


async def world_api(aiohttp_client, database_url: str, tmp_path, **overrides) -> GraphQLClient:
    """`client_of` an app with these settings overridden, on the test world."""
    from tests.world import build_world

    api = await client_of(aiohttp_client, make_settings(database_url, tmp_path, **overrides))
    await build_world(api.engine)
    return api


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """Headless Chromium (tests/browser.py) for a module's browser tests; skipped without it, unless
    INBOX_REQUIRE_BROWSER=1."""
    from tests.browser import Chromium, chromium_or_skip

    browser = Chromium(chromium_or_skip(), tmp_path_factory.mktemp("chromium-profile")).start()
    yield browser
    browser.stop()
