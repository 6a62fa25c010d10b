"""The per-request context: the app's shared resources, the viewer and fresh loaders."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from resolvers.loaders import Loaders
from services.config import Settings
from services.runtime import Runtime
from services.viewer import Viewer


@dataclass
class Context:
    app: Runtime
    viewer: Viewer
    loaders: Loaders = field(init=False)
    request: Any = None
    response: Any = None

    def __post_init__(self):
        self.loaders = Loaders(self.app.engine, self.viewer)

    @property
    def settings(self) -> Settings:
        return self.app.settings

    def connect(self) -> AsyncConnection:
        """A pooled connection for one read: `async with ctx.connect() as conn`."""
        return self.app.engine.connect()
