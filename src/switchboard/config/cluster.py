"""Settings of this node as a member of a cluster: its name and the broker all nodes share."""

from __future__ import annotations

import os
import re
import socket
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

#: URL schemes of the Redis broker (``broker = "memory"`` is the embedded one).
REDIS_SCHEMES = ("redis", "rediss", "redis+sentinel")


class ClusterSettings(BaseModel):
    """Who this node is among the others, and what connects them."""

    node_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        description="Name of this node in logs, welcome and the node registry (default: "
        "host name and process id, unique among the workers of one machine).",
    )
    advertise_url: str | None = Field(
        None,
        description="The WebSocket URL clients reach this node at, as the node registry "
        "lists it (default: ws:// or wss://, this host's name, `port` and `path`).",
    )
    broker: str = Field(
        "memory",
        description="`memory` (one process, the default), or the Redis every node of the "
        "cluster shares: `redis://host:port/db`, `rediss://` (TLS) or "
        "`redis+sentinel://host:port[,host:port]/service`; several URLs, comma-separated, "
        "shard the channels over them.",
    )
    broker_prefix: str = Field(
        "sb:",
        min_length=1,
        max_length=64,
        description="Prefix of every Redis key and topic: clusters sharing a Redis differ in it.",
    )
    registry_ttl: float = Field(
        10.0,
        ge=1.0,
        le=300.0,
        description="Seconds a node's entries (connections, users, presence) outlive its last "
        "refresh (every third of this): a crashed node's entries are gone after it.",
    )

    broker_timeout: float = Field(
        5.0,
        gt=0,
        le=60.0,
        description="Seconds a node waits for Redis to answer before the request gets "
        "UNAVAILABLE; what it asked is then refused by Redis too, never done later.",
    )

    workers: int | Literal["auto"] = Field(
        1,
        description="Processes serving the one WebSocket port (SO_REUSEPORT), each a node of "
        "the cluster over `broker`, under a supervisor that restarts a worker that dies; "
        "`auto`: one per core. More than one needs a shared broker (Redis).",
    )
    reuse_port: bool = Field(
        False,
        description="Bind the WebSocket port with SO_REUSEPORT, so several processes serve it "
        "(what `workers` sets for each worker).",
    )
    agent_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Port of the HAProxy agent-check responder, on `host` (off when unset): "
        "answers the node's weight from its load, `drain` while draining.",
    )
    route_endpoint: bool = Field(
        False,
        description="Answer `GET /route` on the WebSocket port: the least-loaded ready node's "
        "public URL (`GET /api/v1/route` on the admin port is always there).",
    )

    @field_validator("workers")
    @classmethod
    def _some_workers(cls, value: int | str) -> int | str:
        if value != "auto" and (not isinstance(value, int) or value < 1):
            raise ValueError("must be a whole number of at least 1, or `auto`")
        return value

    @field_validator("broker")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        # The message never repeats the value: a Redis URL may carry a password.
        if value == "memory":
            return value
        for url in re.split(r",(?=[a-z+]+://)", value):
            if urlsplit(url).scheme not in REDIS_SCHEMES or not urlsplit(url).netloc:
                raise ValueError(
                    "must be `memory`, or URLs starting with redis://, rediss:// or "
                    "redis+sentinel:// (several, comma-separated, shard the channels)"
                )
        return value
