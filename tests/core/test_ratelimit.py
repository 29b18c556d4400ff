"""Message rate limits and the flood window, on a fake clock: no sockets, no sleeps."""

from __future__ import annotations

from switchboard.core.connection import Connection
from switchboard.core.ratelimit import MessageRateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Outcomes:
    def __init__(self) -> None:
        self.delivered = 0
        self.refused = 0
        self.floods = 0

    def deliver(self, conn: Connection, opcode: int, payload: bytes) -> None:
        self.delivered += 1

    def on_refused(self, conn: Connection, scope: str) -> None:
        self.refused += 1

    def on_flood(self, conn: Connection) -> None:
        self.floods += 1


def limited(
    rate: float = 10, strikes: int = 50, window: float = 10.0
) -> tuple[Clock, Outcomes, Connection, object]:
    clock = Clock()
    out = Outcomes()
    limit = MessageRateLimit(
        rate,
        int(rate),
        strikes,
        on_refused=out.on_refused,
        on_flood=out.on_flood,
        flood_window=window,
        clock=clock,
    )
    conn = Connection("c-1", None, "test", 0.0)  # type: ignore[arg-type]

    def deliver(conn: Connection, opcode: int, payload: bytes) -> None:
        if limit.admit(conn):  # the pipeline's first stage
            out.deliver(conn, opcode, payload)

    return clock, out, conn, deliver


def send_at(
    clock: Clock, guarded: object, conn: Connection, per_second: float, seconds: float
) -> None:
    for _ in range(int(per_second * seconds)):
        clock.now += 1 / per_second
        guarded(conn, 1, b"{}")  # type: ignore[operator]


def test_sending_just_over_the_rate_is_a_flood_even_with_refills_between() -> None:
    """The evasion: 400 msg/s against 10/s was refused 3,831 times and never closed, since
    every refilled token reset the count of refusals in a row."""
    clock, out, conn, guarded = limited(rate=10, strikes=50, window=10)
    send_at(clock, guarded, conn, 400, 10)
    assert out.floods >= 1
    assert out.refused < 60  # closed within the first strikes, not after thousands


def test_a_client_at_its_rate_is_never_refused() -> None:
    clock, out, conn, guarded = limited(rate=10)
    send_at(clock, guarded, conn, 9.5, 60)
    assert (out.refused, out.floods) == (0, 0)
    assert out.delivered == 570


def test_occasional_refusals_drain_away() -> None:
    """Refusals below strikes / window per second never add up to a flood."""
    clock, out, conn, guarded = limited(rate=10, strikes=50, window=10)
    for _ in range(30):  # a burst of 20 every 10 s: 10 refused each time, 2 a second
        for _ in range(20):
            guarded(conn, 1, b"{}")  # type: ignore[operator]
        clock.now += 10
    assert out.refused == 300
    assert out.floods == 0


def test_refusals_within_the_window_close() -> None:
    clock, out, conn, guarded = limited(rate=1, strikes=5, window=60)
    for _ in range(3):  # one refused message every 10 s: 3 in 30 s is under 5 a minute
        guarded(conn, 1, b"{}")  # type: ignore[operator]
        guarded(conn, 1, b"{}")  # type: ignore[operator]
        clock.now += 10
    assert out.floods == 0
    for _ in range(6):  # one let through (refilled), then 5 refused at once
        guarded(conn, 1, b"{}")  # type: ignore[operator]
    assert out.floods >= 1
