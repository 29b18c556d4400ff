"""The cluster fixtures (Redis, nodes, HAProxy) for the end-to-end tests that need them."""

from __future__ import annotations

from ..cluster.conftest import balancer, redis_server, start_node

__all__ = ["balancer", "redis_server", "start_node"]
