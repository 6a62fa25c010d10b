"""Settings, read once from the environment and passed down explicitly."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

# (GMV below this bound, creators a week); the last tier has no bound.
Tiers = tuple[tuple[Decimal | None, int], ...]
DEFAULT_TIERS: Tiers = ((Decimal(1_000), 10), (Decimal(10_000), 50), (Decimal(100_000), 200), (None, 500))


def parse_tiers(text: str) -> Tiers:
    """Parse `INBOX_OUTREACH_TIERS`, e.g. "1000:10,10000:50,100000:200,*:500"."""
    tiers = []
    for part in text.split(","):
        bound, limit = part.strip().split(":")
        tiers.append((None if bound.strip() == "*" else Decimal(bound), int(limit)))
    if tiers[-1][0] is not None:
        raise ValueError("the last outreach tier must be '*:<limit>'")
    return tuple(tiers)


def parse_switch(text: str, name: str) -> bool:
    """`on` or `off` (any case) as a bool."""
    value = text.strip().lower()
    if value not in ("on", "off"):
        raise ValueError(f"{name} must be on or off, not {text!r}")
    return value == "on"


def parse_pooler(text: str) -> str | None:
    """`INBOX_DB_POOLER`: empty (the database itself) or `pgbouncer` (in transaction mode)."""
    value = text.strip().lower()
    if value not in ("", "pgbouncer"):
        raise ValueError(f"INBOX_DB_POOLER must be empty or pgbouncer, not {text!r}")
    return value or None


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".inbox")
    database_url: str = ""
    jwt_secret: str | None = None
    redis_url: str | None = None
    redis_cluster: bool = False  # REDIS_URL is a node of a Redis Cluster (subscriptions/cluster.py)
    db_pooler: str | None = None  # "pgbouncer": DATABASE_URL is PgBouncer in transaction mode
    database_listen_url: str | None = None  # the primary itself, for LISTEN (a pooler cannot hold one)
    database_replica_url: str | None = None  # a streaming replica for queries (models/replica.py)
    replica_max_lag_ms: int = 1000  # a replica further behind is not read
    environment: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    outreach_tiers: Tiers = DEFAULT_TIERS
    db_pool_size: int = 10
    max_subscriptions_per_connection: int = 20
    subscription_queue_size: int = 256
    shop_status_check_seconds: float = 30.0
    auth_cache_seconds: float = 0.0
    max_token_ttl_seconds: int = 86_400
    token_leeway_seconds: float = 60.0
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_cost: int = 1000
    query_burst: int = 200
    query_rate: float = 50.0
    mutation_burst: int = 60
    mutation_rate: float = 10.0
    bulk_burst: int = 200
    bulk_rate: float = 10.0
    typing_burst: int = 60
    typing_rate: float = 10.0
    ws_max_message_bytes: int = 64 * 1024
    ws_init_timeout_seconds: float = 10.0
    ws_max_sockets_per_principal: int = 20
    max_subscriptions_per_principal: int = 100
    max_websockets: int = 10_000
    max_body_bytes: int = 256 * 1024
    cors_origins: tuple[str, ...] = ()
    shutdown_grace_seconds: float = 10.0
    trusted_documents: Path | None = None  # a manifest: only its documents run (core/persisted.py)
    fast_path: bool = True  # the speed layer (fastpath/); off: plain strawberry and SQLAlchemy
    media_secret: str | None = None  # signs media links; generated into the data dir when unset
    media_url_ttl_seconds: int = 3600
    uploads_per_hour: int = 60
    public_url: str | None = None  # the origin media links start with; unset: the request's own
    s3_bucket: str | None = None  # set: images go to this S3 bucket instead of $INBOX_DATA_DIR/media
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    image_cleanup_seconds: float = 600.0  # how often unsent images older than a day are looked for
    webhook_dispatch: bool = True  # off: this process sends no webhooks (others on the database do)
    webhook_allow_private: bool = False  # development and tests only: http:// and local receivers
    webhook_timeout_seconds: float = 5.0
    webhook_lease_seconds: float = 15.0  # an attempt not recorded by then is made again (the process died)
    webhook_poll_seconds: float = 1.0  # the dispatcher looks for due deliveries at least this often
    webhook_retry_scale: float = 1.0  # multiplies the retry schedule and its 3 days (tests shrink it)
    webhook_concurrency: int = 32  # attempts in flight per process
    webhook_endpoint_concurrency: int = 4  # attempts in flight per endpoint and process

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        data_dir = Path(env.get("INBOX_DATA_DIR", ".inbox"))
        tiers = env.get("INBOX_OUTREACH_TIERS")
        return cls(
            data_dir=data_dir,
            database_url=env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'inbox.db'}",
            jwt_secret=env.get("INBOX_JWT_SECRET") or None,
            redis_url=env.get("REDIS_URL") or None,
            redis_cluster=parse_switch(env.get("INBOX_REDIS_CLUSTER", "off"), "INBOX_REDIS_CLUSTER"),
            db_pooler=parse_pooler(env.get("INBOX_DB_POOLER", "")),
            database_listen_url=env.get("INBOX_DATABASE_LISTEN_URL") or None,
            database_replica_url=env.get("INBOX_DATABASE_REPLICA_URL") or None,
            replica_max_lag_ms=int(env.get("INBOX_REPLICA_MAX_LAG_MS", "1000")),
            environment=env.get("INBOX_ENV", "development"),
            host=env.get("INBOX_HOST", "127.0.0.1"),
            port=int(env.get("INBOX_PORT", "8000")),
            metrics_host=env.get("INBOX_METRICS_HOST", "127.0.0.1"),
            metrics_port=int(env.get("INBOX_METRICS_PORT", "9464")),
            outreach_tiers=parse_tiers(tiers) if tiers else DEFAULT_TIERS,
            db_pool_size=int(env.get("INBOX_DB_POOL_SIZE", "10")),
            max_subscriptions_per_connection=int(env.get("INBOX_WS_MAX_SUBSCRIPTIONS", "20")),
            subscription_queue_size=int(env.get("INBOX_WS_QUEUE_SIZE", "256")),
            shop_status_check_seconds=float(env.get("INBOX_SHOP_STATUS_CHECK_SECONDS", "30")),
            auth_cache_seconds=float(env.get("INBOX_AUTH_CACHE_SECONDS", "1")),
            max_token_ttl_seconds=int(env.get("INBOX_MAX_TOKEN_TTL_SECONDS", "86400")),
            token_leeway_seconds=float(env.get("INBOX_TOKEN_LEEWAY_SECONDS", "60")),
            max_depth=int(env.get("INBOX_MAX_DEPTH", "10")),
            max_aliases=int(env.get("INBOX_MAX_ALIASES", "15")),
            max_tokens=int(env.get("INBOX_MAX_TOKENS", "2000")),
            max_cost=int(env.get("INBOX_MAX_COST", "1000")),
            query_burst=int(env.get("INBOX_QUERY_BURST", "200")),
            query_rate=float(env.get("INBOX_QUERY_RATE", "50")),
            mutation_burst=int(env.get("INBOX_MUTATION_BURST", "60")),
            mutation_rate=float(env.get("INBOX_MUTATION_RATE", "10")),
            bulk_burst=int(env.get("INBOX_BULK_BURST", "200")),
            bulk_rate=float(env.get("INBOX_BULK_RATE", "10")),
            typing_burst=int(env.get("INBOX_TYPING_BURST", "60")),
            typing_rate=float(env.get("INBOX_TYPING_RATE", "10")),
            ws_max_message_bytes=int(env.get("INBOX_WS_MAX_MESSAGE_BYTES", str(64 * 1024))),
            ws_init_timeout_seconds=float(env.get("INBOX_WS_INIT_TIMEOUT_SECONDS", "10")),
            ws_max_sockets_per_principal=int(env.get("INBOX_WS_MAX_SOCKETS_PER_PRINCIPAL", "20")),
            max_subscriptions_per_principal=int(env.get("INBOX_MAX_SUBSCRIPTIONS_PER_PRINCIPAL", "100")),
            max_websockets=int(env.get("INBOX_MAX_WEBSOCKETS", "10000")),
            max_body_bytes=int(env.get("INBOX_MAX_BODY_BYTES", str(256 * 1024))),
            cors_origins=tuple(o.strip() for o in env.get("INBOX_CORS_ORIGINS", "").split(",") if o.strip()),
            shutdown_grace_seconds=float(env.get("INBOX_SHUTDOWN_GRACE_SECONDS", "10")),
            trusted_documents=Path(env["INBOX_TRUSTED_DOCUMENTS"]) if env.get("INBOX_TRUSTED_DOCUMENTS") else None,
            fast_path=parse_switch(env.get("INBOX_FAST_PATH", "on"), "INBOX_FAST_PATH"),
            media_secret=env.get("INBOX_MEDIA_SECRET") or None,
            media_url_ttl_seconds=int(env.get("INBOX_MEDIA_URL_TTL_SECONDS", "3600")),
            uploads_per_hour=int(env.get("INBOX_UPLOADS_PER_HOUR", "60")),
            public_url=(env.get("INBOX_PUBLIC_URL") or "").rstrip("/") or None,
            s3_bucket=env.get("INBOX_S3_BUCKET") or None,
            s3_endpoint_url=env.get("INBOX_S3_ENDPOINT_URL") or None,
            s3_region=env.get("INBOX_S3_REGION", "us-east-1"),
            image_cleanup_seconds=float(env.get("INBOX_IMAGE_CLEANUP_SECONDS", "600")),
            webhook_dispatch=parse_switch(env.get("INBOX_WEBHOOK_DISPATCH", "on"), "INBOX_WEBHOOK_DISPATCH"),
            webhook_allow_private=env.get("INBOX_WEBHOOK_ALLOW_PRIVATE", "") == "1",
            webhook_timeout_seconds=float(env.get("INBOX_WEBHOOK_TIMEOUT_SECONDS", "5")),
            webhook_lease_seconds=float(env.get("INBOX_WEBHOOK_LEASE_SECONDS", "15")),
            webhook_poll_seconds=float(env.get("INBOX_WEBHOOK_POLL_SECONDS", "1")),
            webhook_retry_scale=float(env.get("INBOX_WEBHOOK_RETRY_SCALE", "1")),
            webhook_concurrency=int(env.get("INBOX_WEBHOOK_CONCURRENCY", "32")),
            webhook_endpoint_concurrency=int(env.get("INBOX_WEBHOOK_ENDPOINT_CONCURRENCY", "4")),
        )
