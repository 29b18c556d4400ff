"""The figures of a finished run: one JSON-ready dict (``--json``) and the tables printed
from it, so both always say the same."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

from .histogram import PERCENTILES
from .plan import Plan
from .result import Result

#: Counters shown under "Delivery" (loss and order), in this order.
DELIVERY = ("expected", "received", "lost", "duplicates", "reordered", "unacked", "refused")
#: Counters shown under "Storm".
STORM = ("dropped", "resumed", "recovered", "not_recovered", "not_resumed")


def _rate(count: float, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def summary(plan: Plan, result: Result) -> dict[str, Any]:
    """Everything the run found, as one JSON object (see ``docs/bench.md``)."""
    counters = result.counters
    load = result.maxima.get("load_s", 0.0)
    out: dict[str, Any] = {
        "scenario": plan.scenario.value,
        "target": plan.url,
        "raw": plan.raw,
        "processes": plan.processes,
        "connections": plan.connections,
        "duration_s": plan.duration,
        "load_s": load,
    }
    if plan.scenario.value == "connect":
        ramp = result.maxima.get("ramp_s", 0.0)
        out["throughput"] = {"handshakes_per_s": _rate(counters["connected"], ramp)}
    else:
        out["throughput"] = {
            "sent_per_s": _rate(counters["sent"], load),
            "received_per_s": _rate(counters["received"], load),
        }
    out["counters"] = {name: counters[name] for name in sorted(counters)}
    out["errors"] = {reason: result.errors[reason] for reason in sorted(result.errors)}
    out["latency_ms"] = {
        name: result.latencies[name].summary_ms() for name in sorted(result.latencies)
    }
    if plan.uses_publishers:
        out["delivery"] = {
            "expected": result.expected_deliveries,
            "received": counters["received"],
            "lost": result.lost,
            "duplicates": counters["duplicates"],
            "reordered": counters["reordered"],
            "unacked": counters["unacked"],
            "refused": counters["refused"],
        }
    if plan.scenario.value == "storm":
        out["storm"] = {name: counters[name] for name in STORM}
        out["storm"]["all_resumed_ms"] = round(result.maxima.get("all_resumed_s", 0.0) * 1000, 1)
    out["timeline"] = [
        {
            "second": second,
            "count": result.timeline[second].total,
            "p50_ms": result.timeline[second].percentile(50) / 1000,
            "p99_ms": result.timeline[second].percentile(99) / 1000,
            "max_ms": result.timeline[second].max / 1000,
        }
        for second in sorted(result.timeline)
    ]
    return out


def tables(figures: dict[str, Any]) -> Group:
    """The final tables: throughput, latency percentiles, delivery, storm, errors."""
    head = Table(title=f"switchboard bench {figures['scenario']}: {figures['target']}")
    head.add_column("figure")
    head.add_column("value", justify="right")
    head.add_row("processes", str(figures["processes"]))
    head.add_row("connections", str(figures["connections"]))
    head.add_row("load phase", f"{figures['load_s']:.2f} s")
    for name, value in figures["throughput"].items():
        head.add_row(name.replace("_per_s", " per second"), f"{value:,.1f}")
    for name, value in figures["counters"].items():
        if name not in DELIVERY and name not in STORM:
            head.add_row(name, f"{value:,}")
    parts: list[Table] = [head]

    latency = Table(title="latency (ms)")
    for column in ("", "count", *(f"p{p:g}" for p in PERCENTILES), "max"):
        latency.add_column(column, justify="left" if not column else "right")
    for name, row in figures["latency_ms"].items():
        cells = [f"{row[f'p{p:g}']:.3f}" for p in PERCENTILES]
        latency.add_row(name, f"{int(row['count']):,}", *cells, f"{row['max']:.3f}")
    parts.append(latency)

    for title in ("delivery", "storm", "errors"):
        if figures.get(title):
            table = Table(title=title)
            table.add_column("figure")
            table.add_column("value", justify="right")
            for name, value in figures[title].items():
                table.add_row(name, f"{value:,}")
            parts.append(table)
    return Group(*parts)
