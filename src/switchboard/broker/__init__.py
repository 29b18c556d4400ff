"""Brokers: the one path between connections (publications with history, presence, and
dispatches: broadcasts, direct messages, disconnects); memory now, Redis later."""

from ..errors import BrokerUnavailable
from .base import (
    Broker,
    BrokerHandler,
    Dispatch,
    DispatchKind,
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
    "Dispatch",
    "DispatchKind",
    "HistoryOptions",
    "MemoryBroker",
    "Publication",
    "Recovery",
    "StreamPosition",
]
