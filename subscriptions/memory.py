"""Single-process broker."""

from __future__ import annotations

from .broker import Broker, Event


class InProcessBroker(Broker):
    """Delivers published events straight to the local subscriptions (one process only)."""

    async def start(self) -> None:
        """Nothing to connect to."""

    async def publish(self, channel: str, event: Event) -> bool:
        self._deliver(channel, event)
        return True
