"""Credential expiry timers on a real loop: fire once at the deadline, move, cancel."""

from __future__ import annotations

import asyncio
import time

from switchboard.core.connection import Connection
from switchboard.core.expiry import CredentialExpiry
from switchboard.core.lifecycle import Phase

from ..conftest import timeout, wait_until
from .fakes import FakeTransport


def conn(conn_id: str) -> Connection:
    return Connection(conn_id, FakeTransport(), "test", 0.0)


def make() -> tuple[CredentialExpiry, list[Connection]]:
    expired: list[Connection] = []
    return CredentialExpiry(asyncio.get_running_loop(), expired.append), expired


async def test_a_connection_expires_once_at_its_deadline_not_before() -> None:
    expiry, expired = make()
    soon, later = conn("soon"), conn("later")
    started = time.time()
    expiry.set(soon, started + timeout(0.05))
    expiry.set(later, started + timeout(60))
    assert len(expiry) == 2
    await wait_until(lambda: bool(expired))
    assert time.time() - started >= timeout(0.05) - 0.01  # uvloop timers: whole milliseconds
    assert expired == [soon]
    assert len(expiry) == 1  # a fired timer is forgotten


async def test_a_past_deadline_expires_at_the_next_loop_pass() -> None:
    expiry, expired = make()
    c = conn("late")
    expiry.set(c, time.time() - 100)
    assert expired == []  # never from inside ``set``
    await wait_until(lambda: bool(expired))
    assert expired == [c]


async def test_setting_again_moves_the_deadline_and_cancel_stops_it() -> None:
    expiry, expired = make()
    moved, cancelled, sentinel = conn("moved"), conn("cancelled"), conn("sentinel")
    deadline = time.time() + timeout(0.05)
    expiry.set(moved, deadline)
    expiry.set(moved, deadline + 3600)  # refreshed: a new token
    expiry.set(cancelled, deadline)
    expiry.cancel(cancelled)
    expiry.cancel(cancelled)  # cancelling twice is harmless
    expiry.set(sentinel, deadline + 0.02)
    # Timers fire in deadline order: once the sentinel fired, the others' old deadlines passed.
    await wait_until(lambda: bool(expired))
    assert expired == [sentinel]
    assert len(expiry) == 1  # only the moved one is still armed


async def test_a_connection_already_closing_is_not_expired() -> None:
    expiry, expired = make()
    closing, sentinel = conn("closing"), conn("sentinel")
    now = time.time()
    expiry.set(closing, now - 1)
    expiry.set(sentinel, now + 0.005)
    closing.enter(Phase.CLOSING)
    await wait_until(lambda: bool(expired))
    assert expired == [sentinel]
