"""The scenarios, one module each; every one exposes ``async def run(ctx: Context)``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..context import Context
from . import broadcast, channels, connect, echo, storm

SCENARIOS: dict[str, Callable[[Context], Awaitable[None]]] = {
    "connect": connect.run,
    "echo": echo.run,
    "broadcast": broadcast.run,
    "channels": channels.run,
    "storm": storm.run,
}
