"""Stopping background tasks: the one way every part of the package does it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancelled(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel each of ``tasks`` (None: none there) and wait until it has ended; the
    ``CancelledError`` they end with is theirs, not raised here."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task
