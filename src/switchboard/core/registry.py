"""The node's open connections, by connection id and by user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import structlog

from ..protocol.wire import Wire
from .connection import Connection

log = structlog.get_logger("switchboard.registry")


class Registry:
    """Connections by id and by user; the one place that knows how many are open, and on
    which wires."""

    __slots__ = ("_by_id", "_indexed", "_wires", "only_wire", "users")

    def __init__(self) -> None:
        self._by_id: dict[str, Connection] = {}
        self._wires: dict[Wire, int] = {}
        #: The wire every open connection uses, when they all use one (else None): fan-out
        #: then frames once without looking at each connection.
        self.only_wire: Wire | None = None
        #: user -> their accepted connections on this node (see :meth:`index_user`).
        self.users: dict[Any, set[Connection]] = {}
        #: connection -> the user it is indexed under: what leaves the index is what went
        #: in, whatever ``conn.user`` says by then.
        self._indexed: dict[Connection, Any] = {}

    def add(self, conn: Connection) -> None:
        self._by_id[conn.id] = conn
        wires = self._wires
        wires[conn.wire] = wires.get(conn.wire, 0) + 1
        self._settle()

    def index_user(self, conn: Connection) -> None:
        """Index a registered connection by its user, in place of the user it was indexed
        under before (a user that cannot be a dict key is not indexed)."""
        self._unindex(conn)
        user = conn.user
        if user is None or conn.id not in self._by_id:
            return
        try:
            self.users.setdefault(user, set()).add(conn)
        except TypeError:
            log.warning("user_not_indexable", connection_id=conn.id)
            return
        self._indexed[conn] = user

    def _unindex(self, conn: Connection) -> None:
        user = self._indexed.pop(conn, _NOT_INDEXED)
        if user is _NOT_INDEXED:
            return
        mine = self.users[user]
        mine.discard(conn)
        if not mine:
            del self.users[user]

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
        indexed = self._indexed.get(conn)
        self._unindex(conn)
        if conn.accepted and conn.user is not None and indexed != conn.user:
            try:
                hash(conn.user)
            except TypeError:
                return  # logged as user_not_indexable when indexed
            # Assigned to ``conn.user`` after the welcome: sends to that user missed it.
            log.warning("user_set_without_set_user", connection_id=conn.id, user=conn.user)

    def _settle(self) -> None:
        wires = self._wires
        self.only_wire = next(iter(wires)) if len(wires) == 1 else None

    def get(self, conn_id: str) -> Connection | None:
        return self._by_id.get(conn_id)

    def of_user(self, user: Any) -> list[Connection]:
        """``user``'s accepted connections on this node (none for a user no key can be)."""
        return list(self.users.get(_key(user), ()))

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Connection]:
        return iter(self._by_id.values())

    def snapshot(self) -> list[Connection]:
        """A list copy, safe to iterate while connections open and close."""
        return list(self._by_id.values())


def _key(user: Any) -> Any:
    """``user`` when it can be a dict key, else a value no user equals."""
    try:
        hash(user)
    except TypeError:
        return _UNHASHABLE
    return user


_UNHASHABLE = object()
_NOT_INDEXED = object()
