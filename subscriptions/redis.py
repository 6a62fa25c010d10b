"""Redis broker: one pub/sub connection per process, shared by every local subscription."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Callable
from typing import Any

from orjson import dumps as _dumps
from orjson import loads as _loads
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .broker import RESYNC, SYSTEM_CHANNEL, Broker, Event, Subscription

log = logging.getLogger(__name__)

# As core/redis_client.py's REDIS_UNAVAILABLE: redis-py 8.1 may raise a closed transport's own error
# instead of ConnectionError (redis/redis-py#4287).
_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError, TypeError, AttributeError, RuntimeError)
# Short socket timeouts: a Redis outage must fail a publish quickly, never hang its caller.
_SOCKET_TIMEOUT = 1.0
_START_TIMEOUT = 2.0
_CONFIRM_TIMEOUT = 2.0
_BACKOFF_MIN = 0.05
_BACKOFF_MAX = 2.0
# Payload of the PING sent after re-subscribing on a new connection; see _connect().
_RESYNC_TOKEN = b"inbox-broker-resync"
# PUBLISH of each (channel, message) pair of ARGV, in order.
_PUBLISH_SCRIPT = "for i = 1, #ARGV, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end"


class RedisBroker(Broker):
    """Broker over Redis pub/sub, for several processes.

    Each process holds ONE pub/sub connection whatever its number of subscriptions: the
    local fan-out reference-counts channels, so only a channel's first local subscriber
    sends SUBSCRIBE and its last one sends UNSUBSCRIBE (SYSTEM_CHANNEL stays subscribed).
    A reader task fans the messages out and reconnects, with backoff, after a loss.

    ``sharded=True`` uses SSUBSCRIBE/SUNSUBSCRIBE/SPUBLISH (Redis 7 sharded pub/sub) on the
    same single connection; on a Redis Cluster that connection reaches one node only, so
    every channel must then hash to that node's slots.  ``name`` prefixes the client
    names (``<name>-sub``, ``<name>-pub``) shown by CLIENT LIST.
    """

    def __init__(self, url: str, *, sharded: bool = False, name: str = "inbox-broker") -> None:
        super().__init__()
        # The only difference made by sharded pub/sub: the names of three commands.
        if sharded:
            commands = ("SSUBSCRIBE", "SUNSUBSCRIBE", "SPUBLISH")
        else:
            commands = ("SUBSCRIBE", "UNSUBSCRIBE", "PUBLISH")
        self._subscribe_cmd, self._unsubscribe_cmd, self._publish_cmd = commands
        self._publisher = self._publisher_client(url, name)
        # No socket timeout: reads on the pub/sub connection wait for the next message.
        # No retries: every loss must reach the reader, which reconnects by itself so as
        # to re-subscribe and resync.  Replies stay bytes: with RESP3, redis-py recognises
        # a PING reply on a pub/sub connection only as bytes.
        self._listener = Redis.from_url(
            url,
            client_name=f"{name}-sub",
            socket_connect_timeout=_SOCKET_TIMEOUT,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
        )
        # Loaded again by redis-py when Redis has forgotten it (a restart).
        self._publish_script = self._publisher.register_script(_PUBLISH_SCRIPT)
        self._pubsub: PubSub | None = None
        # Serialises the refcount changes, the (un)subscribe commands they trigger and the
        # swapping of connections, so that Redis receives the commands in the same order.
        self._lock = asyncio.Lock()
        self._pongs: dict[bytes, asyncio.Future[None]] = {}
        self._tokens = itertools.count()
        self._connected = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    def _publisher_client(self, url: str, name: str) -> Redis:
        return Redis.from_url(
            url,
            client_name=f"{name}-pub",
            socket_timeout=_SOCKET_TIMEOUT,
            socket_connect_timeout=_SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 1),  # e.g. a pooled connection cut by a Redis restart
        )

    async def start(self) -> None:
        """Start the reader and wait briefly for a first connection (Redis may be down)."""
        self._reader = asyncio.create_task(self._run(), name="redis-broker-reader")
        try:
            await asyncio.wait_for(self._connected.wait(), _START_TIMEOUT)
        except TimeoutError:
            log.warning("redis pub/sub unreachable; retrying in the background")

    async def close(self) -> None:
        """Stop the reader, finish every subscription and close the connections."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait([self._reader])
        await self._disconnect()
        await super().close()
        await self._publisher.aclose()
        await self._listener.aclose()

    async def reachable(self) -> bool:
        try:
            return bool(await self._publisher.ping())
        except _TRANSPORT_ERRORS:
            return False

    async def publish(self, channel: str, event: Event) -> bool:
        try:
            await self._publisher.execute_command(self._publish_cmd, channel, _dumps(event))
        except _TRANSPORT_ERRORS as exc:
            self.publish_failures += 1
            log.warning("publish on %s failed: %s", channel, exc)
            return False
        return True

    async def publish_many(self, messages: list[tuple[str, Event]]) -> bool:
        """One round trip, the events in order: one script call that publishes them all (redis-py
        packs and parses a pipeline's thousands of commands ten times slower); sharded pub/sub, whose
        channels a script on a cluster may not address, gets a pipeline."""
        if not messages:
            return True
        try:
            if self._publish_cmd == "PUBLISH":
                await self._publish_script(
                    args=[part for channel, event in messages for part in (channel, _dumps(event))]
                )
            else:
                pipe = self._publisher.pipeline(transaction=False)
                for channel, event in messages:
                    pipe.execute_command(self._publish_cmd, channel, _dumps(event))
                await pipe.execute()
        except _TRANSPORT_ERRORS as exc:
            self.publish_failures += len(messages)
            log.warning("publish of %d events failed: %s", len(messages), exc)
            return False
        return True

    async def _register(self, sub: Subscription) -> None:
        """Subscribe the new channels, returning once Redis has applied the SUBSCRIBE.

        Waiting means an event published right after entering the subscription is received.
        """
        async with self._lock:
            added = self._attach(sub) - {SYSTEM_CHANNEL}
            applied = await self._send(self._subscribe_cmd, added, confirm=True)
        if applied is not None:
            # Waited for outside the lock, so other subscriptions don't queue behind it.
            await asyncio.wait([applied], timeout=_CONFIRM_TIMEOUT)

    async def _unregister(self, sub: Subscription) -> None:
        async with self._lock:
            await self._send(self._unsubscribe_cmd, self._detach(sub) - {SYSTEM_CHANNEL})

    async def _send(self, command: str, channels: set[str], *, confirm: bool = False) -> asyncio.Future[None] | None:
        """Send a (un)subscribe command on the live connection, if there is one.

        Without one nothing is sent: the reconnect subscribes every channel in use.
        With ``confirm``, return a future resolved once Redis has applied the command.
        """
        pubsub = self._pubsub
        if not channels or pubsub is None:
            return None
        try:
            await pubsub.execute_command(command, *channels)
            return await self._ping(pubsub) if confirm else None
        except _TRANSPORT_ERRORS as exc:
            # The reader sees the loss as well, and will re-subscribe then resync.
            log.warning("redis %s failed: %s", command, exc)
            return None

    async def _ping(self, pubsub: PubSub) -> asyncio.Future[None]:
        """PING behind the commands already sent; the future resolves on its reply.

        Redis answers a connection's commands in order, so the reply proves they applied.
        """
        token = b"confirm-%d" % next(self._tokens)
        future = self._pongs[token] = asyncio.get_running_loop().create_future()
        await pubsub.ping(token)
        return future

    async def _run(self) -> None:
        """Reader task: keep the pub/sub connection up and fan its messages out."""
        delay = _BACKOFF_MIN
        lost = False
        while True:
            try:
                await self._connect(resync=lost)
                delay = _BACKOFF_MIN
                await self._read()
            except _TRANSPORT_ERRORS as exc:
                log.warning("redis pub/sub connection down: %s", exc)
            except Exception:
                # Reconnect rather than let a bug end this process's fan-out for good.
                log.exception("redis pub/sub reader failed")
            await self._disconnect()
            lost = True
            # Jitter, so that the processes of a deployment don't reconnect in lockstep.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, _BACKOFF_MAX)

    async def _connect(self, *, resync: bool) -> None:
        """Open a new pub/sub connection and subscribe every channel in use."""
        async with self._lock:
            self._pubsub = self._listener.pubsub(ignore_subscribe_messages=True)
            await self._pubsub.execute_command(self._subscribe_cmd, *{SYSTEM_CHANNEL, *self._subscribers})
            if resync:
                # Events may have been missed while disconnected. RESYNC is delivered when
                # this PING's reply arrives, i.e. once every re-subscription is live, so
                # nothing published after the consumers re-read the database is lost.
                await self._pubsub.ping(_RESYNC_TOKEN)
            self._connected.set()

    async def _read(self) -> None:
        """Dispatch messages until the connection fails."""
        assert self._pubsub is not None, "connected"
        await read_messages(self._pubsub, self._handle)

    def _handle(self, message: dict[str, Any]) -> None:
        if message["type"] == "pong":
            self._on_pong(message["data"])
        elif message["type"] in ("message", "smessage"):
            channel = message["channel"].decode()
            try:
                event = _loads(message["data"])
            except ValueError:
                log.warning("dropping a non-JSON message on %s", channel)
                return
            self._deliver(channel, event)

    def _on_pong(self, token: bytes) -> None:
        """A PING came back: deliver RESYNC, or resolve the confirmation it stands for."""
        if token == _RESYNC_TOKEN:
            self._deliver_all(RESYNC)
        elif (future := self._pongs.pop(token, None)) is not None:
            future.set_result(None)

    async def _disconnect(self) -> None:
        """Drop the pub/sub connection, releasing whoever waits for a reply on it."""
        async with self._lock:
            pubsub, self._pubsub = self._pubsub, None
            for future in self._pongs.values():
                future.set_result(None)
            self._pongs.clear()
        if pubsub is not None:
            await pubsub.aclose()


async def read_messages(pubsub: PubSub, handle: Callable[[dict[str, Any]], None]) -> None:
    """Hand each message of a pub/sub connection to `handle`, until the connection fails."""
    while True:
        message = await pubsub.get_message(timeout=None)
        if message is not None:
            handle(message)
