"""Edge nodes: a node near users whose broker is the central cluster (``docs/edge.md``)."""

from __future__ import annotations

from .broker import UpstreamBroker
from .forwarder import Forwarder
from .upstream import Upstream, UpstreamOptions

__all__ = ["Forwarder", "Upstream", "UpstreamBroker", "UpstreamOptions"]
