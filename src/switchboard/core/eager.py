"""Run a coroutine right away, and only make it a task if it has to wait.

The same idea as Python 3.12's eager tasks (``asyncio.eager_task_factory``), for 3.11:
a channel request on the embedded broker never waits, so it completes inside the call
that received it, with no task and no extra event-loop pass; against a remote broker it
suspends on its first I/O and the rest continues in a task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

Started = tuple[Coroutine[Any, Any, None], Any]


def start_eagerly(coro: Coroutine[Any, Any, None]) -> Started | None:
    """Step ``coro`` until it first suspends. None when it already finished; else the
    coroutine and what it is waiting for, to hand to :func:`finish`. Exceptions raised
    before the first suspension propagate to the caller."""
    try:
        waiting_for = coro.send(None)
    except StopIteration:
        return None
    return coro, waiting_for


async def finish(started: Started) -> None:
    """Carry on a coroutine that :func:`start_eagerly` left suspended, as its task would."""
    coro, waiting_for = started
    while True:
        try:
            if waiting_for is None:  # a bare yield (asyncio.sleep(0))
                await asyncio.sleep(0)
            else:
                await asyncio.wait([waiting_for])  # done; the coroutine reads the outcome
        except asyncio.CancelledError:
            coro.close()
            raise
        try:
            waiting_for = coro.send(None)
        except StopIteration:
            return
