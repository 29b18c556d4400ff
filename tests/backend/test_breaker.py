"""The circuit breaker's table, driven by a clock of the test's own."""

from __future__ import annotations

from switchboard.backend.breaker import Breaker, Circuit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_consecutive_failures_open_the_circuit_and_a_success_resets_the_count() -> None:
    breaker = Breaker(3, 10.0, Clock())
    breaker.failed()
    breaker.failed()
    breaker.succeeded()  # not consecutive any more
    assert not breaker.failed() and not breaker.failed()
    assert breaker.allow()
    assert breaker.failed()  # the third in a row
    assert breaker.state is Circuit.OPEN and breaker.opened == 1
    assert not breaker.allow()


def test_after_the_cooldown_one_trial_goes_and_its_success_closes_the_circuit() -> None:
    clock = Clock()
    breaker = Breaker(1, 10.0, clock)
    breaker.failed()
    clock.now += 9.9
    assert not breaker.allow()
    assert breaker.retry_after() > 0
    clock.now += 0.1
    assert breaker.allow()  # the trial
    assert breaker.state is Circuit.HALF_OPEN
    assert not breaker.allow()  # nobody else while it runs
    assert breaker.succeeded()
    assert breaker.state is Circuit.CLOSED and breaker.allow()


def test_a_failed_trial_opens_the_circuit_for_a_new_cooldown() -> None:
    clock = Clock()
    breaker = Breaker(5, 10.0, clock)
    for _ in range(5):
        breaker.failed()
    clock.now += 10
    assert breaker.allow()
    assert breaker.failed()  # one failure is enough in half-open
    assert breaker.state is Circuit.OPEN and breaker.opened == 2
    clock.now += 5
    assert not breaker.allow()
    clock.now += 5
    assert breaker.allow()
