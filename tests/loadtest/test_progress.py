"""The live display (no sockets): the generators' snapshots summed, with rates."""

from __future__ import annotations

import io

from rich.console import Console

from switchboard.loadtest.progress import Progress, totals


def test_totals_sum_and_take_the_least_advanced_phase() -> None:
    snapshots = {
        0: {"phase": "load", "open": 10, "sent": 5, "received": 7, "errors": 1},
        1: {"phase": "waiting", "open": 3, "sent": 0, "received": 0, "errors": 0},
    }
    assert totals(snapshots) == {
        "phase": "waiting",
        "open": 13,
        "sent": 5,
        "received": 7,
        "errors": 1,
    }
    assert totals({})["phase"] == "starting"


def test_the_display_shows_rates() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    progress = Progress(console, "echo")
    progress.before = (progress.started - 1.0, 0, 0)  # one second ago, nothing yet
    with progress:
        progress.update({0: {"phase": "load", "open": 2, "sent": 500, "received": 400}})
    text = out.getvalue()
    assert "echo" in text and "load" in text
    assert progress.rates[0] >= 400 and progress.rates[1] >= 300
