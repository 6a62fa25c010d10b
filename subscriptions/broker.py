"""Broker interface, subscriptions and the local fan-out shared by every implementation."""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

Event = dict[str, Any]

# Delivered to every local subscription after the broker reconnected to its transport:
# events may have been missed meanwhile, so consumers should re-read from the database.
RESYNC: Event = {"type": "resync"}

# Control events (e.g. shop status changes) that every process listens to.
SYSTEM_CHANNEL = "inbox:system"

# Put in a subscription's queue by close() to wake up an iterator blocked on an empty queue.
_WAKE_UP: Event = {}


def participant_channel(role: str, participant_id: int) -> str:
    """Channel carrying the events of one inbox participant, e.g. ``inbox:shop:12``."""
    return f"inbox:{role}:{participant_id}"


class SlowConsumer(Exception):
    """The subscription's queue overflowed: its consumer fell too far behind."""


class Subscription:
    """Async iterator over the events published on a set of channels.

    Use it as ``async with broker.subscribe(channels) as sub: async for event in sub``.
    Events are shared between subscribers: treat them as read-only.
    """

    def __init__(self, broker: Broker, channels: Iterable[str], maxsize: int) -> None:
        self.channels = frozenset(channels)
        self._broker = broker
        # Bounded so that one stalled client cannot make the process buffer events forever.
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self._overflowed = False
        self._closed = False

    async def __aenter__(self) -> Subscription:
        await self._broker._register(self)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
        await self._broker._unregister(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if not (self._overflowed or self._closed):
            event = await self._queue.get()
            if event is not _WAKE_UP:
                return event
        if self._overflowed:
            await self._broker._unregister(self)
            raise SlowConsumer(f"subscription to {sorted(self.channels)} overflowed")
        raise StopAsyncIteration

    @property
    def finished(self) -> bool:
        """True once closed or overflowed: no more events will be queued."""
        return self._closed or self._overflowed

    def close(self) -> None:
        """Stop the iterator (StopAsyncIteration), dropping any queued events."""
        self._closed = True
        # A full queue means nobody is blocked on it: the next __anext__ sees _closed.
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_WAKE_UP)

    def _offer(self, event: Event) -> None:
        """Queue an event without blocking the publisher/reader."""
        if self.finished:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # Silently dropping the event would leave a gap the client cannot detect;
            # failing the subscription makes the client reconnect and re-read instead.
            self._overflowed = True


class Broker(abc.ABC):
    """Pub/sub of JSON-serialisable dict events, with the fan-out to local subscriptions."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self._closed = False
        self.publish_failures = 0

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect to the transport."""

    @abc.abstractmethod
    async def publish(self, channel: str, event: Event) -> bool:
        """Publish an event; return False (never raise) when the transport fails.

        Callers publish after their database commit, so a broker outage must not fail them;
        failures are logged and counted in ``publish_failures``.
        """

    async def reachable(self) -> bool:
        """Whether the transport answers (for readiness checks)."""
        return True

    async def close(self) -> None:
        """Finish every subscription; the broker cannot be used afterwards."""
        self._closed = True
        for sub in self._all_subscriptions():
            sub.close()
        self._subscribers.clear()

    def subscribe(self, channels: str | Iterable[str], maxsize: int = 256) -> Subscription:
        """Subscription (an async context manager) to one channel or a set of channels."""
        if isinstance(channels, str):
            channels = [channels]
        return Subscription(self, channels, maxsize)

    def subscribers_count(self) -> int:
        """Number of local subscriptions registered."""
        return len(self._all_subscriptions())

    def channels_count(self) -> int:
        """Number of channels with at least one local subscription."""
        return len(self._subscribers)

    async def _register(self, sub: Subscription) -> None:
        """Called when a subscription context is entered."""
        self._attach(sub)

    async def _unregister(self, sub: Subscription) -> None:
        """Called when a subscription ends; must be idempotent."""
        self._detach(sub)

    def _attach(self, sub: Subscription) -> set[str]:
        """Add a subscription to the fan-out; return the channels it is the first one on."""
        if self._closed:
            raise RuntimeError("broker is closed")
        added = {channel for channel in sub.channels if channel not in self._subscribers}
        for channel in sub.channels:
            self._subscribers.setdefault(channel, set()).add(sub)
        return added

    def _detach(self, sub: Subscription) -> set[str]:
        """Remove a subscription from the fan-out; return the channels left without any."""
        emptied = set()
        for channel in sub.channels:
            subs = self._subscribers.get(channel, set())
            if sub in subs:
                subs.remove(sub)
                if not subs:
                    del self._subscribers[channel]
                    emptied.add(channel)
        return emptied

    def _deliver(self, channel: str, event: Event) -> None:
        """Hand an event to every local subscription of the channel."""
        for sub in self._subscribers.get(channel, ()):
            sub._offer(event)

    def _deliver_all(self, event: Event) -> None:
        """Hand an event to every local subscription, once each."""
        for sub in self._all_subscriptions():
            sub._offer(event)

    def _all_subscriptions(self) -> set[Subscription]:
        return {sub for subs in self._subscribers.values() for sub in subs}
