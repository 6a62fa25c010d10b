"""Choice of the broker implementation from the configuration."""

from __future__ import annotations

from .broker import Broker
from .cluster import ClusterBroker
from .memory import InProcessBroker
from .redis import RedisBroker


def create_broker(redis_url: str | None, cluster: bool = False) -> Broker:
    """Redis broker when a URL is configured (several processes), in-process otherwise; a Redis
    Cluster gets sharded pub/sub across its masters."""
    if not redis_url:
        return InProcessBroker()
    return ClusterBroker(redis_url) if cluster else RedisBroker(redis_url)
