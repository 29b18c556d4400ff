"""Eager start of coroutines: no task when nothing waits, faithful continuation when it does."""

from __future__ import annotations

import asyncio

import pytest

from switchboard.core.eager import finish, start_eagerly

from .fakes import next_loop_pass


async def test_a_coroutine_that_never_waits_finishes_inside_the_call() -> None:
    done: list[str] = []

    async def quick() -> None:
        done.append("quick")

    assert start_eagerly(quick()) is None
    assert done == ["quick"]


async def test_a_waiting_coroutine_continues_with_results_and_errors() -> None:
    log: list[object] = []
    loop = asyncio.get_running_loop()
    first: asyncio.Future[int] = loop.create_future()
    second: asyncio.Future[int] = loop.create_future()

    async def waits() -> None:
        log.append(await first)
        await asyncio.sleep(0)  # a bare yield: the other kind of suspension finish() follows
        try:
            await second
        except ValueError as exc:
            log.append(str(exc))

    started = start_eagerly(waits())
    assert started is not None
    task = asyncio.ensure_future(finish(started))
    loop.call_soon(first.set_result, 41)
    loop.call_later(0.01, second.set_exception, ValueError("from the future"))
    await asyncio.wait_for(task, 5)
    assert log == [41, "from the future"]


async def test_errors_after_suspension_reach_finish_and_cancel_stops_it() -> None:
    async def fails_later() -> None:
        loop = asyncio.get_running_loop()
        later: asyncio.Future[None] = loop.create_future()
        loop.call_soon(later.set_result, None)
        await later  # a real suspension, on a future
        raise RuntimeError("late")

    started = start_eagerly(fails_later())
    assert started is not None
    with pytest.raises(RuntimeError, match="late"):
        await finish(started)

    async def forever() -> None:
        await asyncio.Event().wait()

    started = start_eagerly(forever())
    assert started is not None
    task = asyncio.ensure_future(finish(started))
    await next_loop_pass()  # the task runs and waits with the coroutine
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
