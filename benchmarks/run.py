"""Run the Switchboard benchmark suite against the baseline servers, side by side.

For every round and scenario (echo; broadcast with publication window 10, ``bcast``, and 50,
``bcast-burst``; the same fan-out through a channel, ``channel`` and ``channel-burst``, for
servers with channels only; idle) each server is started fresh, pinned to core 0, measured
once by wsbench pinned to core 1, and stopped; servers are interleaved and their order
rotates between rounds. Medians, ratios and target checks go to
``benchmarks/results/latest.json`` and ``docs/benchmarks.md``.

    .venv/bin/python benchmarks/run.py            # full run (~18-22 min on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # smoke test (~2.5 min), writes results/quick.json
    .venv/bin/python benchmarks/run.py --servers switchboard --baseline HEAD~1   # A/B by revision
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NoReturn

from harness import ab, envinfo, report, summary
from harness import config as cfg
from harness.baseline import Baseline, BaselineError, baseline_worktree
from harness.loadgen import (
    FANOUT_WINDOWS,
    HEADLINE,
    METRICS_OFF,
    REQUIRES,
    SCENARIOS,
    SERVER_FLAGS,
    Plan,
    ensure_wsbench,
    run_wsbench,
)
from harness.procs import free_port, pinned, raise_nofile, spawn, stop, wait_ready
from harness.servers import SERVERS, ServerSpec, display_command
from harness.summary import SUBJECT


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: {cfg.QUICK_DURATION_S} s runs, 1 round, "
        "results/quick.json, docs untouched unless --docs is given",
    )
    parser.add_argument("--repeat", type=int, help=f"rounds (default {cfg.DEFAULT_REPEAT})")
    parser.add_argument(
        "--duration", type=int, help=f"seconds measured per run (default {cfg.DEFAULT_DURATION_S})"
    )
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help=f"comma-separated subset of: {', '.join(SERVERS)}",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of: {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also run Switchboard from git revision REV (a temporary worktree) beside "
        "'switchboard' and report current / REV per scenario",
    )
    parser.add_argument("--idle-conns", type=int, default=cfg.IDLE_CONNS)
    parser.add_argument("--json", type=Path, help="where to write raw results")
    parser.add_argument("--docs", type=Path, help="where to write the markdown report")
    parser.add_argument("--no-docs", action="store_true", help="do not write the report")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="re-analyse the --json file's runs and re-render the report",
    )
    args = parser.parse_args(argv)
    args.servers = _subset(parser, args.servers, tuple(SERVERS))
    args.scenarios = _subset(parser, args.scenarios, SCENARIOS)
    args.repeat = args.repeat or (1 if args.quick else cfg.DEFAULT_REPEAT)
    args.duration = args.duration or (
        cfg.QUICK_DURATION_S if args.quick else cfg.DEFAULT_DURATION_S
    )
    default_json = "quick.json" if args.quick else "latest.json"
    args.json = args.json or cfg.RESULTS_DIR / default_json
    if args.no_docs or (args.quick and args.docs is None):
        args.docs = None
    else:
        args.docs = args.docs or cfg.DOCS_FILE
    if args.repeat < 1 or args.duration < 1:
        parser.error("--repeat and --duration must be at least 1")
    if args.baseline is not None and SUBJECT not in args.servers:
        parser.error(f"--baseline compares against {SUBJECT!r}: include it in --servers")
    if args.baseline is not None and args.report_only:
        parser.error("--baseline runs servers; --report-only re-renders the --json file's runs")
    return args


def _subset(parser: argparse.ArgumentParser, text: str, known: tuple[str, ...]) -> list[str]:
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in known]
    if unknown or not chosen:
        parser.error(f"unknown or empty choice {unknown}; pick from {', '.join(known)}")
    return [item for item in known if item in chosen]


def _tail(log: IO[bytes], limit: int = 400) -> str:
    log.flush()
    log.seek(0)
    text = log.read().decode(errors="replace").strip()
    return text[-limit:] if text else "(no output)"


def measure(spec: ServerSpec, scenario: str, plan: Plan, round_no: int) -> dict[str, Any]:
    """Start ``spec`` fresh, run one wsbench scenario against it, stop it."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        argv = spec.command(str(port)) + SERVER_FLAGS.get(scenario, [])
        proc = spawn(pinned(cfg.SERVER_CPU, argv), log, env=spec.env)
        try:
            why = wait_ready(proc, port, cfg.WS_PATH, cfg.READY_TIMEOUT_S)
            if why is not None:
                record: dict[str, Any] = {"error": f"server {why}; output: {_tail(log)}"}
            else:
                record = run_wsbench(plan, scenario, port, proc.pid)
                if proc.poll() is not None:
                    record["error"] = (
                        f"server exited ({proc.returncode}) during the run; output: {_tail(log)}"
                    )
        finally:
            stop(proc)
    return {
        "scenario": scenario,
        "server": spec.name,
        "round": round_no,
        "port": port,
        "server_pid": proc.pid,
        **record,
    }


