"""Settings of the WebSocket port: address, limits, heartbeat, shutdown, subprotocols, deflate."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from ..core.outbox import SlowConsumerPolicy

MiB = 1024 * 1024
#: picows cannot parse a request head past 16 KiB whatever we set (the handshake reader
#: answers those 431 itself); our limit can only be lower.
PICOWS_MAX_HEADER_SIZE = 16 * 1024


class ServerSettings(BaseModel):
    """Where the WebSocket port listens and what one connection on it may do."""

    host: str = Field("0.0.0.0", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port (0 picks a free one).")
    path: str = Field("/ws", pattern=r"^/", description="URL path of the WebSocket endpoint.")
    max_message_size: int = Field(
        1 * MiB,
        ge=125,
        le=64 * MiB,
        description="Largest message accepted, counted across fragments; larger closes 1009.",
    )
    ping_interval: float = Field(
        30.0, ge=0, description="Seconds between heartbeat pings; 0 disables heartbeats."
    )
    ping_timeout: float = Field(
        20.0, gt=0, description="Seconds a pong may take before the connection is closed 4002."
    )
    max_connections: int = Field(
        0,
        ge=0,
        description="Open connections above which handshakes get HTTP 503; 0: as many as "
        "the open-file limit allows (RLIMIT_NOFILE minus fd_reserve), never more.",
    )
    fd_reserve: int = Field(
        2048,
        ge=64,
        description="File descriptors kept back from WebSocket connections, which are capped "
        "at RLIMIT_NOFILE minus this: half bound the admin port's connections, a quarter the "
        "handshakes in flight, the rest the broker and log files.",
    )
    drain_timeout: float = Field(
        10.0,
        ge=0,
        description="Seconds a drain may take: the waves of closes spread over at most half "
        "of it, then what is still open is dropped.",
    )
    drain_grace: float = Field(
        0.0,
        ge=0,
        le=300,
        description="Seconds a drain waits, draining (`/ready` 503) but still accepting, for "
        "the balancer to notice before the first close; behind a balancer, its health "
        "check's interval times its fall count.",
    )
    drain_rate: float = Field(
        1000.0,
        gt=0,
        description="Connections a drain closes per second at most (1012 with a jittered "
        "reconnect hint, in waves every 100 ms), so clients do not all come back at once.",
    )
    handshake_timeout: float = Field(
        5.0, gt=0, description="Seconds a client has to complete the HTTP upgrade."
    )
    close_timeout: float = Field(
        5.0, gt=0, description="Seconds to wait for the client's close frame before dropping it."
    )
    max_header_size: int = Field(
        8 * 1024,
        ge=1024,
        le=PICOWS_MAX_HEADER_SIZE,
        description="Largest total size of request headers; larger gets HTTP 431.",
    )
    read_buffer_size: int = Field(
        2048, ge=256, description="Initial per-connection read buffer (grows on demand)."
    )
    send_queue_limit: int = Field(
        4 * MiB,
        ge=64 * 1024,
        description="Bytes that may wait for one slow client before the slow-consumer policy.",
    )
    write_high_water: int = Field(
        256 * 1024, ge=1024, description="Socket buffer size above which frames wait in the queue."
    )
    slow_consumer_policy: SlowConsumerPolicy = Field(
        SlowConsumerPolicy.DISCONNECT,
        description="disconnect (close 4008) or drop_oldest (discard the oldest queued frames).",
    )
    raw_echo: bool = Field(
        False, description="Conformance mode: echo every message unchanged, no envelope."
    )
    unsupported_subprotocol: Literal["reject", "close"] = Field(
        "reject",
        description="A client offering only unknown subprotocols: reject (HTTP 400) or close "
        "(accept, then close 1002).",
    )
    compression: Literal["on", "off"] = Field(
        "on", description="permessage-deflate, negotiated whenever the client offers it."
    )
    compression_context_takeover: bool = Field(
        False,
        description="Let both sides keep compression context between messages (zlib state "
        "per connection; no compress-once).",
    )
    compression_window_bits: int = Field(
        15, ge=9, le=15, description="The server's deflate window, 2^N bytes (9-15)."
    )
    compression_memory_level: int = Field(
        8, ge=1, le=9, description="zlib memory level of the compressor (1-9)."
    )
    compression_level: int = Field(6, ge=1, le=9, description="zlib compression level (1-9).")
    compression_threshold: int = Field(
        256, ge=0, description="Messages shorter than this many bytes are sent uncompressed."
    )

    @model_validator(mode="after")
    def _queue_fits_a_message(self) -> Self:
        if self.send_queue_limit < self.max_message_size + 16:
            raise ValueError("send_queue_limit must be larger than max_message_size")
        return self
