"""What a node asks of Redis in one loop pass goes in one pipeline: one round trip, in order.

Only one pipeline is in flight at a time; what is asked meanwhile waits for the next one, so
batches grow with the load (as Nagle's algorithm does) and every call runs in the order it
was asked for, which keeps one node's publications and dispatches in order.

Script calls (:mod:`.scripts`) that follow each other go in one EVALSHA of
:data:`~.scripts.BATCH`, up to :data:`CALLS_PER_SCRIPT` of them: redis-py's cost is per
command, so a pass of 100 publications costs about what one did. Plain commands (the
registry's writes) go between them in the same pipeline.

A batch holding a timed call (a publish, a dispatch) carries the time, in Redis's clock, after
which those calls must not run: the node stops waiting for the reply after the client's
command timeout and answers UNAVAILABLE, and a call Redis runs later (it was paused, say)
refuses itself instead of doing what the node already said failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import hiredis
import msgspec
import redis.exceptions

from ...errors import BrokerUnavailable
from .client import UNAVAILABLE
from .scripts import BATCH

#: (the script function's name, or "" for a plain command; keys; arguments, or the command
#: and its arguments; the future of its result).
_Call = tuple[str, list[Any], list[Any], "asyncio.Future[Any]"]

#: How much sooner than the command timeout a timed call stops being allowed to run: room for
#: the error of the clock offset and the trip back.
DEADLINE_MARGIN_MS = 500
#: Script calls per EVALSHA at most: a longer run of calls is split, so one script does not
#: hold Redis for long.
CALLS_PER_SCRIPT = 256

_BATCH_SHA = hashlib.sha1(BATCH.encode(), usedforsecurity=False).hexdigest()
_encode_plan = msgspec.msgpack.Encoder().encode


class Batch:
    """Calls queued and sent in pipelines (see the module docstring)."""

    def __init__(self, client: Any, command_timeout: float) -> None:
        self._redis = client
        self._timeout_ms = round(command_timeout * 1000)
        #: Redis's clock minus this machine's, in ms (kept by the registry's refresh).
        self.clock_offset_ms = 0
        self._queue: list[_Call] = []
        self._running = False
        self._drainer: asyncio.Future[None] | None = None
        #: Pipelines sent and calls made through them, for the benchmark and the tests.
        self.pipelines = 0
        self.calls = 0
        #: Whether the last pipeline could not reach Redis.
        self.failing = False

    def run(self, function: str, keys: list[Any], args: list[Any]) -> asyncio.Future[Any]:
        """Queue a call of the script function ``function`` with ``keys`` and ``args``; the
        future gets its result, or :class:`BrokerUnavailable`."""
        return self._queue_call(function, keys, args)

    def redis_time_ms(self) -> int:
        """Now, in Redis's clock (as last measured)."""
        return round(time.time() * 1000) + self.clock_offset_ms

    def command(self, *args: Any) -> asyncio.Future[Any]:
        """Queue a plain command (``"HSET", key, field, value``), in order with the rest."""
        return self._queue_call("", [], list(args))

    def _queue_call(self, function: str, keys: list[Any], args: list[Any]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((function, keys, args, future))
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
        deadline = self.redis_time_ms() + self._timeout_ms - DEADLINE_MARGIN_MS
        groups = _grouped(calls)
        commands: list[tuple[Any, ...]] = []
        for group in groups:
            if group[0][0]:
                plan: list[Any] = []
                keys: list[Any] = []
                args: list[Any] = [deadline, b""]
                for function, call_keys, call_args, _ in group:
                    plan += (function, len(call_keys), len(call_args))
                    keys += call_keys
                    args += call_args
                args[1] = _encode_plan(plan)
                commands.append(("EVALSHA", _BATCH_SHA, len(keys), *keys, *args))
            else:
                commands.append(tuple(group[0][2]))
        self.pipelines += 1
        self.calls += len(calls)
        try:
            results = await self._round_trip(commands)
        except UNAVAILABLE as exc:
            self.failing = True
            _fail(calls, BrokerUnavailable(f"redis script failed: {type(exc).__name__}"))
            return
        self.failing = False
        missing: list[_Call] = []
        for group, result in zip(groups, results, strict=True):
            if isinstance(result, redis.exceptions.NoScriptError) and not reloaded:
                missing += group
            elif isinstance(result, Exception) or not group[0][0]:
                for call in group:  # a plain command, or a script that did not run
                    _settle(call[3], result)
            else:
                for call, one in zip(group, result, strict=True):
                    _settle(call[3], one)
        if missing:
            # Redis does not have the script (first use, or it restarted): load, run again.
            try:
                await self._redis.script_load(BATCH)
            except UNAVAILABLE as exc:
                _fail(missing, BrokerUnavailable(f"redis script failed: {type(exc).__name__}"))
                return
            await self._send(missing, reloaded=True)

    async def _round_trip(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send ``commands`` in one write and read their replies: a reply, or the
        ``ResponseError`` Redis answered instead, per command.

        The pipeline, on one of the client's pooled connections, without redis-py's
        ``Pipeline``: its packing is Python (about 5 µs per publication's arguments), hiredis's
        is C (under 1 µs); and it reads one reply per command, which is few here."""
        pool = self._redis.connection_pool
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command([hiredis.pack_command(c) for c in commands])
            results: list[Any] = []
            for _ in commands:
                try:
                    results.append(await conn.read_response())
                except redis.exceptions.ResponseError as exc:
                    results.append(exc)
            return results
        except BaseException:
            # Replies may still be on their way: this connection cannot be used again.
            await conn.disconnect(nowait=True)
            raise
        finally:
            await pool.release(conn)


def _grouped(calls: list[_Call]) -> list[list[_Call]]:
    """Runs of script calls (at most :data:`CALLS_PER_SCRIPT` each), and each plain command
    alone, in order."""
    groups: list[list[_Call]] = []
    run: list[_Call] | None = None
    for call in calls:
        if not call[0]:
            groups.append([call])
            run = None
        elif run is None or len(run) >= CALLS_PER_SCRIPT:
            run = [call]
            groups.append(run)
        else:
            run.append(call)
    return groups


def _settle(future: asyncio.Future[Any], result: Any) -> None:
    if future.done():
        return
    if isinstance(result, Exception):
        future.set_exception(BrokerUnavailable(f"redis script failed: {_reason(result)}"))
    else:
        future.set_result(result)


def _reason(error: Exception) -> str:
    """What failed, in words safe for a log: the error's kind, and for a script's own refusal
    (``EXPIRED``) that word."""
    message = str(error)
    if message.startswith("EXPIRED"):
        return "EXPIRED"
    return type(error).__name__


def _fail(calls: list[_Call], error: BrokerUnavailable) -> None:
    for call in calls:
        if not call[3].done():
            call[3].set_exception(error)
