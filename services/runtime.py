"""What the services need from the running process: the engine, settings and the broker."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.config import Settings
from services.events import Event


@dataclass
class Runtime:
    """Resources shared by every request of one process."""

    settings: Settings
    engine: AsyncEngine
    secret: str
    broker: Any = None
    publish_failures: int = field(default=0)

    async def publish(self, events: list[Event]) -> None:
        """Publish events of a committed transaction; a broker failure never fails the caller."""
        if self.broker is None:
            return
        for event in events:
            for channel in event.channels:
                if not await self.broker.publish(channel, event.payload):
                    self.publish_failures += 1
