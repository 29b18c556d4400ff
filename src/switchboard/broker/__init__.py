"""Brokers: where publications, channel history and presence live (memory now, Redis later)."""

from .base import (
    Broker,
    BrokerHandler,
    BrokerUnavailable,
    HistoryOptions,
    Publication,
    Recovery,
    StreamPosition,
)
from .memory import MemoryBroker

__all__ = [
    "Broker",
    "BrokerHandler",
    "BrokerUnavailable",
    "HistoryOptions",
    "MemoryBroker",
    "Publication",
    "Recovery",
    "StreamPosition",
]
