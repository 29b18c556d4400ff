"""The cluster benchmarks: Switchboard over Redis beside the embedded broker, in the same run.

    .venv/bin/python benchmarks/cluster.py              # 3 rounds -> docs/benchmarks-cluster.md
    .venv/bin/python benchmarks/cluster.py --repeat 5 --json /tmp/cluster.json

Each round runs, for the embedded broker and for Redis, interleaved:

- ``publish``: one node; 100 connections each keep one publish in flight, over 100 channels
  (history on, the default 100 kept): acknowledged publications per second.
- ``broadcast``: one node, 1,000 connections, the broadcast fan-out of ``make bench``
  (window 10): deliveries per second, so the ratio is the cost of ``--broker redis``.
- ``fanout-R``: 1,000 subscribers of one channel and a publisher paced at R publications/s;
  with Redis the subscribers are split over two nodes (the odd ones on the second), with the
  embedded broker they are all on one: per-delivery latency, publish to receipt.

Placement: the (first) node on core 0, wsbench on core 1, the second node on core 1 too
(this machine has two), redis-server unpinned. Every process is started for its run and
stopped after it; redis-server is started once, on a free port, without persistence.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import config as cfg
from harness.envinfo import git_revision
from harness.loadgen import ensure_wsbench
from harness.procs import free_port, pinned, spawn, stop, wait_ready
from harness.servers import switchboard_args

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks-cluster.md"
SWITCHBOARD = str(ROOT / ".venv" / "bin" / "switchboard")
RATES = (100, 1000)
DURATION_S = 6
#: Targets of the cluster issue.
TARGET_PUBLISH_PER_S = 30_000
TARGET_P99_US = 10_000


def start_redis() -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (make test installs it)")
    port = free_port()
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    # Its own process group: harness.procs.stop signals the group (it leaked without one).
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 10
    while (
        subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False
        ).stdout.strip()
        != b"PONG"
    ):
        if time.monotonic() > deadline or proc.poll() is not None:
            sys.exit("redis-server did not start")
        time.sleep(0.05)  # the poll interval of a process starting up
    return proc, port


def wsbench(args: list[str], server_pid: int) -> dict[str, Any]:
    argv = pinned(cfg.LOADGEN_CPU, [str(cfg.WSBENCH_BIN), *args, "-S", str(server_pid)])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": f"wsbench exited {out.returncode}: {out.stderr.strip()[-300:]}"}
    return dict(json.loads(lines[-1]))


def run_once(scenario: str, broker: str, redis_url: str) -> dict[str, Any]:
    """Start the node(s) for one measurement, run wsbench, stop them."""
    clustered = broker == "redis"
    nodes = 2 if clustered and scenario.startswith("fanout") else 1
    ports = [free_port() for _ in range(nodes)]
    procs = []
    prefix = f"b{time.time_ns()}:"  # one cluster per run: the nodes share it
    with tempfile.TemporaryFile() as log:
        try:
            for index, port in enumerate(ports):
                argv = [SWITCHBOARD, *switchboard_args(str(port))]
                if clustered:
                    argv += ["--broker", redis_url, "--broker-prefix", prefix]
                cpu = cfg.SERVER_CPU if index == 0 else cfg.LOADGEN_CPU
                procs.append(spawn(pinned(cpu, argv), log))
            for proc, port in zip(procs, ports, strict=True):
                why = wait_ready(proc, port, cfg.WS_PATH, cfg.READY_TIMEOUT_S)
                if why is not None:
                    return {"error": f"node {why}"}
            common = ["-u", cfg.WS_PATH, "-d", str(DURATION_S), "-W", "1", "-s", "64"]
            common += ["-p", str(ports[0])]
            if scenario == "publish":
                args = ["publish", "-J", "-C", "bench:p", "-M", "100", "-c", "100", "-w", "1"]
            elif scenario == "broadcast":
                args = ["bcast", "-J", "-c", "1000", "-w", "10"]
            else:
                rate = scenario.split("-", 1)[1]
                args = ["bcast", "-J", "-C", "bench:fanout", "-c", "1000", "-w", "50"]
                args += ["-R", rate]
                if nodes == 2:
                    args += ["-Q", str(ports[1])]
            return wsbench([*args, *common], procs[0].pid)
        finally:
            for proc in procs:
                stop(proc)


SCENARIOS = ("publish", "broadcast", *(f"fanout-{rate}" for rate in RATES))
HEADLINES = {
    "publish": ("acks_per_s", "publications/s"),
    "broadcast": ("deliveries_per_s", "deliveries/s"),
    **{f"fanout-{rate}": ("delivery_p99_us", "p99 µs") for rate in RATES},
}


def median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if isinstance(run.get(key), int | float)]
    return statistics.median(values) if values else None


def _of(runs: list[dict[str, Any]], scenario: str, broker: str) -> list[dict[str, Any]]:
    return [r for r in runs if r["scenario"] == scenario and r["broker"] == broker]


def _n(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _headlines(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| scenario | figure | embedded broker | Redis | Redis / embedded |",
        "|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        key, unit = HEADLINES[scenario]
        mem = median(_of(runs, scenario, "memory"), key)
        red = median(_of(runs, scenario, "redis"), key)
        ratio = f"{red / mem:.2f}x" if mem and red else "n/a"
        lines.append(f"| `{scenario}` | {unit} | {_n(mem)} | {_n(red)} | {ratio} |")
    return lines


def _latencies(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| rate | broker | published/s | p50 | p90 | p99 | max | lost | out of order |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    keys = ("published_per_s", *(f"delivery_{q}_us" for q in ("p50", "p90", "p99", "max")))
    for rate in RATES:
        for broker in ("memory", "redis"):
            chosen = _of(runs, f"fanout-{rate}", broker)
            shown = " | ".join(_n(median(chosen, key)) for key in keys)
            lost = sum(int(r.get("lost_gaps", 0)) for r in chosen)
            ooo = sum(int(r.get("out_of_order", 0)) for r in chosen)
            where = "2 nodes" if broker == "redis" else "1 node"
            lines.append(f"| {rate}/s | {broker} ({where}) | {shown} | {lost} | {ooo} |")
    return lines


def _targets(runs: list[dict[str, Any]]) -> list[str]:
    publish = median(_of(runs, "publish", "redis"), "acks_per_s")
    p99 = median(_of(runs, "fanout-1000", "redis"), "delivery_p99_us")
    publish_ok = "PASS" if publish and publish >= TARGET_PUBLISH_PER_S else "FAIL"
    p99_ok = "PASS" if p99 and p99 < TARGET_P99_US else "FAIL"
    return [
        f"- publications/s one node pushes through Redis, history on: {_n(publish)} "
        f"(target >= {TARGET_PUBLISH_PER_S:,}): {publish_ok}",
        f"- cross-node fan-out p99 at 1,000 publications/s: {_n(p99)} µs "
        f"(target < {TARGET_P99_US:,} µs): {p99_ok}",
    ]


def render(results: dict[str, Any]) -> str:
    runs = results["runs"]
    failed = [f"{r['scenario']}/{r['broker']}: {r['error']}" for r in runs if "error" in r]
    lines = [
        "# Cluster benchmarks",
        "",
        "Written by `benchmarks/cluster.py` (`make bench` runs it after `benchmarks/run.py`).",
        f"Run {results['started']} on git revision {results['revision']}, {results['rounds']} "
        "rounds, the embedded broker and Redis interleaved in each; medians. Placement: the "
        "(first) node on core 0, wsbench and the second node on core 1, redis-server "
        "unpinned: a 2-core machine hosts every process, so the cross-node figures are a "
        "floor, not what two machines give.",
        "",
        *_headlines(runs),
        "",
        "Per-delivery latency of the paced fan-out (µs, publish to receipt):",
        "",
        *_latencies(runs),
        "",
        "Targets:",
        "",
        *_targets(runs),
        "",
        f"Failed runs: {', '.join(failed) or 'none'}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    ensure_wsbench()
    redis, port = start_redis()
    url = f"redis://127.0.0.1:{port}/0"
    revision = git_revision() or "unknown"
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "revision": revision,
        "rounds": args.repeat,
        "runs": [],
    }
    try:
        for round_no in range(args.repeat):
            for scenario in SCENARIOS:
                order = ("memory", "redis") if round_no % 2 == 0 else ("redis", "memory")
                for broker in order:
                    run = {"scenario": scenario, "broker": broker, "round": round_no}
                    run |= run_once(scenario, broker, url)
                    results["runs"].append(run)
                    key, unit = HEADLINES[scenario]
                    shown = run.get("error") or f"{run.get(key, 0):,.0f} {unit}"
                    print(
                        f"[round {round_no + 1}/{args.repeat}] {scenario:<12} {broker:<7} {shown}",
                        flush=True,
                    )
    finally:
        stop(redis)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    report = render(results)
    print(report)
    if not args.no_docs:
        DOC.write_text(report)


if __name__ == "__main__":
    main()
