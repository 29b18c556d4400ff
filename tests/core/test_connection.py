"""A connection's own state: application data per connection, and a slotted, small object."""

from __future__ import annotations

import pytest

from switchboard.core.connection import Connection

from .fakes import FakeTransport


def conn(conn_id: str = "c-1") -> Connection:
    return Connection(conn_id, FakeTransport(), "10.0.0.1:5000", 0.0)


def test_state_is_per_connection_and_kept_between_reads() -> None:
    a, b = conn("a"), conn("b")
    a.state["room"] = "lobby"
    assert a.state == {"room": "lobby"}
    assert b.state == {}
    b.state["room"] = "kitchen"
    assert a.state["room"] == "lobby"


def test_a_connection_is_slotted_so_idle_ones_stay_small() -> None:
    # Thousands sit idle: a per-instance __dict__ would cost each of them about 100 bytes.
    c = conn()
    assert not hasattr(c, "__dict__")
    with pytest.raises(AttributeError):
        c.nickname = "x"  # type: ignore[attr-defined]


def test_a_new_connection_is_open_not_yet_accepted_with_nothing_pending() -> None:
    c = conn()
    assert (c.accepted, c.closing, c.paused) == (False, False, False)
    assert (c.pending, c.pending_bytes, c.backlog) == (None, 0, None)
    assert c.user is None and c.roles == frozenset()


def test_repr_names_the_connection_and_its_peer() -> None:
    assert repr(conn("c-xyz")) == "<Connection c-xyz 10.0.0.1:5000>"
