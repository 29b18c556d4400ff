"""Lifecycles as state machines: a connection's, the node's, and the node's ordered parts.

A connection::

    OPENING ──greeted──► OPEN ──close started──► CLOSING ──socket gone──► CLOSED
       │                   └──────────socket gone (no close handshake)──────▲
       └──refused or closed before accept──► CLOSING / socket gone ─────────┘

- OPENING: the handshake succeeded and the connection is registered; an ``on_connect``
  hook may still be deciding, its messages wait in ``backlog``. Nothing is routed yet.
- OPEN: greeted (``welcome`` sent), indexed by user; messages are routed.
- CLOSING: a close was started, by either side: nothing more is queued or routed.
- CLOSED: the socket is gone and the node has forgotten the connection. Final.

The node::

    STARTING ──every part started──► READY ──drain──► DRAINING ──every part stopped──► STOPPED
        └──────────────a part failed to start (the started ones are stopped)───────────────▲

``/ready`` is 200 only in READY; new WebSocket upgrades are refused (503) from DRAINING on,
once the drain's grace (``drain_grace``) is over.
Only :meth:`Connection.enter` and :meth:`NodeLifecycle.enter` change a state, and each
refuses a transition that is not in its table (a bug, not a client's doing).

The node's parts (admin port, broker, listener, timers, ...) are :class:`Part`\\ s started
in a list's order and stopped in the reverse order, so what a part needs is started before
it and stopped after it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

import structlog

from ..errors import LifecycleError

log = structlog.get_logger("switchboard.lifecycle")


class Phase(IntEnum):
    """Where a connection is in its life (see the module's picture)."""

    OPENING = 1
    OPEN = 2
    CLOSING = 3
    CLOSED = 4


PHASES: dict[Phase, frozenset[Phase]] = {
    Phase.OPENING: frozenset({Phase.OPEN, Phase.CLOSING, Phase.CLOSED}),
    Phase.OPEN: frozenset({Phase.CLOSING, Phase.CLOSED}),
    Phase.CLOSING: frozenset({Phase.CLOSED}),
    Phase.CLOSED: frozenset(),
}


class NodeState(IntEnum):
    """Where the node is in its life (see the module's picture)."""

    STARTING = 1
    READY = 2
    DRAINING = 3
    STOPPED = 4


NODE_STATES: dict[NodeState, frozenset[NodeState]] = {
    NodeState.STARTING: frozenset({NodeState.READY, NodeState.STOPPED}),
    NodeState.READY: frozenset({NodeState.DRAINING}),
    NodeState.DRAINING: frozenset({NodeState.STOPPED}),
    NodeState.STOPPED: frozenset(),
}


S = TypeVar("S", bound=IntEnum)


def check(table: Mapping[S, frozenset[S]], current: S, new: S) -> None:
    """Refuse ``current -> new`` unless ``table`` has it."""
    if new not in table[current]:
        raise LifecycleError(f"{current.name} -> {new.name} is not a transition")


class NodeLifecycle:
    """The node's state: the one place ``/ready``, the drain and the node registry read."""

    __slots__ = ("refusing", "state", "watchers")

    def __init__(self) -> None:
        self.state = NodeState.STARTING
        #: Called with the new state after each change (the node registry's announcer).
        self.watchers: list[Callable[[NodeState], None]] = []
        #: Set by the drain once its grace is over (at once without one): upgrades get 503.
        self.refusing = False

    def enter(self, state: NodeState) -> None:
        check(NODE_STATES, self.state, state)
        log.info("node_state", state=state.name.lower(), previous=self.state.name.lower())
        self.state = state
        for watcher in self.watchers:
            watcher(state)

    @property
    def ready(self) -> bool:
        return self.state is NodeState.READY

    @property
    def draining(self) -> bool:
        """True from the drain on: ``/ready`` says 503, the registry says draining."""
        return self.state >= NodeState.DRAINING

    @property
    def accepting(self) -> bool:
        """Whether new WebSocket upgrades are taken: until the drain's grace is over."""
        return not self.refusing and self.state < NodeState.STOPPED


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a running node: started in order, stopped in reverse."""

    name: str
    start: Callable[[], Awaitable[None]]
    stop: Callable[[], Awaitable[None]]


class Parts:
    """A node's parts, in start order."""

    __slots__ = ("_started", "parts")

    def __init__(self, parts: list[Part]) -> None:
        self.parts = parts
        self._started: list[Part] = []

    async def start(self) -> None:
        """Start every part in order; if one fails, stop those already started, re-raise."""
        for part in self.parts:
            try:
                await part.start()
            except BaseException:
                await self.stop()
                raise
            self._started.append(part)

    async def stop(self) -> None:
        """Stop the started parts, last first; a part that fails to stop is logged and the
        others are still stopped."""
        while self._started:
            part = self._started.pop()
            try:
                await part.stop()
            except Exception:
                log.exception("part_stop_failed", part=part.name)
