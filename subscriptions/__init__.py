"""Pub/sub of inbox events between the GraphQL subscriptions of one or several processes."""

from .broker import (
    RESYNC,
    SYSTEM_CHANNEL,
    Broker,
    SlowConsumer,
    Subscription,
    participant_channel,
)
from .factory import create_broker
from .memory import InProcessBroker
from .redis import RedisBroker

__all__ = [
    "RESYNC",
    "SYSTEM_CHANNEL",
    "Broker",
    "InProcessBroker",
    "RedisBroker",
    "SlowConsumer",
    "Subscription",
    "create_broker",
    "participant_channel",
]
