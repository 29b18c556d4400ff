"""Run a coroutine right away, and only make it a task if it has to wait.

The same idea as Python 3.12's eager tasks (``asyncio.eager_task_factory``), for 3.11:
a channel request on the embedded broker never waits, so it completes inside the call
that received it, with no task and no extra event-loop pass; against a remote broker it
suspends on its first I/O and the rest continues in a task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from functools import partial
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
    loop = asyncio.get_running_loop()
    while True:
        try:
            if waiting_for is None:  # a bare yield (asyncio.sleep(0))
                await asyncio.sleep(0)
            elif not waiting_for.done():
                # Wake when it is done, leaving its outcome for the coroutine to read (a
                # plain future and a callback: asyncio.wait costs several times as much).
                waiting_for._asyncio_future_blocking = False  # as a Task does
                woken = loop.create_future()
                waiting_for.add_done_callback(partial(_wake, woken))
                await woken
        except asyncio.CancelledError:
            coro.close()
            raise
        try:
            waiting_for = coro.send(None)
        except StopIteration:
            return


def _wake(woken: asyncio.Future[None], _: object) -> None:
    if not woken.done():
        woken.set_result(None)
