"""Redis Cluster broker: sharded pub/sub with one connection per master node that owns a channel in use.

A sharded channel lives on the master of its hash slot, so a process holds one pub/sub connection to
each master that owns one of its channels, and publishes with SPUBLISH, which the cluster client
sends to that master. The guarantee is the single node's: when any of those connections fails (a
master died, and its replica is being promoted), every connection is dropped, the slot map read
again, each channel subscribed again on its master, and RESYNC delivered once every node has
answered a PING behind those subscriptions. A subscription that resumes from the database then
misses nothing that was published while the shard was away.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .broker import RESYNC, SYSTEM_CHANNEL
from .redis import _RESYNC_TOKEN, _SOCKET_TIMEOUT, _TRANSPORT_ERRORS, RedisBroker, read_messages

log = logging.getLogger(__name__)


class ShardMoved(ConnectionError):
    """A channel in use now lives on a master this process holds no connection to."""


class ClusterBroker(RedisBroker):
    """Broker over a Redis Cluster's sharded pub/sub (SSUBSCRIBE/SPUBLISH)."""

    def __init__(self, url: str, *, name: str = "inbox-broker") -> None:
        super().__init__(url, sharded=True, name=name)
        self._name = name
        self._cluster: RedisCluster = self._publisher  # type: ignore[assignment]
        self._nodes: dict[str, PubSub] = {}  # master's name (host:port) -> its pub/sub connection
        self._clients: list[Redis] = []
        self._resync_pending: set[str] = set()
        self._readers: list[asyncio.Task[None]] = []
        self._lost: asyncio.Future[None] | None = None  # fails with the first reader's error

    def _publisher_client(self, url: str, name: str) -> Redis:
        cluster = RedisCluster.from_url(
            url, client_name=f"{name}-pub", socket_timeout=_SOCKET_TIMEOUT, socket_connect_timeout=_SOCKET_TIMEOUT
        )
        return cluster  # type: ignore[return-value]  # Redis's commands, routed by key

    def _master_of(self, channel: str) -> str:
        node = self._cluster.get_node_from_key(channel)
        if node is None:
            raise ShardMoved(f"no master serves {channel}'s slot")
        return node.name

    async def _connect(self, *, resync: bool) -> None:
        """Read the slot map, then open one connection per master owning a channel in use and
        subscribe each channel there (one SSUBSCRIBE per channel: one command may not span slots)."""
        await self._cluster.nodes_manager.initialize()
        async with self._lock:
            by_master: dict[str, list[str]] = defaultdict(list)
            for channel in {SYSTEM_CHANNEL, *self._subscribers}:
                by_master[self._master_of(channel)].append(channel)
            for master, channels in by_master.items():
                pubsub = self._open(master)
                for channel in channels:
                    await pubsub.execute_command(self._subscribe_cmd, channel)
            if resync:
                # RESYNC once every master has answered behind its subscriptions (see _on_pong).
                self._resync_pending = set(self._nodes)
                for pubsub in self._nodes.values():
                    await pubsub.ping(_RESYNC_TOKEN)
            self._connected.set()

    def _open(self, master: str) -> PubSub:
        host, port = master.rsplit(":", 1)
        # As the single node's listener: no socket timeout, no retries (every loss reaches the reader).
        client = Redis(
            host=host,
            port=int(port),
            client_name=f"{self._name}-sub",
            socket_connect_timeout=_SOCKET_TIMEOUT,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
        )
        self._clients.append(client)
        pubsub = self._nodes[master] = client.pubsub()
        return pubsub

    async def _read(self) -> None:
        """Read every master's connection, including those opened later for a new channel's master;
        the first to fail ends them all (the caller reconnects)."""
        self._lost = asyncio.get_running_loop().create_future()
        for master, pubsub in self._nodes.items():
            self._start_reader(master, pubsub)
        try:
            await self._lost
        finally:
            readers, self._readers = self._readers, []
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

    def _start_reader(self, master: str, pubsub: PubSub) -> None:
        task = asyncio.create_task(read_messages(pubsub, functools.partial(self._handle_from, master)))
        task.add_done_callback(self._reader_ended)
        self._readers.append(task)

    def _reader_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._lost is None or self._lost.done():
            return
        self._lost.set_exception(task.exception() or ConnectionError("a pub/sub connection ended"))

    def _handle_from(self, master: str, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "pong" and message["data"] == _RESYNC_TOKEN:
            self._resync_pending.discard(master)
            if not self._resync_pending:
                self._deliver_all(RESYNC)
        elif kind == "sunsubscribe" and message["channel"].decode() in self._subscribers:
            # Not asked for: the slot moved to another master (a failover, a reshard).
            raise ShardMoved(f"{message['channel']!r} left {master}")
        elif kind not in ("ssubscribe", "sunsubscribe"):
            self._handle(message)

    async def _send(self, command: str, channels: set[str], *, confirm: bool = False) -> asyncio.Future[None] | None:
        """(Un)subscribe each channel on its master's connection; with `confirm`, a future resolved once
        every master involved has applied the commands. The first channel in use on a master
        gets a connection of its own. A failure drops every connection: the reader reconnects and resyncs."""
        if not channels or not self._nodes:
            return None
        try:
            masters: set[str] = set()
            for channel in channels:
                master = self._master_of(channel)
                pubsub = self._nodes.get(master)
                if pubsub is not None:
                    await pubsub.execute_command(command, channel)
                elif command == self._subscribe_cmd:  # the first channel in use on that master
                    pubsub = self._open(master)
                    await pubsub.execute_command(command, channel)  # connects: only then can it be read
                    self._start_reader(master, pubsub)
                else:
                    continue  # gone with its master: nothing to undo
                masters.add(master)
            if not confirm or not masters:
                return None
            pongs = [await self._ping(self._nodes[master]) for master in masters]
            return pongs[0] if len(pongs) == 1 else _all_of(pongs)
        except _TRANSPORT_ERRORS as exc:  # ShardMoved is a ConnectionError
            log.warning("redis cluster %s failed: %s; reconnecting", command, exc)
            for pubsub in self._nodes.values():
                await pubsub.aclose()  # the reader fails, reconnects and resyncs
            return None

    async def _disconnect(self) -> None:
        async with self._lock:
            nodes, self._nodes = self._nodes, {}
            clients, self._clients = self._clients, []
            for future in self._pongs.values():
                future.set_result(None)
            self._pongs.clear()
        for pubsub in nodes.values():
            await pubsub.aclose()
        for client in clients:
            await client.aclose()


def _all_of(futures: list[asyncio.Future[None]]) -> asyncio.Future[None]:
    """A future resolved once all of `futures` are."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    pending = set(futures)

    def one_resolved(future: asyncio.Future[None]) -> None:
        pending.discard(future)
        if not pending and not done.done():
            done.set_result(None)

    for future in futures:
        future.add_done_callback(one_resolved)
    return done
