"""The per-request context: the app's shared resources, the viewer and fresh loaders."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from core.config import Settings
from core.sockets import SocketLease
from core.viewer import Viewer
from models.database import GatedEngine
from resolvers.loaders import Loaders
from services.runtime import Runtime


@dataclass
class Context:
    """One HTTP request's context, or one WebSocket connection's (viewer set at connection_init)."""

    app: Runtime
    viewer: Viewer | None
    request: Any = None
    response: Any = None
    connection_params: dict | None = None
    socket: SocketLease | None = None  # a WebSocket's, once authenticated
    request_id: str = ""
    loaders: Loaders | None = field(init=False, default=None)

    def __post_init__(self):
        if self.viewer is not None:
            self.refresh_loaders()

    def refresh_loaders(self) -> None:
        """Fresh loaders: per request, and per delivered event on a long-lived WebSocket."""
        self.loaders = Loaders(self.app.reader, self.viewer)

    @property
    def principal(self) -> str:
        """The viewer's principal; "anonymous" for the one thing that runs without a viewer,
        introspection in development (schema/view.py)."""
        return self.viewer.principal if self.viewer is not None else "anonymous"

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @property
    def reader(self) -> GatedEngine:
        """The engine of single-statement reads (see `models.prepared.fetch`)."""
        return self.app.reader

    def connect(self) -> AsyncConnection:
        """A pooled connection for one read: `async with ctx.connect() as conn`."""
        return self.reader.connect()
