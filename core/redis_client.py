"""The Redis client of every shared part (rate limits, persisted queries, typing gate, socket leases):
a plain client, or a Redis Cluster client that routes each command to its key's node.

Every script and MULTI here touches one key, or keys sharing a hash tag (`{...}`), so each runs on
one node of a cluster as it does on a single Redis."""

from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import RedisError

# Redis unreachable, as each shared part fails open on it. Besides RedisError and OSError: redis-py 8.1
# lets a write on a connection its peer closed raise the transport's own error (TypeError, AttributeError,
# uvloop's RuntimeError) instead of ConnectionError (redis/redis-py#4287); seen in the fault run when a
# cluster master dies.
REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (RedisError, OSError, TypeError, AttributeError, RuntimeError)
SHARED_TIMEOUTS: dict[str, Any] = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


def redis_client(url: str, cluster: bool = False, **options: Any) -> Redis:
    """A client for `url`: any node of the cluster when `cluster` (the others are discovered)."""
    if cluster:
        # RedisCluster has Redis's commands; typed as Redis so that callers need not tell them apart.
        return RedisCluster.from_url(url, **options)  # type: ignore[return-value]
    return Redis.from_url(url, **options)
