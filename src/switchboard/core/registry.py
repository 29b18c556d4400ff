"""The node's open connections, by connection id."""

from __future__ import annotations

from collections.abc import Iterator

from ..protocol.wire import Wire
from .connection import Connection


class Registry:
    """Connections by id; the one place that knows how many are open, and on which wires."""

    __slots__ = ("_by_id", "_wires", "only_wire")

    def __init__(self) -> None:
        self._by_id: dict[str, Connection] = {}
        self._wires: dict[Wire, int] = {}
        #: The wire every open connection uses, when they all use one (else None): fan-out
        #: then frames once without looking at each connection.
        self.only_wire: Wire | None = None

    def add(self, conn: Connection) -> None:
        self._by_id[conn.id] = conn
        wires = self._wires
        wires[conn.wire] = wires.get(conn.wire, 0) + 1
        self._settle()

    def remove(self, conn: Connection) -> None:
        if self._by_id.pop(conn.id, None) is None:
            return
        wires = self._wires
        left = wires[conn.wire] - 1
        if left:
            wires[conn.wire] = left
        else:
            del wires[conn.wire]
        self._settle()

    def _settle(self) -> None:
        wires = self._wires
        self.only_wire = next(iter(wires)) if len(wires) == 1 else None

    def get(self, conn_id: str) -> Connection | None:
        return self._by_id.get(conn_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Connection]:
        return iter(self._by_id.values())

    def snapshot(self) -> list[Connection]:
        """A list copy, safe to iterate while connections open and close."""
        return list(self._by_id.values())
