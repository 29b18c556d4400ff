"""The Redis broker: one cluster of every node started with the same Redis and prefix."""

from .broker import RedisBroker
from .client import SCHEMES, connect

__all__ = ["SCHEMES", "RedisBroker", "connect"]
