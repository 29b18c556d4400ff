"""The loopback rule and the plan's bounds, checked before any connection is opened."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from switchboard.loadtest import Plan, PlanError, Scenario, TargetRefused, TokenIn, is_loopback
from switchboard.loadtest.guard import check_target

from .conftest import invoke


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "::1", "localhost", "LOCALHOST.", "::ffff:127.0.0.1"]
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["10.0.0.1", "0.0.0.0", "192.0.2.1", "::", "example.com", "localhost.example.com"]
)
def test_other_hosts(host: str) -> None:
    assert not is_loopback(host)


def test_check_target() -> None:
    check_target("ws://[::1]:8080/ws", allow_remote=False)
    check_target("wss://example.com/ws", allow_remote=True)
    with pytest.raises(TargetRefused, match="--allow-remote"):
        check_target("ws://example.com/ws", allow_remote=False)
    with pytest.raises(TargetRefused, match="not a ws://"):
        check_target("http://127.0.0.1/", allow_remote=True)


def test_the_command_refuses_a_remote_target_without_connecting() -> None:
    began = time.monotonic()
    result = invoke("echo", "ws://192.0.2.1:9/ws", "-d", "30")
    assert result.exit_code == 2
    assert "refusing to load-test 192.0.2.1" in result.output
    assert "--allow-remote" in result.output
    assert time.monotonic() - began < 5  # refused at once, not after trying


def test_bounds() -> None:
    plan = Plan(Scenario.channels, "ws://127.0.0.1:1/ws", connections=900, publishers=200)
    with pytest.raises(PlanError, match="exceed --max-connections 1000"):
        replace(plan, max_connections=1000).check()
    with pytest.raises(PlanError, match="use --processes 2 or more"):
        plan.check(file_limit=1000)
    replace(plan, processes=2).check(file_limit=1000)
    with pytest.raises(PlanError, match="--raw works with connect and echo only"):
        Plan(Scenario.storm, "ws://127.0.0.1:1/ws", raw=True).check()


def test_token_placement() -> None:
    plan = Plan(Scenario.echo, "ws://127.0.0.1:1/ws?a=1", token="t0k", headers=(("X-A", "b"),))
    assert plan.dial_url() == "ws://127.0.0.1:1/ws?a=1"
    assert plan.dial_headers() == [("X-A", "b"), ("Authorization", "Bearer t0k")]
    query = replace(plan, token_in=TokenIn.query)
    assert query.dial_url() == "ws://127.0.0.1:1/ws?a=1&token=t0k"
    assert query.dial_headers() == [("X-A", "b")]
