"""Engine creation and the few statements whose SQL differs between the two databases."""

import asyncio
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.exc import MissingGreenlet, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.sql.dml import Insert
from sqlalchemy.util import greenlet_spawn

from models.availability import is_unavailable

if TYPE_CHECKING:
    from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection

# SQLAlchemy closes the connect coroutine it refuses to run outside a greenlet (see
# `GatedEngine._idle_connection`); closing a coroutine never started warns, as if one were forgotten.
warnings.filterwarnings("ignore", "coroutine 'connect' was never awaited", RuntimeWarning,
                        "sqlalchemy")



def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and write-ahead locking."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=0,
        connect_args={"server_settings": {"jit": "off", "plan_cache_mode": "force_generic_plan"}})


class GatedEngine:
    """An AsyncEngine whose pooled connections are handed out in arrival order.

    When SQLAlchemy's async pool is exhausted, a returned connection goes to whichever task asks
    next, and a waiter that loses it queues again at the back (asyncio.Queue), so under load a
    few requests wait for seconds; each wait also costs a task (`asyncio.wait_for`). Waiting on
    a fair semaphore sized to the pool first means the pool itself never waits.
    Everything but `connect` and `begin` is the engine's own.
    """

    def __init__(self, engine: AsyncEngine, gate: asyncio.Semaphore | None = None) -> None:
        self._engine = engine
        # A QueuePool's size and checkedin (create_engine's engines pool with one).
        self._gate = gate or asyncio.Semaphore(engine.sync_engine.pool.size())  # type: ignore[attr-defined]
        # Read on every statement: plain attributes, not `__getattr__` and AsyncEngine's properties.
        self.dialect, self.sync_engine = engine.dialect, engine.sync_engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self._gate, self._engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        async with self._gate, self._engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection's own asyncpg connection, without SQLAlchemy's Connection around it
        (PostgreSQL only; see `models.prepared`). One that fails as disconnected is dropped from
        the pool and reported as SQLAlchemy's OperationalError, as SQLAlchemy's own reads are."""
        async with self._gate:
            pooled = self._idle_connection() or await self._engine.raw_connection()
            driver = pooled.driver_connection
            assert driver is not None, "a pooled connection is open"
            try:
                yield driver
            except Exception as error:
                if not _is_disconnect(error, driver):
                    raise
                await greenlet_spawn(pooled.invalidate, error)
                raise OperationalError("driver_connection", None, error, connection_invalidated=True) from error
            finally:
                pooled.close()

    def _idle_connection(self) -> PoolProxiedConnection | None:
        """A pooled connection taken without a greenlet, or None.

        SQLAlchemy's async engine takes every connection inside a greenlet, in case the pool must
        connect first; that costs 30 µs of a messages page's 470 (in process). Past the gate an
        idle connection is almost always there, and taking it does no I/O. Where the pool holds
        none, None at once; where the idle one must reconnect (it was invalidated), SQLAlchemy
        refuses the I/O outside a greenlet (MissingGreenlet) before starting it, and returns the
        connection to the pool: None too, and the caller takes the greenlet path."""
        if not self.sync_engine.pool.checkedin():  # type: ignore[attr-defined]
            return None
        try:
            return self.sync_engine.raw_connection()
        except MissingGreenlet:
            return None

    def execution_options(self, **options: Any) -> "GatedEngine":
        """The same engine with other options, behind the same gate (they share the pool)."""
        return GatedEngine(self._engine.execution_options(**options), self._gate)


def _is_disconnect(error: Exception, driver: asyncpg.Connection) -> bool:
    """Whether a connection is gone (server stopped or restarted, backend terminated, network cut),
    or its protocol state broke (a backend terminated just as a statement was sent: "cannot switch
    to state 12; another operation is in progress")."""
    return (is_unavailable(error) or driver.is_closed()
            or isinstance(error, asyncpg.exceptions.InternalClientError))


def autocommit(engine: GatedEngine) -> GatedEngine:
    """The engine for single-statement reads: on PostgreSQL without BEGIN/ROLLBACK round trips.

    SQLite keeps its transactions: its write lock is taken in the BEGIN this would skip.
    """
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _sqlite_engine(url: str) -> AsyncEngine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # One connection per process: SQLite has a single writer anyway, and serialising here
    # turns every transaction into a critical section, so the business rules hold in-process.
    engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: "AsyncAdapt_aiosqlite_connection", _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below drive transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # SQLite's own lower() folds ASCII only; searches must fold "É" to "é" as PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: SyncConnection) -> None:
        # IMMEDIATE takes the write lock up front, so two processes cannot both read
        # a quota and then both write (deferred transactions would fail with SQLITE_BUSY).
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def insert_ignoring_conflicts(conn: AsyncConnection, table: Table, **values: Any) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING, in the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).values(**values).on_conflict_do_nothing()


def upsert(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], key: str, update: list[str]) -> Insert:
    """INSERT ... ON CONFLICT (key) DO UPDATE of the given columns."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(rows)
    return stmt.on_conflict_do_update(
        index_elements=[key], set_={name: stmt.excluded[name] for name in update})
