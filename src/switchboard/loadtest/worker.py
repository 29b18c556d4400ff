"""One load generator: a process of its own (``--processes K`` > 1), or a thread of the
command's process; it runs its share of the scenario on uvloop where available and sends
progress snapshots, then its :class:`~.result.Result`, to the parent through ``outbox``."""

from __future__ import annotations

import asyncio
import signal
import traceback
from collections.abc import Coroutine
from typing import Any, Protocol

from .context import Barrier, Context, Flag
from .plan import Plan, raise_file_limit
from .scenarios import SCENARIOS

#: Seconds between two progress snapshots.
PROGRESS_EVERY = 0.5


class Outbox(Protocol):
    def put(self, item: Any) -> None: ...


def run_worker(
    plan: Plan, worker: int, outbox: Outbox, barrier: Barrier, stop: Flag, own_process: bool
) -> None:
    """Run worker ``worker`` of ``plan``; every outcome ends in ``outbox``: ``("result", n,
    Result)`` or ``("error", n, text)``, after any number of ``("progress", n, dict)``."""
    if own_process:
        # Ctrl-C reaches the whole process group: the parent alone decides, through ``stop``.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise_file_limit()
    ctx = Context(plan, worker, barrier, stop)
    try:
        run_loop(_main(ctx, outbox))
    except BaseException as exc:
        barrier.abort()  # the others must not wait at the start line for this one
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        outbox.put(("error", worker, detail))
        if not isinstance(exc, Exception):
            raise
        return
    outbox.put(("progress", worker, ctx.live.snapshot()))
    outbox.put(("result", worker, ctx.result))


async def _main(ctx: Context, outbox: Outbox) -> None:
    async def report() -> None:
        while True:
            outbox.put(("progress", ctx.worker, ctx.live.snapshot()))
            await asyncio.sleep(PROGRESS_EVERY)

    reporter = asyncio.create_task(report())
    try:
        await SCENARIOS[ctx.plan.scenario.value](ctx)
    finally:
        reporter.cancel()
    ctx.live.phase = "done"


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on a new uvloop loop (asyncio's own when uvloop is not installed)."""
    try:
        import uvloop
    except ImportError:  # uvloop has no Windows build
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)
