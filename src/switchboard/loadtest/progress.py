"""The live line while a run goes: phase, open connections, messages sent and received with
their rates over the last half second, and errors, summed over the generator processes."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .runner import Snapshots


def totals(snapshots: Snapshots) -> dict[str, Any]:
    """The generators' snapshots summed; the phase is the least advanced one's."""
    order = ["connecting", "waiting", "load", "storm", "holding", "draining", "done"]
    phases = [str(s.get("phase", "connecting")) for s in snapshots.values()]
    out: dict[str, Any] = {"phase": min(phases, key=order.index) if phases else "starting"}
    for name in ("open", "sent", "received", "errors"):
        out[name] = sum(int(s.get(name, 0)) for s in snapshots.values())
    return out


class Progress:
    """A ``rich`` live display on the console given (stderr, so ``--json`` stays clean)."""

    def __init__(self, console: Console, scenario: str) -> None:
        self.scenario = scenario
        self.started = time.monotonic()
        self.live = Live(console=console, refresh_per_second=4, transient=True)
        self.before: tuple[float, int, int] = (self.started, 0, 0)
        self.rates = (0.0, 0.0)

    def __enter__(self) -> Progress:
        self.live.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.live.stop()

    def update(self, snapshots: Snapshots) -> None:
        now = time.monotonic()
        figures = totals(snapshots)
        then, sent, received = self.before
        if now - then >= 0.5:
            elapsed = now - then
            self.rates = (
                (figures["sent"] - sent) / elapsed,
                (figures["received"] - received) / elapsed,
            )
            self.before = (now, figures["sent"], figures["received"])
        self.live.update(self.render(figures, now - self.started))

    def render(self, figures: dict[str, Any], elapsed: float) -> Table:
        table = Table(box=None, show_header=True, pad_edge=False)
        for column in (
            "bench",
            "phase",
            "elapsed",
            "open",
            "sent",
            "sent/s",
            "received",
            "received/s",
            "errors",
        ):
            table.add_column(column, justify="right")
        table.add_row(
            self.scenario,
            figures["phase"],
            f"{elapsed:.1f} s",
            f"{figures['open']:,}",
            f"{figures['sent']:,}",
            f"{self.rates[0]:,.0f}",
            f"{figures['received']:,}",
            f"{self.rates[1]:,.0f}",
            f"{figures['errors']:,}",
        )
        return table
