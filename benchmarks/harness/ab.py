"""A/B by git revision: the current tree's Switchboard against the same server at --baseline REV.

``analyse`` puts, for every scenario both ran, the two medians of the headline figure and
their ratio (current / baseline) into ``results["ab"]``; ``render`` turns that into the
report's "A/B against REV" section and ``console`` into the lines run.py prints.
"""

from __future__ import annotations

from typing import Any

from harness import config as cfg
from harness.loadgen import HEADLINE, SCENARIOS
from harness.summary import SUBJECT, headline

# Scenarios with a target on current / baseline: throughput may not drop more than 3%, idle
# memory may not grow; the other scenarios are shown without one.
THROUGHPUT = ("echo", "bcast", "bcast-burst", "channel", "channel-burst")
IDLE = ("idle", "idle-deflate")
UNITS = {"msg_per_s": "msg/s", "deliveries_per_s": "deliveries/s", "bytes_per_conn": "B/conn"}


def _verdict(scenario: str, ratio: float | None) -> tuple[str, bool | None]:
    if scenario in THROUGHPUT:
        required = f">= {cfg.TARGET_AB_THROUGHPUT_MIN:g}x"
        return required, None if ratio is None else ratio >= cfg.TARGET_AB_THROUGHPUT_MIN
    if scenario in IDLE:
        required = f"<= {cfg.TARGET_AB_IDLE_MAX:g}x"
        return required, None if ratio is None else ratio <= cfg.TARGET_AB_IDLE_MAX
    return "none", None


def analyse(results: dict[str, Any]) -> None:
    """(Re)compute ``results["ab"]`` from the summary; drop it when no baseline was run."""
    baseline = results["config"].get("baseline")
    results.pop("ab", None)
    if not baseline:
        return
    name = baseline["server"]
    summary = results["summary"]
    rows: dict[str, dict[str, Any]] = {}
    for scenario in SCENARIOS:
        cells = summary.get(scenario, {})
        if SUBJECT not in cells or name not in cells:
            continue
        current, base = headline(summary, scenario, SUBJECT), headline(summary, scenario, name)
        ratio = current / base if current is not None and base else None
        required, passed = _verdict(scenario, ratio)
        key, higher_is_better = HEADLINE[scenario]
        split = {
            f"{part}_ratio": _cpu_ratio(cells[SUBJECT], cells[name], f"server_{part}_ns")
            for part in ("user", "sys")
        }
        rows[scenario] = {
            **split,
            "metric": key,
            "higher_is_better": higher_is_better,
            "current": current,
            "baseline": base,
            "ratio": ratio,
            "current_runs": cells[SUBJECT]["values"],
            "baseline_runs": cells[name]["values"],
            "required": required,
            "passed": passed,
        }
    results["ab"] = {**baseline, "scenarios": rows}


def _cpu_ratio(current: dict[str, Any], base: dict[str, Any], key: str) -> float | None:
    """current / baseline of a median CPU-per-unit figure (lower is better), if both have it."""
    now, before = current["median"].get(key), base["median"].get(key)
    return float(now) / float(before) if now is not None and before else None


def _plain_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}x"


def _n(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _ratio(row: dict[str, Any]) -> str:
    """``0.987x (-1.3%)``: three decimals, since the targets are a few % wide."""
    ratio = row["ratio"]
    return "n/a" if ratio is None else f"{ratio:.3f}x ({(ratio - 1) * 100:+.1f}%)"


def render(results: dict[str, Any]) -> list[str]:
    """The report section, or nothing without a baseline."""
    ab = results.get("ab")
    if not ab:
        return []
    mark = {True: "PASS", False: "FAIL", None: "-"}
    rows = []
    for scenario, row in ab["scenarios"].items():
        better = "higher" if row["higher_is_better"] else "lower"
        per_run = (
            f"{', '.join(map(_n, row['current_runs'])) or 'none'} / "
            f"{', '.join(map(_n, row['baseline_runs'])) or 'none'}"
        )
        rows.append(
            [
                f"`{scenario}` {UNITS.get(row['metric'], row['metric'])} ({better} is better)",
                _n(row["current"]),
                _n(row["baseline"]),
                _ratio(row),
                row["required"],
                mark[row["passed"]],
                _plain_ratio(row.get("user_ratio")),
                _plain_ratio(row.get("sys_ratio")),
                per_run,
            ]
        )
    header = [
        "scenario",
        "current median",
        f"{ab['short']} median",
        "current / baseline",
        "target",
        "result",
        "server user CPU per unit",
        "server kernel CPU per unit",
        "per run (current / baseline)",
    ]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table += ["| " + " | ".join(row) + " |" for row in rows]
    missed = [s for s, row in ab["scenarios"].items() if row["passed"] is False]
    checked = [s for s, row in ab["scenarios"].items() if row["passed"] is not None]
    skipped = results.get("skipped", {}).get(ab["server"])
    if skipped:
        verdict = f"{ab['label']} was not measured: {skipped}."
    elif missed:
        verdict = f"Missed: {', '.join(f'`{s}`' for s in missed)}."
    elif checked:
        verdict = f"Every checked scenario is within its target ({len(checked)} checked)."
    else:
        verdict = "Nothing was checked (no scenario with a target ran for both)."
    revision = results["machine"].get("git_revision")
    return [
        f"## A/B against {ab['rev']}",
        "",
        f"Switchboard from this work tree (git revision {revision}) against {ab['label']} "
        f"(`{ab['rev']}` = `{ab['commit']}`), run from a temporary `git worktree` of that "
        "revision with the same `switchboard serve` options (`python -P -m switchboard` with "
        "`PYTHONPATH=<worktree>/src`), in the same scenarios and interleaved in the same "
        "rounds. Ratio = current median / baseline median of the headline figure. Targets: "
        f"echo, broadcast and channel fan-out at least {cfg.TARGET_AB_THROUGHPUT_MIN:g}x "
        "(within 3%), idle bytes per connection not higher "
        f"(<= {cfg.TARGET_AB_IDLE_MAX:g}x). The two CPU columns split the server's CPU time "
        "per message or delivery (median, current / baseline, lower is better) into user space, "
        "the Python path, and kernel, mostly loopback `send()`, which also pays for waking "
        "the load generator: a throughput gap with the user-space figure at 1.0x is in how "
        "the two processes interleave, not in the code.",
        "",
        *table,
        "",
        verdict,
        "",
    ]


def console(results: dict[str, Any]) -> list[str]:
    """Short lines for the terminal."""
    ab = results.get("ab")
    if not ab:
        return []
    lines = [f"A/B current / {ab['short']} ({ab['rev']}):"]
    for scenario, row in ab["scenarios"].items():
        result = {True: "PASS", False: "FAIL", None: "-"}[row["passed"]]
        lines.append(
            f"  {scenario:<14} {row['metric']}: {_n(row['current'])} / {_n(row['baseline'])} "
            f"= {_ratio(row)}  (target {row['required']}: {result}; server CPU per unit "
            f"user {_plain_ratio(row.get('user_ratio'))}, kernel "
            f"{_plain_ratio(row.get('sys_ratio'))})"
        )
    return lines
