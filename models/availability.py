"""Whether an error means the database cannot be reached right now: the one test for it.

Clients get SERVICE_UNAVAILABLE (HTTP 503 with Retry-After where no GraphQL result exists yet)
for these, and retry; everything else is a bug or a refusal and keeps its own answer.

SQLAlchemy's asyncpg dialect wraps every server error (asyncpg.PostgresError) in a plain
`DBAPIError` whose `orig` carries the SQLSTATE, so the SQLSTATE decides, not the wrapper class:
- class 08, connection exception (refused at the protocol level, ConnectionDoesNotExistError
  "connection was closed in the middle of operation", ...);
- 53300 too_many_connections (TooManyConnectionsError);
- 57P01 admin_shutdown, 57P02 crash_shutdown (terminated backends: `pg_ctl stop -m fast`,
  `-m immediate`, pg_terminate_backend), 57P03 cannot_connect_now (shutting down, starting up).
Not 57014 query_canceled, a sibling under OperatorInterventionError: a statement timeout or a
cancellation is about that statement, not about the server.
Before any SQLSTATE exists, the socket fails: OSError (refused, reset, unreachable; asyncio's
TimeoutError, a connect timeout, is one too). SQLAlchemy's pool timeout (every connection taken
for `pool_timeout`) and a connection SQLAlchemy itself found disconnected and invalidated count
too, as does SQLAlchemy's OperationalError, which the asyncpg dialect never raises but SQLite
raises for a busy or locked database (and `GatedEngine.driver_connection` for a dropped one).
"""

from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

UNAVAILABLE_SQLSTATES = ("08", "53300", "57P01", "57P02", "57P03")


def is_unavailable(error: BaseException) -> bool:
    """The database cannot be reached (down, restarting, out of connections, connection lost)."""
    return any(_means_unavailable(cause) for cause in _causes(error))


def _means_unavailable(error: BaseException) -> bool:
    if isinstance(error, (OSError, PoolTimeout, OperationalError)):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATES)


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    """The error, the driver error SQLAlchemy wrapped (`orig`), and what each was raised from."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = getattr(error, "orig", None) or error.__cause__
