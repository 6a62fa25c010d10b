"""Prepared reads: on PostgreSQL, a statement built once runs on asyncpg itself, without SQLAlchemy's
execution layers.

SQLAlchemy's Connection, execution context and Row cost about 0.1 ms of CPU per statement and
0.2 µs per attribute read; the hot reads (a messages page, a conversation, an inbox page, the badge
counts, a shop's status) run once per request and return tens of rows. So a statement marked
`models.database.built_once` is compiled once to its SQL and bound-parameter order and run with
asyncpg's `fetch`, which keeps it as a server-side prepared statement; rows come back as asyncpg
records that also read columns as attributes (`Row`), like SQLAlchemy's. Bound values get the bind
processing SQLAlchemy would apply. Inside a transaction (an AsyncConnection), for a statement with
an expanding IN list, or one whose result columns SQLAlchemy would convert, the same statement runs
through SQLAlchemy (`GatedEngine.fetch`).

A pooled connection is taken without a greenlet when one is idle (`_idle_connection`).
"""

import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import MissingGreenlet, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Executable, Select

from fastpath.identity_cache import IdentityCache
from models.availability import is_unavailable
from models.database import BUILT_ONCE, GatedEngine

# SQLAlchemy closes the connect coroutine it refuses to run outside a greenlet (see
# `DirectReads._idle_connection`); closing a coroutine never started warns, as if one were forgotten.
warnings.filterwarnings("ignore", "coroutine 'connect' was never awaited", RuntimeWarning, "sqlalchemy")


class Row(asyncpg.Record):
    """An asyncpg record that also reads columns as attributes, like SQLAlchemy's Row."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


# (parameter name, default value, bind processor or None)
Bind = tuple[str, Any, Callable[[Any], Any] | None]
Statement = Select[*tuple[Any, ...]]


@dataclass
class PostgresForm:
    sql: str
    binds: tuple[Bind, ...]  # in $n order
    direct: bool | None  # runs on asyncpg directly; None until the result types are known


# Forms by statement and dialect; a statement built once lives as long as the process, or its cache.
_FORMS: IdentityCache[PostgresForm] = IdentityCache(1024)


def postgresql_form(statement: Statement, dialect: Dialect) -> PostgresForm:
    """The statement's SQL and the order of its parameters, compiled once."""
    return _FORMS.get((statement, dialect), lambda: _compile(statement, dialect))


def _compile(statement: Statement, dialect: Dialect) -> PostgresForm:
    compiled = statement.compile(dialect=dialect)
    assert compiled.positiontup is not None, "PostgreSQL's parameters are positional ($n)"
    binds = tuple(
        (name, compiled.params[name], compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in compiled.positiontup
    )
    expanding = any(bind.expanding for bind in compiled.binds.values())
    return PostgresForm(compiled.string, binds, False if expanding else None)


def _converts_results(statement: Statement, dialect: Dialect, type_oids: list[int]) -> bool:
    """Whether SQLAlchemy would convert any result column of these PostgreSQL types."""
    return any(
        column.type.dialect_impl(dialect).result_processor(dialect, oid) is not None
        for column, oid in zip(statement.selected_columns, type_oids, strict=True)
    )


def _arguments(binds: tuple[Bind, ...], params: dict[str, Any]) -> list[Any]:
    arguments = []
    for name, default, process in binds:
        value = params.get(name, default)
        arguments.append(process(value) if process is not None and value is not None else value)
    return arguments


def gated_engine(engine: AsyncEngine) -> GatedEngine:
    """The gated engine of the speed layer: with direct reads on PostgreSQL (SQLite has no driver to
    skip to: SQLAlchemy runs everything there)."""
    return DirectReads(engine) if engine.dialect.name == "postgresql" else GatedEngine(engine)


class DirectReads(GatedEngine):
    """A gated PostgreSQL engine whose reads of statements built once run on asyncpg itself."""

    async def fetch(self, statement: Executable, params: dict[str, Any]) -> Sequence[Any]:
        if isinstance(statement, Select) and statement.get_execution_options().get(BUILT_ONCE):
            rows = await self._fetch_direct(statement, params)
            if rows is not None:
                return rows
        return await super().fetch(statement, params)

    async def _fetch_direct(self, statement: Statement, params: dict[str, Any]) -> Sequence[Row] | None:
        """The rows read by asyncpg itself, or None where SQLAlchemy must run the statement."""
        form = postgresql_form(statement, self.dialect)
        if form.direct is False:
            return None
        arguments = _arguments(form.binds, params)
        async with self._driver_connection() as conn:
            if form.direct is None:
                attributes = await _result_attributes(conn, form.sql)
                form.direct = not _converts_results(statement, self.dialect, [a.type.oid for a in attributes])
                if not form.direct:
                    return None
            for watcher in self.watchers:  # counted as SQLAlchemy's own statements are
                watcher(form.sql, arguments)
            return await conn.fetch(form.sql, *arguments, record_class=Row)

    @asynccontextmanager
    async def _driver_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection's own asyncpg connection, without SQLAlchemy's Connection around it.
        One that fails as disconnected is dropped from the pool and reported as SQLAlchemy's
        OperationalError, as SQLAlchemy's own reads are."""
        async with self._gate:
            pooled = self._idle_connection() or await self._engine.raw_connection()
            driver = pooled.driver_connection
            assert driver is not None, "a pooled connection is open"
            try:
                yield driver
            except Exception as error:
                if not _is_disconnect(error, driver):
                    raise
                # No I/O outside a greenlet: SQLAlchemy terminates the asyncpg connection at once.
                pooled.invalidate(error)
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
        if not self.sync_engine.pool.checkedin():  # type: ignore[attr-defined]  # a QueuePool's
            return None
        try:
            return self.sync_engine.raw_connection()
        except MissingGreenlet:
            return None


async def _result_attributes(conn: asyncpg.Connection, sql: str) -> Sequence[Any]:
    """The result columns of a statement, from an unnamed prepared statement: behind PgBouncer in
    transaction mode (INBOX_DB_POOLER=pgbouncer) a named one may be unknown to the next server
    connection, and asyncpg's numbered names may be taken on one shared with another client."""
    return (await conn.prepare(sql, name="")).get_attributes()


def _is_disconnect(error: Exception, driver: asyncpg.Connection) -> bool:
    """Whether a connection is gone (server stopped or restarted, backend terminated, network cut),
    or its protocol state broke (a backend terminated just as a statement was sent: "cannot switch
    to state 12; another operation is in progress")."""
    return is_unavailable(error) or driver.is_closed() or isinstance(error, asyncpg.exceptions.InternalClientError)
