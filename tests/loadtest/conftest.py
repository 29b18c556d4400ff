"""Runs ``switchboard bench`` through typer's test runner, on a Typer app of the tests' own
with the command added by :func:`switchboard.loadtest.register`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer
from typer.testing import CliRunner, Result

from switchboard.loadtest import register

app = typer.Typer()
register(app)


@app.command()
def other() -> None:
    """A second command, so that typer keeps ``bench`` as a subcommand (as in the real CLI)."""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["bench", *args], env={"COLUMNS": "200"})


async def bench(*args: str) -> dict[str, Any]:
    """Run ``bench ARGS --json`` off the event loop (an in-process server runs on it) and
    return its figures."""
    result = await asyncio.to_thread(invoke, *args, "--json")
    assert result.exit_code == 0, result.output
    # the in-process server may log to the same stdout: the figures are their own line
    lines = [line for line in result.output.splitlines() if line.startswith('{"scenario"')]
    assert len(lines) == 1, result.output
    figures: dict[str, Any] = json.loads(lines[0])
    return figures


def assert_sane_latency(row: dict[str, float], count: int | None = None) -> None:
    """Percentiles in order, positive, below a generous bound for a loaded loopback."""
    assert row["count"] > 0
    if count is not None:
        assert row["count"] == count
    assert 0 <= row["min"] <= row["p50"] <= row["p90"] <= row["p99"] <= row["p99.9"]
    assert row["p99.9"] <= row["max"] < 5000
