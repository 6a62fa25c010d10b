"""Fixtures: a migrated database per test on SQLite and on PostgreSQL, an app client, tokens.

PostgreSQL tests run against INBOX_TEST_POSTGRES_URL (default: the local server). When it
cannot be reached they are skipped with a clear reason, unless INBOX_REQUIRE_POSTGRES=1
(as in CI), where they fail instead. The helpers behind these fixtures are in tests/support.
"""

import asyncio
import os
import shutil

import asyncpg
import pytest
import pytest_asyncio

from core.config import Settings
from models.migrate import upgrade
from tests.support.app import JWT_SECRET, client_of, make_settings
from tests.support.postgres import PG_URL, REQUIRE_PG, admin, clone_database, dsn
from tests.support.processes import PostgresServer, RedisServer, ServerProcess, free_port, postgres_bin
from tests.support.world import build_world_at

TEMPLATE_DB = f"inbox_test_template_{os.getpid()}"


@pytest.fixture(scope="session")
def postgres_template():
    """A database migrated once per session, cloned for each test (as Synapse does)."""
    try:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"'))
        asyncio.run(admin(f'CREATE DATABASE "{TEMPLATE_DB}"'))
    except (OSError, asyncpg.PostgresError) as error:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (INBOX_REQUIRE_POSTGRES=1) but unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL} ({error}); PostgreSQL tests skipped")
    upgrade(dsn(PG_URL, TEMPLATE_DB).replace("postgresql://", "postgresql+asyncpg://"))
    yield TEMPLATE_DB
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite-template") / "inbox.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, migrated database for one test, on each backend."""
    if request.param == "postgresql":
        yield from clone_database(request.getfixturevalue("postgres_template"))
        return
    path = tmp_path / "inbox.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def postgres_url(postgres_template):
    """A fresh PostgreSQL database only, for tests that race across processes."""
    yield from clone_database(postgres_template)


@pytest.fixture
def postgres():
    """A private PostgreSQL cluster for one test, free to be stopped and started (the shared one never is)."""
    if postgres_bin() is None:
        message = "initdb not found: the PostgreSQL fault tests need PostgreSQL installed"
        if REQUIRE_PG:
            pytest.fail(f"{message} (INBOX_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    server = PostgresServer().init()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def local_cluster():
    """The multi-node topology behind a load balancer (tests/support/cluster.py), once per session."""
    from tests.support.cluster import running_cluster

    yield from running_cluster()


@pytest.fixture
def redis_server(tmp_path):
    """A private redis-server for one test, free to be killed and restarted."""
    server = RedisServer(str(tmp_path))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def server_pair(postgres_url, redis_server, tmp_path):
    """Two `server.py` processes on one fresh database and one private Redis, each with its own metrics
    port; the world imported into the database first."""
    asyncio.run(build_world_at(postgres_url))
    env = {
        "DATABASE_URL": postgres_url,
        "INBOX_JWT_SECRET": JWT_SECRET,
        "REDIS_URL": redis_server.url,
        "INBOX_DATA_DIR": str(tmp_path),
    }
    servers = [
        ServerProcess({**env, "INBOX_METRICS_PORT": str(free_port())}, tmp_path / f"server{i}.log").start()
        for i in range(2)
    ]
    yield servers
    for server in servers:
        server.stop()


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


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """Headless Chromium (tests/support/browser.py) for a module's browser tests; skipped without it, unless
    INBOX_REQUIRE_BROWSER=1."""
    from tests.support.browser import Chromium, chromium_or_skip

    browser = Chromium(chromium_or_skip(), tmp_path_factory.mktemp("chromium-profile")).start()
    yield browser
    browser.stop()


@pytest_asyncio.fixture
async def devtools(chromium):
    """A DevTools connection to `chromium`, for one test."""
    from tests.support.browser import DevTools

    connection = await DevTools.connect(chromium.devtools_url)
    yield connection
    await connection.close()


@pytest.fixture(scope="session")
def js_packages():
    """tests/js with its npm packages installed (tests/support/node.py); skipped without Node, unless
    INBOX_REQUIRE_NODE=1."""
    from tests.support.node import install_js_packages

    return install_js_packages()
