"""Choice of the broker implementation from the configuration."""

from __future__ import annotations

from .broker import Broker
from .memory import InProcessBroker
from .redis import RedisBroker


def create_broker(redis_url: str | None) -> Broker:
    """Redis broker when a URL is configured (several processes), in-process otherwise."""
    return RedisBroker(redis_url) if redis_url else InProcessBroker()
