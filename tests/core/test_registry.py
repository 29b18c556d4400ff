"""The registry: connections by id, and the one wire they share when they all share one."""

from __future__ import annotations

from switchboard.core.connection import Connection
from switchboard.core.registry import Registry
from switchboard.protocol.codecs import MSGPACK
from switchboard.protocol.wire import PLAIN_JSON, Wire

from .fakes import FakeTransport

BINARY = Wire(MSGPACK)


def conn(conn_id: str, wire: Wire = PLAIN_JSON) -> Connection:
    return Connection(conn_id, FakeTransport(), "test", 0.0, wire)


def test_connections_are_found_by_id_until_removed() -> None:
    registry = Registry()
    a, b = conn("a"), conn("b")
    registry.add(a)
    registry.add(b)
    assert (registry.get("a"), registry.get("b"), registry.get("c")) == (a, b, None)
    assert len(registry) == 2 and set(registry) == {a, b}
    registry.remove(a)
    assert registry.get("a") is None
    assert list(registry) == [b] and len(registry) == 1
    assert not Registry()  # empty is falsy: ``wait_all_closed`` relies on it


def test_only_wire_follows_the_wires_in_use() -> None:
    registry = Registry()
    assert registry.only_wire is None
    text, binary, text2 = conn("t"), conn("b", BINARY), conn("t2")
    registry.add(text)
    assert registry.only_wire is PLAIN_JSON
    registry.add(text2)
    assert registry.only_wire is PLAIN_JSON
    registry.add(binary)
    assert registry.only_wire is None  # two wires: fan-out must look at each connection
    registry.remove(text)
    assert registry.only_wire is None  # text2 still uses the JSON wire
    registry.remove(text2)
    assert registry.only_wire is BINARY
    registry.remove(binary)
    assert registry.only_wire is None


def test_removing_twice_or_an_unknown_connection_changes_nothing() -> None:
    registry = Registry()
    text, binary = conn("t"), conn("b", BINARY)
    registry.add(text)
    registry.add(binary)
    registry.remove(binary)
    registry.remove(binary)  # the socket reported gone twice
    registry.remove(conn("stranger", BINARY))
    assert registry.only_wire is PLAIN_JSON and len(registry) == 1
    registry.add(conn("b2", BINARY))
    assert registry.only_wire is None  # the binary wire's count did not go below zero


def test_snapshot_is_a_copy_that_survives_closes_during_iteration() -> None:
    registry = Registry()
    conns = [conn(str(i)) for i in range(5)]
    for c in conns:
        registry.add(c)
    seen = []
    for c in registry.snapshot():
        registry.remove(c)  # a slow consumer closed mid fan-out
        seen.append(c)
    assert seen == conns
    assert len(registry) == 0 and registry.only_wire is None
