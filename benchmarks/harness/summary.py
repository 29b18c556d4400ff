"""Turning raw wsbench runs into medians, Switchboard-vs-baseline ratios and target checks."""

from __future__ import annotations

import statistics
from typing import Any

from harness import config as cfg
from harness.loadgen import BCAST_WINDOWS, CHANNEL_BASES, FANOUT_WINDOWS, HEADLINE, SCENARIOS

# Counters that are summed over runs (everything else numeric gets a median).
COUNTERS = (
    "errors",
    "closed_by_server",
    "lost_gaps",
    "out_of_order",
    "missing_stalled",
    "stalls",
    "missing_at_end",
)
SUBJECT = "switchboard"
# How the fan-out scenarios are named in target lines.
FANOUT_TARGET_NAMES = {
    "bcast": "broadcast",
    "bcast-burst": "broadcast burst",
    "channel": "channel fan-out",
    "channel-burst": "channel fan-out burst",
    "bcast-1k": "1 KiB broadcast",
    "bcast-1k-deflate": "1 KiB broadcast with deflate",
}


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def with_other_load(run: dict[str, Any]) -> dict[str, Any]:
    """Add CPU on each core that neither the server nor wsbench used (other tenants' load).

    On this machine a clean run shows the server's CPU close to core 0's busy time and
    wsbench's close to core 1's, so the difference is load that disturbed the run.
    """
    out = dict(run)
    for core, proc_key in (("cpu0", "server_cpu_pct"), ("cpu1", "loadgen_cpu_pct")):
        busy, used = run.get(f"{core}_busy_pct"), run.get(proc_key)
        if isinstance(busy, int | float) and isinstance(used, int | float) and used >= 0:
            out[f"other_{core}_pct"] = max(0.0, busy - used)
    out.update(cpu_split(run))
    return out


def cpu_split(run: dict[str, Any]) -> dict[str, float]:
    """The server's CPU time per message or delivery, split into user space and kernel, in ns.

    User space is the Python path (routing, framing, queueing); the kernel part is mostly
    ``send()`` on loopback, which also pays for waking the load generator, so it moves with
    how the two processes happen to interleave. Comparing revisions, the user-space figure
    says whether the code got slower; the throughput says what a user sees.
    """
    rate = run.get("deliveries_per_s", run.get("msg_per_s"))
    cpu, sys_pct = run.get("server_cpu_pct"), run.get("server_sys_pct")
    if not all(_numeric(v) for v in (rate, cpu, sys_pct)) or not rate:
        return {}
    per_unit = 1e9 / 100.0 / float(rate)
    return {
        "server_user_ns": (float(cpu) - float(sys_pct)) * per_unit,
        "server_sys_ns": float(sys_pct) * per_unit,
    }


def disturbed(run: dict[str, Any]) -> bool:
    return any(run.get(f"other_{core}_pct", 0) > cfg.DISTURBED_PCT for core in ("cpu0", "cpu1"))


def summarize_cell(runs: list[dict[str, Any]], scenario: str) -> dict[str, Any]:
    """Aggregate the runs of one server in one scenario."""
    ok = [with_other_load(run) for run in runs if "error" not in run]
    headline, _ = HEADLINE[scenario]
    cell: dict[str, Any] = {
        "runs_ok": len(ok),
        "runs_failed": len(runs) - len(ok),
        "failures": [run["error"] for run in runs if "error" in run],
        "values": [run[headline] for run in ok if headline in run],
        "median": {},
        "total": {},
    }
    fields = sorted({key for run in ok for key, value in run.items() if _numeric(value)})
    for key in fields:
        values = [run[key] for run in ok if _numeric(run.get(key))]
        if key in COUNTERS:
            cell["total"][key] = sum(values)
        else:
            cell["median"][key] = statistics.median(values)
    busy = [run.get("cpu1_busy_pct", 0) for run in ok]
    cell["generator_bound_runs"] = sum(1 for pct in busy if pct >= cfg.GENERATOR_BOUND_PCT)
    cell["disturbed_rounds"] = [run["round"] + 1 for run in ok if disturbed(run)]
    return cell


def analyse(results: dict[str, Any]) -> None:
    """(Re)compute summary, ratios and targets of ``results`` from its raw runs."""
    results["summary"] = summarize(results["runs"])
    results["ratios"] = ratios(results["summary"])
    results["channel_vs_bcast"] = channel_vs_bcast(results["summary"])
    results["deflate_cpu_ratio"] = deflate_cpu_ratio(results["summary"])
    results["targets"] = targets(results["summary"])


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """scenario -> server -> aggregated cell, keeping the order in which servers appear."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for scenario in SCENARIOS:
        servers = list(dict.fromkeys(r["server"] for r in runs if r["scenario"] == scenario))
        out[scenario] = {
            server: summarize_cell(
                [r for r in runs if r["scenario"] == scenario and r["server"] == server], scenario
            )
            for server in servers
        }
    return {scenario: cells for scenario, cells in out.items() if cells}


def headline(summary: dict[str, Any], scenario: str, server: str) -> float | None:
    cell = summary.get(scenario, {}).get(server)
    if not cell or not cell["runs_ok"]:
        return None
    value = cell["median"].get(HEADLINE[scenario][0])
    return float(value) if value is not None else None


def ratios(summary: dict[str, Any]) -> dict[str, dict[str, float]]:
    """scenario -> baseline -> Switchboard median / baseline median (headline figure)."""
    out: dict[str, dict[str, float]] = {}
    for scenario, cells in summary.items():
        subject = headline(summary, scenario, SUBJECT)
        if subject is None:
            continue
        for baseline in cells:
            base = headline(summary, scenario, baseline)
            if baseline != SUBJECT and base:
                out.setdefault(scenario, {})[baseline] = subject / base
    return out


def channel_vs_bcast(summary: dict[str, Any]) -> dict[str, float]:
    """channel scenario -> Switchboard's channel median / its broadcast median, same window."""
    out: dict[str, float] = {}
    for scenario, base in CHANNEL_BASES.items():
        channel = headline(summary, scenario, SUBJECT)
        bcast = headline(summary, base, SUBJECT)
        if channel is not None and bcast:
            out[scenario] = channel / bcast
    return out


