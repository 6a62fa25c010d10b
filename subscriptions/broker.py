"""Broker interface, subscriptions and the local fan-out shared by every implementation."""

from __future__ import annotations

import abc
import asyncio
import collections
from collections.abc import Callable, Iterable
from typing import Any

Event = dict[str, Any]

# Delivered to every local subscription after the broker reconnected to its transport:
# events may have been missed meanwhile, so consumers should re-read from the database.
RESYNC: Event = {"type": "resync"}

# Control events (e.g. shop status changes) that every process listens to.
SYSTEM_CHANNEL = "inbox:system"


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
        # The queue is made on the first event and the waiter per wait: thousands of idle
        # subscriptions hold neither (an asyncio.Queue costs four deques and an Event each).
        self._maxsize = maxsize
        self._events: collections.deque[Event] | None = None
        self._waiter: asyncio.Future | None = None
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
        while not (self._overflowed or self._closed):
            if self._events:
                return self._events.popleft()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
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
        self._events = None
        self._wake()

    def _offer(self, event: Event) -> None:
        """Queue an event without blocking the publisher/reader."""
        if self.finished:
            return
        if self._events is None:
            self._events = collections.deque()
        if len(self._events) >= self._maxsize > 0:
            # Silently dropping the event would leave a gap the client cannot detect;
            # failing the subscription makes the client reconnect and re-read instead.
            self._overflowed = True
            self._events = None
        else:
            self._events.append(event)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class Broker(abc.ABC):
    """Pub/sub of JSON-serialisable dict events, with the fan-out to local subscriptions."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self._system_listeners: list[Callable[[Event], None]] = []
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

    async def publish_many(self, messages: list[tuple[str, Event]]) -> bool:
        """Publish (channel, event) pairs in order; return False (never raise) if any failed.

        Implementations may send them together (Redis: one pipeline), so a write that changed
        thousands of conversations does not wait for thousands of round trips.
        """
        results = [await self.publish(channel, event) for channel, event in messages]
        return all(results)

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

    def add_system_listener(self, listener: Callable[[Event], None]) -> None:
        """Call `listener` with every SYSTEM_CHANNEL event and every RESYNC, as they arrive."""
        self._system_listeners.append(listener)

    def subscribers_count(self) -> int:
        """Number of local subscriptions registered."""
        return len(self._all_subscriptions())

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
        if channel == SYSTEM_CHANNEL:
            for listener in self._system_listeners:
                listener(event)
        for sub in self._subscribers.get(channel, ()):
            sub._offer(event)

    def _deliver_all(self, event: Event) -> None:
        """Hand an event to every local subscription, once each."""
        for listener in self._system_listeners:
            listener(event)
        for sub in self._all_subscriptions():
            sub._offer(event)

    def _all_subscriptions(self) -> set[Subscription]:
        return {sub for subs in self._subscribers.values() for sub in subs}
