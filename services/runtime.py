"""What the services need from the running process: the engine, settings and the broker."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from weakref import WeakSet

from aiohttp import web

from core.config import Settings
from core.indicators import MemoryIndicators, RedisIndicators, create_indicators
from core.metrics import Metrics, count_statements
from core.persisted import PersistedQueries, create_persisted_queries
from core.ratelimit import RateLimits
from core.sockets import SocketRegistry
from core.storage import LocalStorage, S3Storage, create_storage
from models.database import GatedEngine, autocommit
from models.replica import ReplicaReads
from services.auth import Authenticator
from services.events import Event
from subscriptions import RESYNC, Broker
from subscriptions.broker import Event as BrokerEvent


@dataclass
class Runtime:
    """Resources shared by every request of one process."""

    settings: Settings
    engine: GatedEngine  # with the read function of the plain app or of the speed layer (fastpath/)
    secret: str
    broker: Broker
    rate_limits: RateLimits
    media_secret: str = ""  # signs media links (services/images.py); not the JWT secret
    replica_engine: GatedEngine | None = None  # a streaming replica's, for queries (INBOX_DATABASE_REPLICA_URL)
    reader: GatedEngine = field(init=False)
    replica: ReplicaReads | None = field(init=False, default=None)
    auth: Authenticator = field(init=False)
    metrics: Metrics = field(init=False)
    websockets: WeakSet[web.WebSocketResponse] = field(init=False, default_factory=WeakSet)
    sockets: SocketRegistry = field(init=False)
    persisted: PersistedQueries = field(init=False)
    indicators: MemoryIndicators | RedisIndicators = field(init=False)
    storage: LocalStorage | S3Storage = field(init=False)
    # Set after a commit that wrote webhook deliveries: the dispatcher (core/webhook_dispatch.py) waits on it.
    webhooks_due: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    # Images are decoded on one thread of their own, one at a time: a decoded picture can take 160 MB,
    # and one thread reuses one malloc arena (others would each keep what they once held).
    decoder: ThreadPoolExecutor = field(
        init=False, default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="decoder")
    )

    def __post_init__(self) -> None:
        # Reads are single statements: they need no transaction of their own.
        self.reader = autocommit(self.engine)
        if self.replica_engine is not None:
            replica_reader = autocommit(self.replica_engine)
            self.replica = ReplicaReads(self.reader, replica_reader, self.settings.replica_max_lag_ms / 1000)
        self.auth = Authenticator(
            self.reader,
            self.secret,
            self.settings.auth_cache_seconds,
            self.settings.max_token_ttl_seconds,
            self.settings.token_leeway_seconds,
        )
        self.broker.add_system_listener(self._on_system_event)
        self.metrics = Metrics(self.broker)
        self.sockets = SocketRegistry(self.settings)
        self.persisted = create_persisted_queries(
            self.settings.redis_url, self.settings.trusted_documents, self.settings.redis_cluster
        )
        self.indicators = create_indicators(self.settings.redis_url, self.settings.redis_cluster)
        self.storage = create_storage(self.settings)
        count_statements(self.engine)

    async def publish(self, events: list[Event]) -> None:
        """Publish the events of a committed transaction.

        The broker never raises: a Redis outage costs live delivery only, and clients
        resuming with `after` catch up from the database. A typing event goes out only if
        the typing gate admits it (a repeat within 2 s does not).
        """
        # Typing events pass their gate first (a repeat within 2 s is not told again); then all of them, in
        # order, together: a write that changed many conversations publishes in one round trip.
        admitted = [event for event in events if event.gate is None or await self.indicators.admit(*event.gate)]
        await self.broker.publish_many([(channel, event.payload) for event in admitted for channel in event.channels])

    def _on_system_event(self, event: BrokerEvent) -> None:
        """Forget cached viewers of a shop as soon as an import announces its status changed
        (or of every shop, after the broker may have lost events)."""
        if event is RESYNC:
            self.auth.forget_all()
        elif event.get("type") == "shop_status":
            self.auth.forget_shop(event["shop_id"])