def cpu_us_per_delivery(summary: dict[str, Any], scenario: str) -> float | None:
    """Switchboard's median server CPU time per delivered message, in microseconds."""
    cell = summary.get(scenario, {}).get(SUBJECT)
    if not cell or not cell["runs_ok"]:
        return None
    cpu, rate = cell["median"].get("server_cpu_pct"), cell["median"].get("deliveries_per_s")
    if not cpu or not rate:
        return None
    return float(cpu) / 100.0 / float(rate) * 1e6


def deflate_cpu_ratio(summary: dict[str, Any]) -> float | None:
    """CPU per delivery of the compressed 1 KiB broadcast over the uncompressed one."""
    plain = cpu_us_per_delivery(summary, "bcast-1k")
    squeezed = cpu_us_per_delivery(summary, "bcast-1k-deflate")
    return squeezed / plain if plain and squeezed is not None else None


def _target(name: str, required: str, actual: str, passed: bool | None) -> dict[str, Any]:
    return {"target": name, "required": required, "actual": actual, "passed": passed}


def ratio_text(value: float, minimum: float) -> str:
    """``value`` as ``1.23x``, with a third decimal when two would round it across ``minimum``
    (0.7969 against 0.8 reads ``0.797x``, not a failing ``0.80x``)."""
    text = f"{value:.2f}x"
    if (round(value, 2) >= minimum) != (value >= minimum):
        text = f"{value:.3f}x"
    return text


def _ratio_target(name: str, value: float | None, minimum: float) -> dict[str, Any]:
    if value is None:
        return _target(name, f">= {minimum:g}x", "n/a", None)
    return _target(name, f">= {minimum:g}x", ratio_text(value, minimum), value >= minimum)


def _loss_target(summary: dict[str, Any], scenario: str, window: int) -> dict[str, Any]:
    """Switchboard must neither lose nor reorder fanned-out messages, in any run."""
    name = f"{FANOUT_TARGET_NAMES[scenario]} lost / out of order (-w {window}, all runs)"
    cell = summary.get(scenario, {}).get(SUBJECT)
    if not cell or not cell["runs_ok"]:
        return _target(name, "0 / 0", "n/a", None)
    lost = cell["total"].get("lost_gaps", 0)
    ooo = cell["total"].get("out_of_order", 0)
    return _target(name, "0 / 0", f"{lost} / {ooo}", lost == 0 and ooo == 0)


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Check Switchboard against the project's performance targets."""
    rat = ratios(summary)
    checks = [
        _ratio_target(
            "echo msg/s vs Node ws", rat.get("echo", {}).get("node_ws"), cfg.TARGET_ECHO_VS_NODE
        ),
        _ratio_target(
            "echo msg/s vs aiohttp", rat.get("echo", {}).get("aiohttp"), cfg.TARGET_ECHO_VS_AIOHTTP
        ),
    ]
    checks.append(
        _ratio_target(
            "echo msg/s vs uWebSockets (socketify)",
            rat.get("echo", {}).get("socketify"),
            cfg.TARGET_ECHO_VS_UWS,
        )
    )
    for scenario, window in BCAST_WINDOWS.items():
        name = FANOUT_TARGET_NAMES[scenario]
        for baseline, label, minimum in (
            ("node_ws", "Node ws", cfg.TARGET_BCAST_VS_NODE),
            ("picows_min", "minimal corked picows", cfg.TARGET_BCAST_VS_MIN),
            ("socketify", "uWebSockets (socketify)", cfg.TARGET_BCAST_VS_UWS),
        ):
            checks.append(
                _ratio_target(
                    f"{name} deliveries/s vs {label} (-w {window})",
                    rat.get(scenario, {}).get(baseline),
                    minimum,
                )
            )
    channel = channel_vs_bcast(summary)
    for scenario, base in CHANNEL_BASES.items():
        checks.append(
            _ratio_target(
                f"{FANOUT_TARGET_NAMES[scenario]} deliveries/s vs Switchboard "
                f"{FANOUT_TARGET_NAMES[base]} (-w {FANOUT_WINDOWS[scenario]})",
                channel.get(scenario),
                cfg.TARGET_CHANNEL_VS_BCAST,
            )
        )
    ratio = deflate_cpu_ratio(summary)
    limit_ratio = cfg.TARGET_DEFLATE_CPU_RATIO
    checks.append(
        _target(
            "1 KiB broadcast: server CPU per delivery, deflate on / off",
            f"< {limit_ratio:g}x",
            "n/a" if ratio is None else f"{ratio:.2f}x",
            None if ratio is None else ratio < limit_ratio,
        )
    )
    for scenario, window in FANOUT_WINDOWS.items():
        checks.append(_loss_target(summary, scenario, window))
    limit = cfg.TARGET_IDLE_BYTES
    for scenario, name in (("idle", ""), ("idle-deflate", " with deflate negotiated")):
        idle = headline(summary, scenario, SUBJECT)
        checks.append(
            _target(
                f"idle bytes per connection{name}",
                f"<= {limit:,} B",
                "n/a" if idle is None else f"{idle:,.0f} B",
                None if idle is None else idle <= limit,
            )
        )
    return checks
