"""Engine creation, the read function, and the few statements whose SQL differs between the two databases."""

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert

if TYPE_CHECKING:
    from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection

# The execution option that marks a statement built once for many requests (`built_once`).
BUILT_ONCE = "inbox_built_once"
StatementT = TypeVar("StatementT", bound=Executable)
# Called with each statement's SQL and its parameters as the driver gets them (`GatedEngine.watch_statements`).
StatementWatcher = Callable[[str, Sequence[Any]], None]


def create_engine(url: str, pool_size: int = 10, pooler: str | None = None) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and write-ahead locking. Behind PgBouncer
    (`pooler="pgbouncer"`, transaction mode), see `_PGBOUNCER_ARGS`."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    connect_args = _PGBOUNCER_ARGS if pooler == "pgbouncer" else _DIRECT_ARGS
    return create_async_engine(url, pool_size=pool_size, max_overflow=0, connect_args=connect_args)


_DIRECT_ARGS: dict[str, Any] = {"server_settings": {"jit": "off", "plan_cache_mode": "force_generic_plan"}}
# PgBouncer in transaction mode gives each transaction (each statement, outside one) whichever server
# connection is free, so no named prepared statement may be relied on: no statement cache, and the
# statements SQLAlchemy prepares (to read their result columns) are unnamed (asyncpg's numbered names
# would collide with another client's on a shared server connection, and never be deallocated). With no
# cache, asyncpg parses an unnamed statement again in the same Sync as its Bind and Execute, which
# PgBouncer keeps on one server connection. And no startup settings: PgBouncer 1.18 refuses unknown
# ones (the database's own settings carry them, `ALTER DATABASE ... SET`).
_PGBOUNCER_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": lambda: "",
}


class GatedEngine:
    """An AsyncEngine whose pooled connections are handed out in arrival order.

    When SQLAlchemy's async pool is exhausted, a returned connection goes to whichever task asks
    next, and a waiter that loses it queues again at the back (asyncio.Queue), so under load a
    few requests wait for seconds; each wait also costs a task (`asyncio.wait_for`). Waiting on
    a fair semaphore sized to the pool first means the pool itself never waits.
    Everything but `connect`, `begin` and `fetch` is the engine's own.
    """

    def __init__(
        self, engine: AsyncEngine, gate: asyncio.Semaphore | None = None, watchers: list[StatementWatcher] | None = None
    ) -> None:
        self._engine = engine
        # A QueuePool's size and checkedin (create_engine's engines pool with one).
        self._gate = gate or asyncio.Semaphore(engine.sync_engine.pool.size())  # type: ignore[attr-defined]
        # Read on every statement: plain attributes, not `__getattr__` and AsyncEngine's properties.
        self.dialect, self.sync_engine = engine.dialect, engine.sync_engine
        self.watchers = [] if watchers is None else watchers  # see `watch_statements`

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

    async def fetch(self, statement: Executable, params: dict[str, Any]) -> Sequence[Any]:
        """The rows of one statement, read on a pooled connection of its own."""
        async with self.connect() as conn:
            return (await conn.execute(statement, params)).all()

    def watch_statements(self, watcher: StatementWatcher) -> Callable[[], None]:
        """Call `watcher` with every statement this engine (and the engines made from it by
        `execution_options`) runs, until the function returned is called. Where a subclass runs a
        statement without SQLAlchemy, it calls `watchers` itself."""

        def before_cursor_execute(
            _conn: SyncConnection, _cursor: Any, statement: str, parameters: Sequence[Any], *_rest: Any
        ) -> None:
            watcher(statement, parameters)

        event.listen(self.sync_engine, "before_cursor_execute", before_cursor_execute)
        self.watchers.append(watcher)

        def stop() -> None:
            event.remove(self.sync_engine, "before_cursor_execute", before_cursor_execute)
            self.watchers.remove(watcher)

        return stop

    def execution_options(self, **options: Any) -> "GatedEngine":
        """The same engine with other options, behind the same gate (they share the pool) and watched alike."""
        return type(self)(self._engine.execution_options(**options), self._gate, self.watchers)


def built_once(statement: StatementT) -> StatementT:
    """Mark a statement built once and run by many requests (a module constant, or one of a cached
    builder's): the speed layer (fastpath/reads.py) may keep it prepared. SQLAlchemy runs it as any other."""
    return statement.execution_options(**{BUILT_ONCE: True})


async def fetch(
    db: GatedEngine | AsyncConnection, statement: Executable, params: dict[str, Any] | None = None
) -> Sequence[Any]:
    """The rows of a statement, read with `db`: the reader engine (one pooled connection for this
    statement) or a connection already held (a transaction's)."""
    if isinstance(db, AsyncConnection):
        return (await db.execute(statement, params or {})).all()
    return await db.fetch(statement, params or {})


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
    return stmt.on_conflict_do_update(index_elements=[key], set_={name: stmt.excluded[name] for name in update})
