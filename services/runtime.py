"""What the services need from the running process: the engine, settings and the broker."""

import asyncio
from dataclasses import dataclass, field
from weakref import WeakSet

from sqlalchemy.ext.asyncio import AsyncEngine

from models.database import autocommit
from services.config import Settings
from services.events import Event
from services.metrics import Metrics, count_statements
from services.ratelimit import RateLimits
from subscriptions import Broker


@dataclass
class Runtime:
    """Resources shared by every request of one process."""

    settings: Settings
    engine: AsyncEngine
    secret: str
    broker: Broker
    rate_limits: RateLimits
    reader: AsyncEngine = field(init=False)
    metrics: Metrics = field(init=False)
    websockets: WeakSet = field(init=False, default_factory=WeakSet)

    def __post_init__(self):
        # Reads are single statements: they need no transaction of their own.
        self.reader = autocommit(self.engine)
        self.metrics = Metrics(self.broker)
        count_statements(self.engine)

    async def publish(self, events: list[Event]) -> None:
        """Publish the events of a committed transaction.

        The broker never raises: a Redis outage costs live delivery only, and clients
        resuming with `after` catch up from the database.
        """
        for event in events:  # in order; an event's channels at once
            await asyncio.gather(*(self.broker.publish(channel, event.payload) for channel in event.channels))
