"""Connection rate: handshakes per second, Switchboard with and without JWT, and baselines.

    .venv/bin/python benchmarks/connrate.py          # 3 rounds x 5 s -> docs/benchmarks-connrate.md
    .venv/bin/python benchmarks/connrate.py --quick  # 1 round x 2 s -> results/connrate-quick.json
    .venv/bin/python benchmarks/connrate.py --servers switchboard,switchboard-jwt --duration 10

A *handshake* is one whole short life: TCP connect, the upgrade, the ``101`` and, from
Switchboard, its ``welcome`` frame (the baselines send nothing first, so the ``101``), then the
closing handshake, which the server ends by closing the socket. ``--processes`` generator
processes (``harness/wsclient.py`` on uvloop, each connecting from a source address of its
own, 127.0.0.2, 127.0.0.3, ...) keep ``--lanes`` of those lives going at a time, closed loop,
for ``--duration`` seconds: the rate is what the server sustains. ``switchboard-jwt`` is the
same server started with a ``jwt_secret``; every handshake carries an HS256 token (each lane
cycles through distinct ones) as ``Authorization: Bearer``.

Placement: the server pinned to core 0, the generators to core 1; CPU of both is read from
/proc over the measured window, so a generator-bound run shows (``core1`` near 100 %).
Servers are interleaved and their order turns between rounds. Only 127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import config as cfg
from harness import connrate_load
from harness.connrate_load import SECRET_ENV
from harness.connrate_report import DOC, JWT, render, summarize
from harness.cputime import cpu_seconds, tree
from harness.envinfo import git_revision
from harness.procs import (
    free_port,
    handed_over,
    interrupt_on_sigterm,
    kill_all,
    log_tail,
    pinned,
    spawn,
    spawn_piped,
    stop,
    wait_ready,
)
from harness.servers import SERVERS, ServerSpec, python

CHOICES = ("switchboard", JWT, "aiohttp", "node_ws", "picows_min", "socketify", "picows_raw")
DEFAULT_SERVERS = ("switchboard", JWT, "aiohttp", "node_ws")


def server_spec(name: str) -> tuple[ServerSpec, dict[str, str]]:
    """The harness's spec of ``name`` and the environment its process gets."""
    if name == JWT:
        return SERVERS["switchboard"], {SECRET_ENV: "connrate-" + os.urandom(16).hex()}
    return SERVERS[name], {}


def core_ticks() -> dict[str, tuple[int, int]]:
    """Per core of /proc/stat: (busy, total) jiffies."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu":
            values = [int(v) for v in fields[:8]]
            idle = values[3] + values[4]  # idle, iowait
            out[name] = (sum(values) - idle, sum(values))
    return out


def busy_pct(before: dict[str, tuple[int, int]], core: str) -> float | None:
    after = core_ticks()
    if core not in before or core not in after:
        return None
    busy, total = (after[core][i] - before[core][i] for i in (0, 1))
    return round(100.0 * busy / total, 1) if total else None


def health_ready(proc: subprocess.Popen[bytes], port: int, timeout_s: float) -> str | None:
    """Poll ``GET /health`` on the WebSocket port (Switchboard answers it) until it says 200."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with code {proc.returncode} before becoming ready"
        try:
            with socket.create_connection((cfg.HOST, port), timeout=1) as sock:
                sock.sendall(f"GET /health HTTP/1.1\r\nHost: {cfg.HOST}\r\n\r\n".encode())
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return None
        except OSError:
            pass
        time.sleep(0.1)  # the poll interval of a process starting up
    return f"not ready within {timeout_s:.0f}s"