def _progress(run: dict[str, Any], round_no: int, rounds: int) -> None:
    key, _ = HEADLINE[run["scenario"]]
    if "error" in run:
        outcome = f"FAILED: {run['error']}"
    elif run["scenario"].startswith("idle"):
        outcome = f"{key}={run.get(key, 0):,.0f} still_open={run.get('still_open')}"
    else:
        outcome = (
            f"{key}={run.get(key, 0):,.0f} server_cpu={run.get('server_cpu_pct')}% "
            f"wsbench_cpu={run.get('loadgen_cpu_pct')}% core1={run.get('cpu1_busy_pct')}%"
        )
        if run["scenario"] in FANOUT_WINDOWS:
            outcome += f" lost={run.get('lost_gaps')} ooo={run.get('out_of_order')}"
    print(
        f"[round {round_no + 1}/{rounds}] {run['scenario']:<13} {run['server']:<20} {outcome}",
        flush=True,
    )


def check_servers(specs: list[ServerSpec]) -> tuple[list[ServerSpec], dict[str, str]]:
    active: list[ServerSpec] = []
    skipped: dict[str, str] = {}
    for spec in specs:
        why = spec.check()
        if why is None:
            active.append(spec)
        else:
            skipped[spec.name] = why
            print(f"[skip] {spec.name}: {why}", flush=True)
    return active, skipped


def server_specs(names: list[str], baseline: Baseline | None) -> list[ServerSpec]:
    """The chosen servers, with the baseline right after Switchboard (so the pair interleaves)."""
    specs: list[ServerSpec] = []
    for name in names:
        specs.append(SERVERS[name])
        if baseline is not None and name == SUBJECT:
            specs.append(baseline.spec)
    return specs


def not_applicable(scenarios: list[str], active: list[ServerSpec]) -> dict[str, dict[str, str]]:
    """scenario -> server -> why it is not run (the server lacks a feature the scenario needs)."""
    out: dict[str, dict[str, str]] = {}
    for scenario in scenarios:
        need = REQUIRES.get(scenario)
        for spec in active:
            if need is not None and need not in spec.features:
                out.setdefault(scenario, {})[spec.name] = f"has no {need}"
    for scenario, why in out.items():
        print(f"[n/a] {scenario}: not run for {', '.join(why)} (no {REQUIRES[scenario]})")
    return out


