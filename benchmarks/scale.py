"""Scale: many idle connections held over time, a share of them subscribed to a live channel.

    .venv/bin/python benchmarks/scale.py                       # (a) 100,000 over 6 workers
    .venv/bin/python benchmarks/scale.py --workers 1 --connections 19000   # (b) one process
    .venv/bin/python benchmarks/scale.py --connections 4000 --duration 20  # a small version

One run: a redis-server of its own (free port, no persistence), then ``switchboard serve
--workers W --broker redis://...`` (``--workers 1``: one plain process, no supervisor) with
heartbeats on, then ``ceil(connections / --per-process)`` generator processes (this script with
``--generator``), each holding its share from a source address of its own (127.0.0.2, .3, ...;
bound before connect, since one source address has only the ephemeral range 32768-60999) and
below the 20,000 open-file limit. ``--subscribed`` of the connections (default 1 %) subscribe
to one channel and wait for the ack; once all are open, generator 0 publishes on it
``--rate`` times a second (one extra connection, each publication stamped with the
``time.monotonic_ns()`` it was sent, a clock every process on the host shares) for
``--duration`` seconds. Measured:

- ``dropped``: connections that closed or failed during the hold (none expected), by close code;
- ``lost``: acknowledged publications times subscribers, minus distinct deliveries;
- publish-to-delivery latency p50/p99/max over every delivery;
- RSS per idle connection: the workers' summed RSS with everyone connected (before the first
  publication) minus their RSS before the first connection, divided by the connections.

Every process started here is stopped on every way out (Ctrl-C and SIGTERM included). Results
go to ``benchmarks/results/scale-<W>w-<N>.json``; ``docs/benchmarks-scale.md`` is rendered from
every such file present (``--no-docs``: not).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import config as cfg
from harness import scale_load
from harness.cputime import tree
from harness.envinfo import git_revision
from harness.procs import (
    free_port,
    handed_over,
    interrupt_on_sigterm,
    kill_all,
    log_tail,
    raise_nofile,
    spawn,
    spawn_piped,
    stop,
    wait_ready,
)
from harness.scale_load import DRAIN_S, RAMP_TIMEOUT_S
from harness.scale_report import write_docs
from harness.servers import python
from nodes import http_get, node_argv

from cluster import start_redis

FILE_LIMIT = 20_000  # the hard per-process limit on this machine
#: Descriptors a generator keeps for itself beyond its connections.
GENERATOR_SLACK = 200
START_TIMEOUT_S = 90.0  # six workers starting on two busy cores take a while
SETTLE_S = 3.0  # after the last connection, before RSS is read


def ready(proc: subprocess.Popen[bytes], port: int, admin_port: int) -> str | None:
    """None once the WebSocket port upgrades and ``/ready`` (every worker's) says 200."""
    why = wait_ready(proc, port, cfg.WS_PATH, START_TIMEOUT_S)
    deadline = time.monotonic() + START_TIMEOUT_S
    while why is None and http_get(admin_port, "/ready")[0] != 200:
        if time.monotonic() > deadline or proc.poll() is not None:
            return "/ready never said 200"
        time.sleep(0.1)  # the poll interval of a process starting up
    return why


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _percentile(values: list[int], q: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def server_argv(args: argparse.Namespace, port: int, admin: int, redis_url: str) -> list[str]:
    extra = ["--ping-interval", str(args.ping_interval), "--ping-timeout", str(args.ping_timeout)]
    if args.broker == "redis":
        extra += ["--broker", redis_url, "--broker-prefix", f"scale{time.time_ns()}:"]
    if args.workers > 1:
        extra += ["--workers", str(args.workers)]
    # SO_REUSEPORT spreads connections by hash, not evenly: allow a worker 10 % above its share.
    per_worker = (
        args.connections + 1 if args.workers == 1 else args.connections * 1.1 / args.workers
    )
    if per_worker > FILE_LIMIT - 2048:  # the default fd_reserve would cap it below the target
        extra += ["--fd-reserve", str(max(64, min(1024, int(FILE_LIMIT - per_worker - 100))))]
    return node_argv(port, admin, extra)


def run(args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile(FILE_LIMIT)
    port, admin = free_port(), free_port()
    redis: subprocess.Popen[bytes] | None = None
    redis_url = ""
    gens: list[subprocess.Popen[str]] = []
    server: subprocess.Popen[bytes] | None = None
    record: dict[str, Any] = {}
    with tempfile.TemporaryFile() as log, tempfile.TemporaryDirectory() as handed:
        try:
            if args.broker == "redis":
                redis, redis_port = start_redis()
                redis_url = f"redis://127.0.0.1:{redis_port}/0"
            command = server_argv(args, port, admin, redis_url)
            record["server_command"] = " ".join(command).replace(f"{cfg.ROOT}/", "")
            server = spawn(command, log)
            why = ready(server, port, admin)
            if why is not None:
                return {**record, "error": f"server {why}: {log_tail(log)}"}
            time.sleep(1.0)  # let start-up garbage settle before the baseline RSS
            pids = tree(server.pid)
            workers = [pid for pid in pids if pid != server.pid] or [server.pid]
            rss_idle = rss_kb(workers)
            processes = math.ceil(args.connections / args.per_process)
            share = [args.connections // processes] * processes
            for i in range(args.connections % processes):
                share[i] += 1
            subscribers = round(args.connections * args.subscribed)
            sub_share = [subscribers // processes] * processes
            for i in range(subscribers % processes):
                sub_share[i] += 1
            outs = [Path(handed, f"{index}.json") for index in range(processes)]
            for index in range(processes):
                argv = [python(), __file__, "--generator", str(index), "--port", str(port)]
                argv += ["--out", str(outs[index])]
                argv += ["--count", str(share[index]), "--subscribe", str(sub_share[index])]
                argv += ["--source", f"127.0.0.{2 + index}", "--duration", str(args.duration)]
                argv += ["--rate", str(args.rate)] + (["--publisher"] if index == 0 else [])
                gens.append(spawn_piped(argv, log))
            readies = []
            ramp = time.monotonic()
            # A generator gives up opening after RAMP_TIMEOUT_S; one that hangs anyway is killed.
            watchdog = threading.Timer(RAMP_TIMEOUT_S + 60, kill_all, (gens,))
            watchdog.daemon = True
            watchdog.start()
            for gen in gens:
                assert gen.stdout is not None
                line = gen.stdout.readline()
                if not line.startswith('{"ready"'):
                    return {**record, "error": f"a generator did not get ready: {log_tail(log)}"}
                readies.append(json.loads(line))
            watchdog.cancel()
            ramp_s = time.monotonic() - ramp
            opened = sum(r["ready"] for r in readies)
            time.sleep(SETTLE_S)
            rss_loaded = rss_kb(workers)
            print(
                f"[scale] {opened:,} open in {ramp_s:.1f} s; holding {args.duration} s", flush=True
            )
            for gen in gens:
                assert gen.stdin is not None
                gen.stdin.write("go\n")
                gen.stdin.flush()
            results = []
            for gen, out in zip(gens, outs, strict=True):
                results.append(handed_over(gen, out, args.duration + DRAIN_S + 120))
            rss_end = rss_kb(workers)
            alive = server.poll() is None
        except (subprocess.TimeoutExpired, ValueError, IndexError, OSError) as exc:
            return {**record, "error": f"generator failed ({exc}): {log_tail(log)}"}
        finally:
            kill_all(gens)
            if server is not None:
                stop(server, grace_s=15.0)
            if redis is not None:
                stop(redis)
    latency = [value for result in results for value in result["latency_us"]]
    dropped: dict[str, int] = {}
    for result in results:
        for why, count in result["dropped"].items():
            dropped[why] = dropped.get(why, 0) + count
    failed: dict[str, int] = {}
    for ready_line in readies:
        for why, count in ready_line["failed"].items():
            failed[why] = failed.get(why, 0) + count
    acked = results[0]["acked"]
    subscribed = sum(result["subscribers"] for result in results)
    received = sum(result["received"] for result in results)
    record.update(
        {
            "connections": args.connections,
            "opened": opened,
            "open_failed": failed,
            "ramp_s": round(ramp_s, 1),
            "generator_processes": len(gens),
            "server_processes": len(workers),
            "subscribers": subscribed,
            "published": results[0]["published"],
            "acked": acked,
            "publish_errors": results[0]["publish_errors"],
            "expected": acked * subscribed,
            "received": received,
            "lost": acked * subscribed - received,
            "dropped": dropped,
            "dropped_total": sum(dropped.values()),
            "open_at_end": sum(result["open_at_end"] for result in results),
            "errors": sum(result["errors"] for result in results),
            "latency_p50_ms": _ms(_percentile(latency, 0.50)),
            "latency_p99_ms": _ms(_percentile(latency, 0.99)),
            "latency_max_ms": _ms(max(latency) if latency else None),
            "deliveries": len(latency),
            "rss_idle_kb": rss_idle,
            "rss_loaded_kb": rss_loaded,
            "rss_end_kb": rss_end,
            "bytes_per_conn": (rss_loaded - rss_idle) * 1024 / opened if opened else None,
            "server_alive_at_end": alive,
        }
    )
    return record


def _ms(value: int | None) -> float | None:
    return None if value is None else round(value / 1000, 2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=6, help="1: one plain process")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds held")
    parser.add_argument("--subscribed", type=float, default=0.01, help="share subscribed")
    parser.add_argument("--rate", type=float, default=1.0, help="publications per second")
    parser.add_argument("--ping-interval", type=float, default=30.0, help="server heartbeat (s)")
    parser.add_argument("--ping-timeout", type=float, default=20.0, help="server pong wait (s)")
    parser.add_argument("--broker", choices=("redis", "memory"), default="redis")
    parser.add_argument("--per-process", type=int, default=16_000, help="connections/generator")
    parser.add_argument("--no-docs", action="store_true")
    # a generator process (started by the harness)
    parser.add_argument("--generator", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--subscribe", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--publisher", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generator is not None:
        return args
    if not 1 <= args.connections <= 200_000 or not 1 <= args.workers <= 16:
        parser.error("--connections must be 1-200,000 and --workers 1-16")
    if not 0 < args.duration <= 1800 or not 0 < args.rate <= 1000:
        parser.error("--duration must be 0-1800 s and --rate 0-1000/s")
    if not 0 <= args.subscribed <= 1 or not 100 <= args.per_process <= 19_000:
        parser.error("--subscribed must be 0-1 and --per-process 100-19,000")
    if args.per_process + GENERATOR_SLACK > FILE_LIMIT:
        parser.error(f"--per-process must leave {GENERATOR_SLACK} of {FILE_LIMIT:,} descriptors")
    if math.ceil(args.connections / args.per_process) > 250:
        parser.error("too many generator processes (source addresses 127.0.0.2-251)")
    if args.workers == 1 and args.connections > FILE_LIMIT - 100:
        parser.error(f"one process holds at most {FILE_LIMIT - 100:,} connections here")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.generator is not None:
        return scale_load.main(args)
    interrupt_on_sigterm()
    try:
        record = run(args)
    except KeyboardInterrupt:
        print("interrupted: server, redis-server and generators stopped", file=sys.stderr)
        return 130
    small = args.connections < 100_000 and not (args.workers == 1 and args.connections >= 19_000)
    result = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "revision": git_revision(),
        "mode": "small" if small or args.duration < 120 else "full",
        "command": ".venv/bin/python benchmarks/scale.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": {
            key: getattr(args, key)
            for key in ("connections", "workers", "duration", "subscribed", "rate", "broker")
        }
        | {"ping_interval": args.ping_interval, "ping_timeout": args.ping_timeout},
        "record": record,
    }
    print(json.dumps(record, indent=1))
    path = cfg.RESULTS_DIR / f"scale-{args.workers}w-{args.connections}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    if not args.no_docs:
        write_docs()
    failed = "error" in record or record.get("dropped_total") or record.get("lost")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