def percentile(values: list[int], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def measure(name: str, args: argparse.Namespace, round_no: int) -> dict[str, Any]:
    """Start the server, run the generators for one window, stop everything."""
    spec, env = server_spec(name)
    port = free_port()
    record: dict[str, Any] = {"server": name, "round": round_no}
    gens: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryFile() as log, tempfile.TemporaryDirectory() as handed:
        proc = spawn(pinned(cfg.SERVER_CPU, spec.command(str(port))), log, env={**spec.env, **env})
        try:
            if name == JWT:  # an upgrade without a token is refused: ask /health instead
                why = health_ready(proc, port, cfg.READY_TIMEOUT_S)
            else:
                why = wait_ready(proc, port, cfg.WS_PATH, cfg.READY_TIMEOUT_S)
            if why is not None:
                return {**record, "error": f"server {why}: {log_tail(log)}"}
            outs = [Path(handed, f"{worker}.json") for worker in range(args.processes)]
            for worker in range(args.processes):
                argv = [python(), __file__, "--worker", str(worker), "--port", str(port)]
                argv += ["--out", str(outs[worker])]
                argv += ["--lanes", str(args.lanes), "--duration", str(args.duration)]
                argv += ["--source", f"127.0.0.{2 + worker}"]
                argv += ["--welcome"] if name.startswith("switchboard") else []
                gens.append(spawn_piped(pinned(cfg.LOADGEN_CPU, argv), log, env=env))
            for gen in gens:
                assert gen.stdout is not None
                if not gen.stdout.readline().startswith('{"ready"'):
                    return {**record, "error": f"generator did not start: {log_tail(log)}"}
            server_pids = tree(proc.pid)
            cpu_before = (cpu_seconds(server_pids), time.monotonic())
            cores = core_ticks()
            for gen in gens:
                assert gen.stdin is not None
                gen.stdin.write("go\n")
                gen.stdin.flush()
            results = []
            for gen, out in zip(gens, outs, strict=True):
                results.append(handed_over(gen, out, args.duration + 60))
            wall = time.monotonic() - cpu_before[1]
            server_cpu = (cpu_seconds(server_pids) - cpu_before[0]) / wall * 100
            gen_cpu = sum(result["cpu_s"] for result in results) / wall * 100
            record["cpu0_busy_pct"] = busy_pct(cores, f"cpu{cfg.SERVER_CPU}")
            record["cpu1_busy_pct"] = busy_pct(cores, f"cpu{cfg.LOADGEN_CPU}")
        except (subprocess.TimeoutExpired, ValueError, IndexError, OSError) as exc:
            return {**record, "error": f"generator failed ({exc}): {log_tail(log)}"}
        finally:
            kill_all(gens)
            stop(proc)
    latencies = [value for result in results for value in result["latency_us"]]
    failed: dict[str, int] = {}
    for result in results:
        for why, count in result["failed"].items():
            failed[why] = failed.get(why, 0) + count
    secs = max(result["secs"] for result in results)
    return {
        **record,
        "handshakes": sum(result["done"] for result in results),
        "handshakes_per_s": sum(result["done"] for result in results) / secs,
        "p50_us": percentile(latencies, 0.50),
        "p99_us": percentile(latencies, 0.99),
        "failed": failed,
        "slow_close": sum(result["slow_close"] for result in results),
        "server_cpu_pct": round(server_cpu, 1),
        "loadgen_cpu_pct": round(gen_cpu, 1),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round x 2 s, no docs")
    parser.add_argument("--repeat", type=int)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--servers", default=",".join(DEFAULT_SERVERS))
    parser.add_argument("--processes", type=int, default=2, help="generator processes")
    parser.add_argument("--lanes", type=int, default=32, help="handshakes in flight per process")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--docs", type=Path)
    # the generator process (started by the harness)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--welcome", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        return args
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in args.servers if s not in CHOICES]
    if unknown or not args.servers:
        parser.error(f"unknown or empty --servers {unknown}; pick from {', '.join(CHOICES)}")
    if not 1 <= args.processes <= 50 or not 1 <= args.lanes <= 1000:
        parser.error("--processes must be 1-50 and --lanes 1-1000")
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.duration = args.duration or (2.0 if args.quick else 5.0)
    if args.repeat < 1 or not 0 < args.duration <= 600:
        parser.error("--repeat must be at least 1 and --duration 0-600 s")
    name = "connrate-quick.json" if args.quick else "connrate.json"
    args.json = args.json or cfg.RESULTS_DIR / name
    args.docs = args.docs or (None if args.quick else DOC)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return connrate_load.main(args)
    interrupt_on_sigterm()
    names = list(dict.fromkeys(args.servers))
    active = []
    for name in names:
        why = server_spec(name)[0].check()
        if why is None:
            active.append(name)
        else:
            print(f"[skip] {name}: {why}", flush=True)
    runs: list[dict[str, Any]] = []
    try:
        for round_no in range(args.repeat):
            shift = round_no % max(len(active), 1)
            for name in active[shift:] + active[:shift]:
                run = measure(name, args, round_no)
                shown = run.get("error") or (
                    f"{run['handshakes_per_s']:,.0f}/s p99={run['p99_us']}us "
                    f"server_cpu={run['server_cpu_pct']}% gen_cpu={run['loadgen_cpu_pct']}% "
                    f"failed={sum(run['failed'].values())}"
                )
                print(f"[round {round_no + 1}/{args.repeat}] {name:<16} {shown}", flush=True)
                runs.append(run)
    except KeyboardInterrupt:
        print("interrupted: servers and generators stopped, nothing written", file=sys.stderr)
        return 130
    results = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "revision": git_revision(),
        "mode": "quick" if args.quick else "full",
        "command": ".venv/bin/python benchmarks/connrate.py "
        + " ".join(a for a in (argv if argv is not None else sys.argv[1:])),
        "config": {
            "repeat": args.repeat,
            "duration_s": args.duration,
            "processes": args.processes,
            "lanes": args.lanes,
        },
        "summary": summarize(runs, active),
        "runs": runs,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    if args.docs is not None:
        args.docs.write_text(render(results), encoding="utf-8")
        print(f"wrote {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