def run_all(args: argparse.Namespace, baseline: Baseline | None = None) -> dict[str, Any]:
    started = time.monotonic()
    nofile = raise_nofile(args.idle_conns + cfg.NOFILE_SLACK)
    scenarios = list(args.scenarios)
    for idle in ("idle", "idle-deflate"):
        if idle in scenarios and nofile[0] < args.idle_conns + 100:
            print(
                f"[skip] {idle}: RLIMIT_NOFILE is {nofile[0]}, too low for "
                f"{args.idle_conns} connections",
                flush=True,
            )
            scenarios.remove(idle)
    ensure_wsbench()
    specs = server_specs(args.servers, baseline)
    active, skipped = check_servers(specs)
    plan = Plan(duration_s=args.duration, idle_conns=args.idle_conns)
    inapplicable = not_applicable(scenarios, active)
    runs: list[dict[str, Any]] = []
    paired = METRICS_OFF in scenarios and "echo" in scenarios
    for round_no in range(args.repeat):
        for scenario in scenarios:
            if paired and scenario == METRICS_OFF:
                continue  # measured beside Switchboard's echo, below
            shift = round_no % max(len(active), 1)
            for spec in active[shift:] + active[:shift]:
                if spec.name in inapplicable.get(scenario, {}):
                    continue
                pair = [scenario]
                if (
                    paired
                    and scenario == "echo"
                    and spec.name not in inapplicable.get(METRICS_OFF, {})
                ):
                    # An A/B/B/A run back to back (B/A/A/B in odd rounds): neither side
                    # always runs first, after another server's run, and a drift of the
                    # machine during the four runs weighs on both sides alike.
                    a, b = (scenario, METRICS_OFF)[:: 1 if round_no % 2 == 0 else -1]
                    pair = [a, b, b, a]
                for name in pair:
                    run = measure(spec, name, plan, round_no)
                    _progress(run, round_no, args.repeat)
                    runs.append(run)
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "elapsed_s": time.monotonic() - started,
        "machine": envinfo.collect(),
        "config": {
            "duration_s": args.duration,
            "repeat": args.repeat,
            "idle_conns": args.idle_conns,
            "scenarios": scenarios,
            "nofile": list(nofile),
            "json_path": _display_path(args.json),
            "commands": {s: plan.display_command(s) for s in scenarios},
            "server_labels": {spec.name: spec.label for spec in specs},
            "server_commands": {spec.name: display_command(spec) for spec in specs},
            "baseline": None if baseline is None else baseline.describe(),
        },
        "skipped": skipped,
        "not_applicable": inapplicable,
        "runs": runs,
    }
    analyse(results)
    return results


def analyse(results: dict[str, Any]) -> None:
    summary.analyse(results)
    ab.analyse(results)


def _display_path(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(cfg.ROOT)) if resolved.is_relative_to(cfg.ROOT) else str(path)


def _print_summary(results: dict[str, Any]) -> None:
    print("\nmedians:")
    for scenario, cells in results["summary"].items():
        key, _ = HEADLINE[scenario]
        for server, cell in cells.items():
            value = cell["median"].get(key)
            shown = "n/a" if value is None else f"{value:,.0f}"
            print(f"  {scenario:<13} {server:<20} {key}={shown}  runs={cell['values']}")
    for target in results["targets"]:
        print(f"  target {target['target']}: {target['actual']} (need {target['required']})")
    for line in ab.console(results):
        print(line)


def _on_sigterm(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(args)
    except KeyboardInterrupt:
        print("interrupted: servers and wsbench stopped, nothing written", file=sys.stderr)
        return 130


def _main(args: argparse.Namespace) -> int:
    if args.report_only:
        results = json.loads(args.json.read_text(encoding="utf-8"))
        analyse(results)  # the runs stay as measured; derived figures are refreshed
    elif args.baseline is not None:
        try:
            with baseline_worktree(args.baseline) as baseline:
                results = run_all(args, baseline)
        except BaselineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        _print_summary(results)
    else:
        results = run_all(args)
        _print_summary(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {_display_path(args.json)}")
    if args.docs is not None:
        args.docs.parent.mkdir(parents=True, exist_ok=True)
        args.docs.write_text(report.render(results), encoding="utf-8")
        print(f"wrote {_display_path(args.docs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
