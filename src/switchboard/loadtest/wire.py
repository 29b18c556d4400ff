"""Connections of the load generator (the ``websockets`` asyncio client), the frames they
carry, and a short name for every way a connection can fail."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import inspect
import itertools
import struct
import time
from collections.abc import Iterable
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ..version import __version__
from .plan import Plan

#: ``proxy`` (websockets 15+, which follows proxy variables by default); older ones use none.
_NO_PROXY: dict[str, Any] = (
    {"proxy": None} if "proxy" in inspect.signature(connect.__init__).parameters else {}
)
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
#: A raw payload starts with its due time (``monotonic_ns``, big-endian); padding follows.
_STAMP = struct.Struct("!Q")


#: Dials made by this process, to take ``--source-address`` in turn.
_dials = itertools.count()


async def dial(plan: Plan) -> ClientConnection:
    """Open one connection as the plan says (URL, headers, token, compression).

    The client sends no pings of its own (the server's are answered): a load test measures
    the server's heartbeat, not the generator's. Proxies from the environment are ignored,
    since the loopback rule is about where the load really goes.
    """
    options = dict(_NO_PROXY)
    if plan.source_addresses:
        source = plan.source_addresses[next(_dials) % len(plan.source_addresses)]
        options["local_addr"] = (source, 0)  # passed on to loop.create_connection
    return await connect(
        plan.dial_url(),
        additional_headers=plan.dial_headers(),
        compression="deflate" if plan.compression else None,
        open_timeout=plan.open_timeout,
        ping_interval=None,
        close_timeout=1.0,
        max_size=None,
        user_agent_header=f"switchboard-bench/{__version__}",
        **options,
    )


def failure(exc: BaseException) -> str:
    """A short, countable reason for a failed connection attempt."""
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, TimeoutError):
        return "handshake timeout"
    if isinstance(exc, InvalidHandshake):
        return f"bad handshake ({type(exc).__name__})"
    if isinstance(exc, ConnectionClosed):
        return closed(exc)
    if isinstance(exc, OSError) and exc.errno is not None:
        return errno.errorcode.get(exc.errno, f"errno {exc.errno}")
    return type(exc).__name__


def closed(exc: ConnectionClosed) -> str:
    """``closed 4008`` for a close the server sent, ``closed 1006`` for a dropped one."""
    code = exc.rcvd.code if exc.rcvd is not None else 1006
    return f"closed {code}"


def now_ns() -> int:
    return time.monotonic_ns()


def padding(size: int) -> str:
    return "x" * size


def envelope(message: dict[str, Any]) -> bytes:
    return _encode(message)


def parse(frame: str | bytes) -> dict[str, Any] | None:
    """A decoded envelope, or None for a frame that is not a JSON object."""
    try:
        message = _decode(frame)
    except msgspec.DecodeError:
        return None
    return message if isinstance(message, dict) else None


def raw_payload(due_ns: int, size: int) -> bytes:
    return _STAMP.pack(due_ns) + b"x" * max(0, size - _STAMP.size)


def raw_stamp(frame: str | bytes) -> int | None:
    """The due time a raw payload carries (None for a frame too short to have one)."""
    data = frame.encode() if isinstance(frame, str) else frame
    if len(data) < _STAMP.size:
        return None
    return int(_STAMP.unpack_from(data)[0])


async def send_text(ws: ClientConnection, message: dict[str, Any]) -> None:
    """Send an envelope as a text frame (what ``v1.json`` expects)."""
    await ws.send(envelope(message).decode())


async def close_all(connections: Iterable[ClientConnection], within: float = 2.0) -> None:
    """Close every connection, politely for ``within`` seconds, then abruptly."""
    pending = [ws for ws in connections if ws.close_code is None]
    if not pending:
        return
    closes = [asyncio.ensure_future(ws.close()) for ws in pending]
    _, late = await asyncio.wait(closes, timeout=within)
    for task in late:
        task.cancel()
    for ws in pending:
        if ws.close_code is None:
            ws.transport.abort()
    with contextlib.suppress(Exception):
        await asyncio.gather(*closes, return_exceptions=True)
