"""Scripts a node runs in one loop pass go to Redis in one pipeline: one round trip, in order.

Only one pipeline is in flight at a time; what is asked meanwhile waits for the next one, so
batches grow with the load (as Nagle's algorithm does) and every script runs in the order it
was asked for, which keeps one node's publications and dispatches in order.

A script whose first argument is :data:`DEADLINE` gets, when its pipeline is sent, the time
(in Redis's clock) after which it must not run: the node stops waiting for the reply after
the client's command timeout and answers UNAVAILABLE, and a script Redis runs later (it was
paused, say) refuses itself instead of doing what the node already said failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import redis.exceptions

from ...errors import BrokerUnavailable
from .client import UNAVAILABLE

#: (script SHA, or "" for a plain command; keys; arguments, or the command and its
#: arguments; the future of its result).
_Call = tuple[str, list[Any], list[Any], "asyncio.Future[Any]"]


#: Placeholder for the deadline (see the module docstring).
DEADLINE = object()
#: How much sooner than the command timeout a script stops being allowed to run: room for
#: the error of the clock offset and the trip back.
DEADLINE_MARGIN_MS = 500


def _sha(source: str) -> str:
    return hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


class Batch:
    """Scripts and commands queued and sent in pipelines (see the module docstring)."""

    def __init__(self, client: Any, command_timeout: float) -> None:
        self._redis = client
        self._timeout_ms = round(command_timeout * 1000)
        #: Redis's clock minus this machine's, in ms (kept by the registry's refresh).
        self.clock_offset_ms = 0
        self._queue: list[_Call] = []
        self._sources: dict[str, str] = {}
        self._running = False
        self._drainer: asyncio.Future[None] | None = None
        #: Pipelines sent and scripts run through them, for the benchmark and the tests.
        self.pipelines = 0
        self.calls = 0
        #: Whether the last pipeline could not reach Redis.
        self.failing = False

    def run(self, source: str, keys: list[Any], args: list[Any]) -> asyncio.Future[Any]:
        """Queue ``source`` (a Lua script) with ``keys`` and ``args``; the future gets its
        result, or :class:`BrokerUnavailable`."""
        sha = self._sources.get(source)
        if sha is None:
            sha = _sha(source)
            self._sources[source] = sha
        return self._queue_call(sha, keys, args)

    def redis_time_ms(self) -> int:
        """Now, in Redis's clock (as last measured)."""
        return round(time.time() * 1000) + self.clock_offset_ms

    def command(self, *args: Any) -> asyncio.Future[Any]:
        """Queue a plain command (``"HSET", key, field, value``), in order with the rest."""
        return self._queue_call("", [], list(args))

    def _queue_call(self, sha: str, keys: list[Any], args: list[Any]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((sha, keys, args, future))
        if not self._running:
            self._running = True
            self._drainer = asyncio.ensure_future(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            while self._queue:
                calls, self._queue = self._queue, []
                await self._send(calls)
        finally:
            self._running = False

    async def _send(self, calls: list[_Call], reloaded: bool = False) -> None:
        pipe = self._redis.pipeline(transaction=False)
        deadline = self.redis_time_ms() + self._timeout_ms - DEADLINE_MARGIN_MS
        for sha, keys, args, _ in calls:
            if args and args[0] is DEADLINE:
                args = [deadline, *args[1:]]
            if sha:
                pipe.evalsha(sha, len(keys), *keys, *args)
            else:
                pipe.execute_command(*args)
        self.pipelines += 1
        self.calls += len(calls)
        try:
            results = await pipe.execute(raise_on_error=False)
        except UNAVAILABLE as exc:
            self.failing = True
            _fail(calls, BrokerUnavailable(f"redis script failed: {type(exc).__name__}"))
            return
        self.failing = False
        missing: list[_Call] = []
        for call, result in zip(calls, results, strict=True):
            future = call[3]
            if isinstance(result, redis.exceptions.NoScriptError) and not reloaded:
                missing.append(call)
            elif isinstance(result, Exception):
                error = BrokerUnavailable(f"redis script failed: {type(result).__name__}")
                _settle(future, error=error)
            else:
                _settle(future, result=result)
        if missing:
            # Redis does not have the scripts (first use, or it restarted): load, run again.
            try:
                for source, sha in self._sources.items():
                    if any(call[0] == sha for call in missing):
                        await self._redis.script_load(source)
            except UNAVAILABLE as exc:
                _fail(missing, BrokerUnavailable(f"redis script failed: {type(exc).__name__}"))
                return
            await self._send(missing, reloaded=True)


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _fail(calls: list[_Call], error: BrokerUnavailable) -> None:
    for call in calls:
        _settle(call[3], error=error)
