"""The per-request context: the app's shared resources, the viewer and fresh loaders."""

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from core.config import Settings
from core.errors import Unauthenticated
from core.sockets import SocketLease
from core.viewer import Viewer
from models.database import GatedEngine
from resolvers.loaders import Loaders
from services.runtime import Runtime


@dataclass
class Context:
    """One HTTP request's context, or one WebSocket connection's (viewer set at connection_init).

    `authenticated` is None only where nothing reads the viewer: anonymous introspection in
    development, and a WebSocket before its connection_init (schema/view.py)."""

    app: Runtime
    authenticated: Viewer | None
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    socket: SocketLease | None = None  # a WebSocket's, once authenticated
    request_id: str = ""
    read_after: int | None = None  # the WAL position of the client's last write (its Inbox-Read-After header)
    _loaders: Loaders | None = field(init=False, default=None, repr=False)
    _reader: GatedEngine | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        if self.authenticated is not None:
            self.refresh_loaders()

    @property
    def viewer(self) -> Viewer:
        """The authenticated viewer, whom every resolver serves."""
        if self.authenticated is None:
            raise Unauthenticated("Send an Authorization: Bearer <token> header.")
        return self.authenticated

    @property
    def loaders(self) -> Loaders:
        """The viewer's loaders (see `refresh_loaders`)."""
        if self._loaders is None:
            raise Unauthenticated("Send an Authorization: Bearer <token> header.")
        return self._loaders

    def refresh_loaders(self) -> None:
        """Fresh loaders: per request, and per delivered event on a long-lived WebSocket."""
        self._loaders = Loaders(self.reader, self.viewer)

    @property
    def principal(self) -> str:
        """The viewer's principal; "anonymous" for the one thing that runs without a viewer,
        introspection in development (schema/view.py)."""
        return self.authenticated.principal if self.authenticated is not None else "anonymous"

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @property
    def reader(self) -> GatedEngine:
        """The engine of single-statement reads (see `models.database.fetch`): the primary's, or the
        replica's for a query that `read_from_replica` sent there."""
        return self._reader or self.app.reader

    def read_from_replica(self) -> None:
        """A query over HTTP: read it from the replica if one keeps up and has replayed the client's last
        write. WebSockets read the primary: a subscription's replay must not miss what was just written."""
        if self.app.replica is None or self.socket is not None or self.connection_params is not None:
            return
        reader = self.app.replica.reader_after(self.read_after)
        if reader is not self.reader:
            self._reader = reader
            if self.authenticated is not None:
                self.refresh_loaders()

    def connect(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A pooled connection for one read: `async with ctx.connect() as conn`."""
        return self.reader.connect()
