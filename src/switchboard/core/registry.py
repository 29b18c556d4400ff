"""The node's open connections, by connection id."""

from __future__ import annotations

from collections.abc import Iterator

from .connection import Connection


class Registry:
    """Connections by id; the one place that knows how many are open."""

    __slots__ = ("_by_id",)

    def __init__(self) -> None:
        self._by_id: dict[str, Connection] = {}

    def add(self, conn: Connection) -> None:
        self._by_id[conn.id] = conn

    def remove(self, conn: Connection) -> None:
        self._by_id.pop(conn.id, None)

    def get(self, conn_id: str) -> Connection | None:
        return self._by_id.get(conn_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Connection]:
        return iter(self._by_id.values())

    def snapshot(self) -> list[Connection]:
        """A list copy, safe to iterate while connections open and close."""
        return list(self._by_id.values())
