"""The edge's connections to the central cluster: a few ``switchboard.client`` clients,
requests spread over them, and the bounded wait while they are away.

Each client reconnects by itself with a full-jitter backoff and resumes its channels from
their offsets (``client/client.py``). What this module adds is the multiplexing and the
buffer: a request names a *key* (a local connection id, a channel) that always picks the
same upstream connection, so one client's requests, or one channel's, keep their order;
while that connection is down the request waits for it, at most ``edge_timeout`` s and at
most ``edge_buffer`` requests at a time across the edge; past either it fails with
:class:`~switchboard.errors.BrokerUnavailable` (the client gets ``UNAVAILABLE``), never
sent later behind its back.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from ..client import Client
from ..errors import BrokerUnavailable, ConnectionLost

log = structlog.get_logger("switchboard.edge")

#: A frame the central sent that answers no request (``broadcast``, ``direct``, ...).
FrameCallback = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class UpstreamOptions:
    """How the edge reaches the central cluster (``config/edge.py`` has the settings)."""

    url: str
    token: str | None = None
    connections: int = 2
    buffer: int = 1000
    timeout: float = 10.0
    backoff_base: float = 0.5
    backoff_max: float = 10.0


@dataclass(slots=True)
class UpstreamCounts:
    """What the edge's upstream did, since start (metrics and ``docs/edge.md``)."""

    #: Requests sent upstream (forwarded messages and broker calls alike).
    requests: int = 0
    #: Requests that had to wait for an upstream connection to come back.
    buffered: int = 0
    #: Requests refused with UNAVAILABLE: the buffer was full, the wait or the answer timed
    #: out, or the connection dropped before the answer.
    unavailable: int = 0


class Upstream:
    """``connections`` clients of the central; see the module docstring."""

    def __init__(self, options: UpstreamOptions) -> None:
        self.options = options
        self.clients = [
            Client(
                options.url,
                token=options.token,
                backoff_base=options.backoff_base,
                backoff_max=options.backoff_max,
                request_timeout=options.timeout,
                compression=None,  # small frames between two servers: not worth zlib's time
            )
            for _ in range(options.connections)
        ]
        self.counts = UpstreamCounts()
        #: Requests waiting for their connection just now.
        self.waiting = 0

    async def start(self) -> None:
        """Connect every client; raises :class:`BrokerUnavailable` when the central refuses
        the edge for good (a bad token) or is not reached within ``timeout``."""
        try:
            connecting = asyncio.gather(*(client.connect() for client in self.clients))
            await asyncio.wait_for(connecting, self.options.timeout)
        except (ConnectionLost, TimeoutError):
            await self.close()
            code = next((c.close_code for c in self.clients if c.close_code is not None), None)
            # The code ending a client: an HTTP status (403) or a close code (4403).
            reason = f"answered {code}" if code is not None else "no answer in time"
            raise BrokerUnavailable(
                f"the upstream {self.options.url} refused the edge ({reason})"
            ) from None
        log.info("edge_upstream_connected", upstream=self.options.url, connections=len(self))

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self.clients))

    def __len__(self) -> int:
        return len(self.clients)

    def client_for(self, key: str) -> Client:
        """The upstream connection that carries everything of ``key`` (stable: crc32)."""
        return self.clients[zlib.crc32(key.encode()) % len(self.clients)]

    @property
    def primary(self) -> Client:
        """The connection the edge takes broadcasts from (every one gets each broadcast)."""
        return self.clients[0]

    def on(self, message_type: str, callback: FrameCallback, *, primary: bool = False) -> None:
        """Call ``callback`` with the ``message_type`` frames of every connection, or of the
        primary one only."""
        for client in [self.primary] if primary else self.clients:
            client.on(message_type, callback)

    def up(self) -> bool:
        """Whether every upstream connection is up (the edge's ``/ready``)."""
        return all(client.connected for client in self.clients)

    async def ready(self, client: Client) -> None:
        """Wait for ``client`` to be up: within the buffer's bound and ``timeout``."""
        if client.connected:
            return
        if self.waiting >= self.options.buffer:
            self.counts.unavailable += 1
            raise BrokerUnavailable("the upstream is unreachable and the edge's buffer is full")
        self.waiting += 1
        self.counts.buffered += 1
        try:
            # wait_for, not asyncio.timeout: a serial route's first step runs outside a task.
            await asyncio.wait_for(client.connect(), self.options.timeout)
        except (TimeoutError, ConnectionLost):
            self.counts.unavailable += 1
            raise BrokerUnavailable("the upstream stayed unreachable") from None
        finally:
            self.waiting -= 1

    async def request(self, key: str, message_type: str, **fields: Any) -> dict[str, Any]:
        """Send a request on ``key``'s connection (waiting for it if need be); the frame
        that answers it, or :class:`~switchboard.errors.ErrorReply` for an error frame."""
        client = self.client_for(key)
        await self.ready(client)
        self.counts.requests += 1
        try:
            return await client.request(message_type, **fields)
        except (ConnectionLost, TimeoutError):
            self.counts.unavailable += 1
            raise BrokerUnavailable("the upstream dropped before answering") from None
