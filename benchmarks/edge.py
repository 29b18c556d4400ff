"""The edge benchmark: echo through an edge node against echo at the central node.

    .venv/bin/python benchmarks/edge.py                 # 3 rounds -> docs/benchmarks-edge.md
    .venv/bin/python benchmarks/edge.py --quick         # smoke: 1 round, 2 s runs
    .venv/bin/python benchmarks/edge.py --repeat 5 --json /tmp/edge.json

Each round runs, interleaved (the order turns from round to round), wsbench ``echo -J``
(100 connections, window 10, 64 bytes) against:

- ``direct``: the central node (``switchboard serve``) alone, the clients connected to it;
- ``forwarded``: ``switchboard edge --upstream`` the central, the clients connected to the
  edge, which has no ``echo`` of its own: every echo goes upstream over the edge's
  multiplexed connections and its ``echo_reply`` comes back;
- ``local``: the same edge with an ``echo`` processor of its App (``servers/edge_local.py``):
  answered on the edge, the central idle. This is the edge's local processing rate.

Placement: the central and the edge share core 0 and wsbench has core 1, so ``forwarded``
pays for both hops on one core, as ``direct`` pays for one. The server CPU reported is the
sum over the central and the edge.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import config as cfg
from harness.cputime import CpuSampler
from harness.envinfo import git_revision
from harness.loadgen import ensure_wsbench
from harness.procs import free_port, pinned, spawn, stop
from nodes import node_argv, ready, wsbench_window

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks-edge.md"
SERVERS = Path(__file__).resolve().parent / "servers"
DURATION_S, QUICK_DURATION_S = 6, 2
CONFIGS = ("direct", "forwarded", "local")
LABELS = {
    "direct": "echo at the central node",
    "forwarded": "echo through an edge (forwarded to the central)",
    "local": "echo processed on the edge (an App route)",
}
ECHO = ["echo", "-J", "-c", "100", "-w", "10", "-s", "64"]


def edge_argv(config: str, port: int, admin_port: int, upstream: str) -> list[str]:
    """``switchboard edge``, with ``servers/edge_local.py``'s App (a local ``echo``) for
    ``local`` (started in ``servers/``, so that its module is found)."""
    argv = node_argv(port, admin_port, ["--upstream", upstream])
    flags = argv[argv.index("serve") + 1 :]
    return [argv[0], "edge", *(["edge_local:app"] if config == "local" else []), *flags]


def run_one(config: str, duration_s: int) -> dict[str, Any]:
    """Start the central (and the edge), run wsbench against the clients' node, stop."""
    port, admin_port = free_port(), free_port()
    with tempfile.TemporaryFile() as log:
        central = spawn(pinned(cfg.SERVER_CPU, node_argv(port, admin_port)), log)
        edge = None
        try:
            why = ready(central, port, admin_port)
            if why is None and config != "direct":
                edge_port, edge_admin = free_port(), free_port()
                upstream = f"ws://{cfg.HOST}:{port}{cfg.WS_PATH}"
                argv = edge_argv(config, edge_port, edge_admin, upstream)
                edge = spawn(pinned(cfg.SERVER_CPU, argv), log, cwd=SERVERS)
                why = ready(edge, edge_port, edge_admin)
                port = edge_port
            if why is not None:
                log.seek(0)
                return {"error": f"{why}: {log.read().decode(errors='replace')[-300:]}"}
            target = central if edge is None else edge
            pids = [central.pid] + ([] if edge is None else [edge.pid])
            args = [*ECHO, "-d", str(duration_s), "-W", "1", "-u", cfg.WS_PATH, "-p", str(port)]
            with CpuSampler({"servers": pids}) as cpu:
                record = wsbench_window(args, target.pid, timeout_s=60 + duration_s)
            if "window" in record:
                start, end = record.pop("window")
                record["servers_cpu_pct"] = cpu.percent("servers", start, end)
            return record
        finally:
            if edge is not None:
                stop(edge)
            stop(central)


def median(runs: list[dict[str, Any]], config: str, key: str) -> float | None:
    values = [r[key] for r in runs if r.get("config") == config and r.get(key) is not None]
    return statistics.median(values) if values else None


def render(results: dict[str, Any]) -> str:
    runs = results["runs"]
    direct = median(runs, "direct", "msg_per_s")
    lines = [
        "# Edge benchmarks",
        "",
        "Written by `benchmarks/edge.py` (`make bench`); "
        f"{results['started']}, revision `{results['revision']}`, {results['rounds']} rounds "
        f"of {results['duration_s']} s, medians. wsbench `{' '.join(ECHO)}` on core 1; the "
        "central and the edge on core 0 (see the script's docstring).",
        "",
        "| configuration | messages/s | against direct | p50 (us) | p99 (us) | servers' CPU |",
        "|---|---|---|---|---|---|",
    ]
    for config in CONFIGS:
        rate = median(runs, config, "msg_per_s")
        ratio = "" if rate is None or not direct else f"{rate / direct:.2f}x"
        p50, p99 = median(runs, config, "p50_us"), median(runs, config, "p99_us")
        cpu = median(runs, config, "servers_cpu_pct")
        lines.append(
            f"| {LABELS[config]} | {_n(rate)} | {ratio} | {_n(p50)} | {_n(p99)} | "
            f"{'' if cpu is None else f'{cpu:.0f}%'} |"
        )
    errors = [r for r in runs if "error" in r]
    lines += ["", f"Runs that failed: {len(errors)}."] if errors else []
    if results.get("quick"):
        lines += ["", "**A quick run** (1 round, 2 s): a smoke test, not a measurement."]
    return "\n".join(lines) + "\n"


def _n(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round, 2 s runs")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.repeat
    duration_s = QUICK_DURATION_S if args.quick else DURATION_S
    ensure_wsbench()
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "revision": git_revision() or "unknown",
        "rounds": rounds,
        "quick": args.quick,
        "duration_s": duration_s,
        "runs": [],
    }
    for round_no in range(rounds):
        turn = round_no % len(CONFIGS)
        for config in (*CONFIGS[turn:], *CONFIGS[:turn]):
            run = {"config": config, "round": round_no} | run_one(config, duration_s)
            results["runs"].append(run)
            shown = run.get("error") or f"{run.get('msg_per_s', 0):,.0f} msg/s"
            print(f"[round {round_no + 1}/{rounds}] {config:<9} {shown}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    report = render(results)
    if not args.no_docs:
        DOC.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
