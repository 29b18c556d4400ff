"""The node benchmarks: two workers on one port, and the reconnect curve of a drain.

    .venv/bin/python benchmarks/nodes.py                 # 3 rounds -> docs/benchmarks-nodes.md
    .venv/bin/python benchmarks/nodes.py --quick         # smoke: 1 round, 2 s runs, 1,000 conns
    .venv/bin/python benchmarks/nodes.py --repeat 5 --json /tmp/nodes.json

Each round runs, interleaved (the order of the configurations turns from round to round):

- Workers: wsbench ``echo -J`` (200 connections, window 10) and ``bcast -J`` (1,000
  connections, window 10) against (a) one process with the embedded broker, (b) one process
  with ``--broker redis``, (c) ``--workers 2 --broker redis``: messages/s, deliveries/s and the
  server's CPU, summed over the supervisor and its workers for (c) (``harness/cputime.py``).
- Drain: node A holds N connections of ``reconnect_client.py``; A gets SIGTERM, and every
  client it closes reconnects to node B (same Redis). ``waves``: ``--drain-rate 1000`` (the
  default) and clients that wait the close reason's ``reconnect_after_ms``; ``herd``:
  ``--drain-rate 1000000`` (one wave) and clients that reconnect at once. Measured: the
  arrivals at B (the client's time of each 101), per 100 ms.

Placement: one-process nodes on core 0 and wsbench on core 1, like ``cluster.py``; the
supervisor of (c) and its workers unpinned (the kernel spreads them over both cores, one of
them wsbench's). Drain: B on core 0, A and the clients on core 1. redis-server (started once,
on a free port, without persistence) unpinned.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import config as cfg
from harness.cputime import CpuSampler, tree
from harness.envinfo import git_revision
from harness.loadgen import ensure_wsbench
from harness.procs import free_port, pinned, raise_nofile, spawn, stop, wait_ready
from harness.servers import python, switchboard_args

from cluster import start_redis

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks-nodes.md"
SWITCHBOARD = str(ROOT / ".venv" / "bin" / "switchboard")
CLIENT = str(Path(__file__).resolve().parent / "reconnect_client.py")
DURATION_S, QUICK_DURATION_S = 6, 2
DRAIN_CONNS, QUICK_DRAIN_CONNS = 2000, 1000
CONFIGS = ("embedded", "redis", "workers-2")
LABELS = {
    "embedded": "(a) 1 process, embedded",
    "redis": "(b) 1 process, Redis",
    "workers-2": "(c) `--workers 2`, Redis",
}
#: wsbench arguments, headline key and unit of each workload.
WORKLOADS: dict[str, tuple[list[str], str, str]] = {
    "echo": (["echo", "-J", "-c", "200", "-w", "10"], "msg_per_s", "messages/s"),
    "broadcast": (["bcast", "-J", "-c", "1000", "-w", "10"], "deliveries_per_s", "deliveries/s"),
}
#: --drain-rate of node A and whether the clients wait the close reason's hint.
DRAINS: dict[str, tuple[str, bool]] = {"waves": ("1000", True), "herd": ("1000000", False)}
DRAIN_NAMES = {"waves": "waves", "herd": "no waves"}
BIN_S = 0.1  # the arrival rate's resolution
CURVE_BIN_S = 0.25  # the rows of the curve table
DRAIN_DEADLINE_S = 60.0


def node_argv(port: int, admin_port: int, extra: Sequence[str] = ()) -> list[str]:
    """``switchboard serve`` as the other benchmarks start it, with a known admin port."""
    argv = [SWITCHBOARD, *switchboard_args(str(port))]
    argv[argv.index("--admin-port") + 1] = str(admin_port)
    return [*argv, *extra]


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


def ready(proc: subprocess.Popen[bytes], port: int, admin_port: int) -> str | None:
    """None once the WebSocket port upgrades and ``/ready`` (every worker's) says 200."""
    why = wait_ready(proc, port, cfg.WS_PATH, cfg.READY_TIMEOUT_S)
    deadline = time.monotonic() + cfg.READY_TIMEOUT_S
    while why is None and http_get(admin_port, "/ready")[0] != 200:
        if time.monotonic() > deadline or proc.poll() is not None:
            return "/ready never said 200"
        time.sleep(0.1)  # the poll interval of a process starting up
    return why


def opened_total(admin_port: int) -> int | None:
    """The node's ``switchboard_connections_opened_total``."""
    status, text = http_get(admin_port, "/metrics")
    for line in text.splitlines() if status == 200 else ():
        if line.startswith("switchboard_connections_opened_total"):
            return int(float(line.split()[-1]))
    return None


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace").strip()[-300:]


def _killer(proc: subprocess.Popen[Any], timeout_s: float) -> threading.Timer:
    timer = threading.Timer(timeout_s, proc.kill)
    timer.daemon = True
    timer.start()
    return timer


def wsbench_window(args: list[str], server_pid: int, timeout_s: float) -> dict[str, Any]:
    """Run wsbench; its JSON plus ``window``, the monotonic (start, end) of its measurement."""
    argv = pinned(cfg.LOADGEN_CPU, [str(cfg.WSBENCH_BIN), *args, "-S", str(server_pid)])
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
        timer = _killer(proc, timeout_s)
        record: dict[str, Any] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("{"):  # printed as the window ends (a broadcast: its last
                end = time.monotonic()  # deliveries first, milliseconds)
                record = dict(json.loads(line))
                record["window"] = (end - float(record["secs"]), end)
        proc.wait()
        timer.cancel()
        if not record:
            err.seek(0)
            why = err.read().decode(errors="replace").strip()[-300:]
            return {"error": f"wsbench exited {proc.returncode}: {why}"}
    return record


def run_workers(
    workload: str, config: str, redis: tuple[int, str], duration_s: int
) -> dict[str, Any]:
    """Start the server for one measurement, run wsbench, stop it."""
    redis_pid, redis_url = redis
    port, admin_port = free_port(), free_port()
    extra = []
    if config != "embedded":
        extra += ["--broker", redis_url, "--broker-prefix", f"n{time.time_ns()}:"]
    if config == "workers-2":
        extra += ["--workers", "2"]
    argv = node_argv(port, admin_port, extra)
    if config != "workers-2":  # the supervisor and its workers go where the kernel puts them
        argv = pinned(cfg.SERVER_CPU, argv)
    with tempfile.TemporaryFile() as log:
        proc = spawn(argv, log)
        try:
            why = ready(proc, port, admin_port)
            if why is not None:
                return {"error": f"server {why}: {_tail(log)}"}
            pids = tree(proc.pid)
            args = [*WORKLOADS[workload][0], "-s", "64", "-d", str(duration_s), "-W", "1"]
            args += ["-u", cfg.WS_PATH, "-p", str(port)]
            with CpuSampler({"server": pids, "redis": [redis_pid]}) as cpu:
                record = wsbench_window(args, proc.pid, timeout_s=90 + duration_s)
            if "window" in record:
                start, end = record.pop("window")
                record["wsbench_server_cpu_pct"] = record.pop("server_cpu_pct", None)
                record["server_cpu_pct"] = cpu.percent("server", start, end)
                record["redis_cpu_pct"] = cpu.percent("redis", start, end)
            record["processes"] = len(pids)
            return record
        finally:
            stop(proc)


def run_drain(mode: str, redis_url: str, conns: int) -> dict[str, Any]:
    """Node A with ``conns`` clients, SIGTERM to A, the clients' arrivals at node B."""
    rate, honour_hint = DRAINS[mode]
    port_a, admin_a, port_b, admin_b = (free_port() for _ in range(4))
    shared = ["--broker", redis_url, "--broker-prefix", f"d{time.time_ns()}:"]
    argv_a = node_argv(port_a, admin_a, [*shared, "--drain-rate", rate])
    argv_b = node_argv(port_b, admin_b, shared)
    client_argv = [python(), CLIENT, "--port-a", str(port_a), "--port-b", str(port_b)]
    client_argv += ["--conns", str(conns), "--deadline", str(DRAIN_DEADLINE_S)]
    client_argv += [] if honour_hint else ["--ignore-hint"]
    with tempfile.TemporaryFile() as log:
        node_a = spawn(pinned(cfg.LOADGEN_CPU, argv_a), log)
        node_b = spawn(pinned(cfg.SERVER_CPU, argv_b), log)
        client: subprocess.Popen[str] | None = None
        timer: threading.Timer | None = None
        try:
            for name, proc, port, admin in (
                ("A", node_a, port_a, admin_a),
                ("B", node_b, port_b, admin_b),
            ):
                why = ready(proc, port, admin)
                if why is not None:
                    return {"error": f"node {name} {why}: {_tail(log)}"}
            client = subprocess.Popen(
                pinned(cfg.LOADGEN_CPU, client_argv), stdout=subprocess.PIPE, stderr=log, text=True
            )
            timer = _killer(client, DRAIN_DEADLINE_S + 15)
            assert client.stdout is not None
            first = json.loads(client.stdout.readline() or "{}")
            if first.get("ready") != conns:
                return {"error": f"client: {first or 'no output'}: {_tail(log)}"}
            counted_before = opened_total(admin_b)
            a_exited: list[float] = []
            waiter = threading.Thread(
                target=lambda: (node_a.wait(), a_exited.append(time.monotonic()))
            )
            sigterm_at = time.monotonic()
            os.kill(node_a.pid, signal.SIGTERM)
            waiter.start()
            line = client.stdout.readline()
            client.wait()
            if not line.startswith("{"):
                return {"error": f"client exited {client.returncode}: {_tail(log)}"}
            raw = dict(json.loads(line))
            if "error" in raw:
                return {"error": str(raw["error"])}
            counted_after = opened_total(admin_b)
            waiter.join(timeout=30)
            record = analyse_drain(raw, sigterm_at)
            record["a_exit_s"] = a_exited[0] - sigterm_at if a_exited else None
            if counted_before is not None and counted_after is not None:
                record["b_counted"] = counted_after - counted_before
            return record
        finally:
            if timer is not None:
                timer.cancel()
            if client is not None and client.poll() is None:
                client.kill()
                client.wait()
            for proc in (node_a, node_b):
                stop(proc)


def _percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


def analyse_drain(raw: dict[str, Any], sigterm_at: float) -> dict[str, Any]:
    """Times relative to the SIGTERM; arrivals at B per 100 ms."""
    arrivals = sorted(t - sigterm_at for t in raw["arrive_t"])
    closes = sorted(t - sigterm_at for t in raw["close_t"])
    counts: dict[int, int] = {}
    for t in arrivals:
        counts[int(t // BIN_S)] = counts.get(int(t // BIN_S), 0) + 1
    waits = [(a - d) * 1000 for a, d in zip(raw["arrive_t"], raw["due_t"], strict=True)]
    curve = [0] * (int(arrivals[-1] // CURVE_BIN_S) + 1 if arrivals else 0)
    for t in arrivals:
        curve[int(t // CURVE_BIN_S)] += 1
    return {
        "conns": raw["conns"],
        "closed": raw["closed"],
        "back": raw["back"],
        "close_codes": raw["close_codes"],
        "with_hint": raw["with_hint"],
        "peak_per_s": max(counts.values()) / BIN_S if counts else None,
        "all_back_s": arrivals[-1] if raw["back"] == raw["conns"] else None,
        "first_close_s": closes[0] if closes else None,
        "last_close_s": closes[-1] if closes else None,
        "reconnect_p50_ms": _percentile(waits, 0.5),
        "reconnect_p99_ms": _percentile(waits, 0.99),
        "reconnect_max_ms": max(waits) if waits else None,
        "failed_attempts": raw["failed_attempts"],
        "error_kinds": raw["error_kinds"],
        "curve_per_s": [n / CURVE_BIN_S for n in curve],
    }


def median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if isinstance(run.get(key), int | float)]
    return statistics.median(values) if values else None


def _of(runs: list[dict[str, Any]], **match: str) -> list[dict[str, Any]]:
    return [r for r in runs if all(r.get(k) == v for k, v in match.items()) and "error" not in r]


def _n(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(top: float | None, bottom: float | None) -> str:
    return f"{top / bottom:.2f}x" if top and bottom else "n/a"


def _workers_tables(runs: list[dict[str, Any]]) -> list[str]:
    head = " | ".join(LABELS[c] for c in CONFIGS)
    lines = [
        f"| workload | figure | {head} | (c) / (a) | (c) / (b) |",
        "|---|---|---|---|---|---|---|",
    ]
    for workload, (_, key, unit) in WORKLOADS.items():
        a, b, c = (median(_of(runs, workload=workload, config=x), key) for x in CONFIGS)
        lines.append(
            f"| `{workload}` | {unit} | {_n(a)} | {_n(b)} | {_n(c)} | "
            f"{_ratio(c, a)} | {_ratio(c, b)} |"
        )
    lines += [
        "",
        "CPU over wsbench's measurement window, in % of one core (both cores: 200%): "
        "the server (for (c) the supervisor and both workers together), per message or "
        "delivery, redis-server, wsbench, and both cores busy from /proc/stat, which also "
        "counts the loopback's softirq time that no process is charged with:",
        "",
        "| workload | configuration | server CPU % | server CPU µs per unit | "
        "redis-server % | wsbench % | both cores busy % |",
        "|---|---|---|---|---|---|---|",
    ]
    for workload, (_, key, _unit) in WORKLOADS.items():
        for config in CONFIGS:
            chosen = _of(runs, workload=workload, config=config)
            cpu, rate = median(chosen, "server_cpu_pct"), median(chosen, key)
            per = cpu * 1e4 / rate if cpu is not None and rate else None
            redis = _n(median(chosen, "redis_cpu_pct")) if config != "embedded" else "-"
            busy = [r["cpu0_busy_pct"] + r["cpu1_busy_pct"] for r in chosen if "cpu0_busy_pct" in r]
            lines.append(
                f"| `{workload}` | {LABELS[config]} | {_n(cpu)} | {_n(per, 2)} | {redis} | "
                f"{_n(median(chosen, 'loadgen_cpu_pct'))} | "
                f"{_n(statistics.median(busy) if busy else None)} |"
            )
    return lines


DRAIN_ROWS: tuple[tuple[str, str, int], ...] = (
    ("peak reconnects/s at B (100 ms bins)", "peak_per_s", 0),
    ("all back at B after SIGTERM (s)", "all_back_s", 2),
    ("first close after SIGTERM (s)", "first_close_s", 2),
    ("last close after SIGTERM (s)", "last_close_s", 2),
    ("reconnect time p50, due to 101 (ms)", "reconnect_p50_ms", 1),
    ("reconnect time p99 (ms)", "reconnect_p99_ms", 1),
    ("reconnect time max (ms)", "reconnect_max_ms", 1),
    ("closes with a `reconnect_after_ms` hint", "with_hint", 0),
    ("failed attempts (each tried again after 100 ms)", "failed_attempts", 0),
    ("connections B counted (its /metrics)", "b_counted", 0),
    ("node A exited after SIGTERM (s)", "a_exit_s", 2),
)


def _drain_tables(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| figure (median) | waves: `--drain-rate 1000`, hint kept | "
        "no waves: `--drain-rate 1000000`, at once |",
        "|---|---|---|",
    ]
    for label, key, digits in DRAIN_ROWS:
        cells = [_n(median(_of(runs, drain=mode), key), digits) for mode in DRAINS]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    kinds = []
    for mode in DRAINS:
        seen: Counter[str] = Counter()
        for run in _of(runs, drain=mode):
            seen.update(run["error_kinds"])
        shown = "; ".join(f"{n} x `{kind.strip()}`" for kind, n in seen.most_common(3))
        kinds.append(f"{DRAIN_NAMES[mode]}: {shown or 'none'}")
    lines += ["", f"Failed attempts, all rounds: {'. '.join(kinds)}."]
    curves = {mode: [r["curve_per_s"] for r in _of(runs, drain=mode)] for mode in DRAINS}
    length = max((len(c) for cs in curves.values() for c in cs), default=0)
    lines += [
        "",
        f"Arrivals at B per {CURVE_BIN_S * 1000:.0f} ms after the SIGTERM (reconnects/s, median "
        "over rounds):",
        "",
        "| seconds after SIGTERM | waves | no waves |",
        "|---|---|---|",
    ]
    for i in range(length):
        cells = [
            _n(statistics.median(c[i] if i < len(c) else 0.0 for c in curves[mode]))
            if curves[mode]
            else "n/a"
            for mode in DRAINS
        ]
        span = f"{i * CURVE_BIN_S:.2f}-{(i + 1) * CURVE_BIN_S:.2f}"
        lines.append(f"| {span} | {' | '.join(cells)} |")
    return lines


def _meaning(runs: list[dict[str, Any]]) -> list[str]:
    echo = [median(_of(runs, workload="echo", config=c), "msg_per_s") for c in CONFIGS]
    bcast = [median(_of(runs, workload="broadcast", config=c), "deliveries_per_s") for c in CONFIGS]
    keys = ("peak_per_s", "all_back_s", "reconnect_p99_ms")
    waves, herd = ({k: median(_of(runs, drain=m), k) for k in keys} for m in DRAINS)
    ends = waves["all_back_s"], herd["all_back_s"]
    later = ends[0] - ends[1] if ends[0] is not None and ends[1] is not None else None
    return [
        f"Two workers give {_ratio(echo[2], echo[0])} the echo of one process and "
        f"{_ratio(bcast[2], bcast[1])} the broadcast of one process over Redis. The echo "
        "never reaches the broker: what (c) adds there is a second process on the second "
        "core, which it shares with wsbench and redis-server on this machine, so this is not "
        "the scaling of a machine with a core per worker. A broadcast goes to Redis once and "
        "each worker fans it out to its half of the connections, and since wsbench's window "
        "holds a publication until all 1,000 have it, each one waits for the slower worker.",
        "",
        f"Drained in waves with clients that keep the hint, node B takes at most "
        f"{_n(waves['peak_per_s'])} reconnects/s and all are back after "
        f"{_n(waves['all_back_s'], 2)} s; closed in one wave with clients that come back at "
        f"once, {_n(herd['peak_per_s'])} reconnects/s at the peak, all back after "
        f"{_n(herd['all_back_s'], 2)} s, and a reconnect waits {_n(herd['reconnect_p99_ms'], 1)}"
        f" ms for B's 101 at p99 against {_n(waves['reconnect_p99_ms'], 1)} ms in waves. The "
        "waves bound the rate at the node that takes the clients; the price is the clients' "
        f"time away, all back {_n(later, 2)} s later.",
    ]


def render(results: dict[str, Any]) -> str:
    runs = results["runs"]
    failed = [
        f"{r.get('workload') or r.get('drain')}/{r.get('config', '')}: {r['error']}"
        for r in runs
        if "error" in r
    ]
    quick = " (`--quick`: a smoke run, not a measurement)" if results["quick"] else ""
    return "\n".join(
        [
            "# Node benchmarks",
            "",
            "Written by `benchmarks/nodes.py` (`make bench` runs it after "
            "`benchmarks/cluster.py`).",
            f"Run {results['started']} on git revision {results['revision']}, "
            f"{results['rounds']} round{'' if results['rounds'] == 1 else 's'}{quick}, the "
            "configurations interleaved in each (their order turning from round to round); "
            "medians. wsbench runs "
            f"{results['duration_s']} s after a 1 s warm-up; the drain has "
            f"{results['drain_conns']:,} connections.",
            "",
            "## Workers: `--workers 2` on one port",
            "",
            "Placement: (a) and (b), one process, on core 0 and wsbench on core 1, like "
            "`cluster.py`; (c) the supervisor and its two workers unpinned, so the kernel "
            "spreads them over both cores and one worker shares core 1 with wsbench; "
            "redis-server unpinned. The server CPU figures are summed from /proc over the "
            "server's process tree (node, or supervisor and workers) across wsbench's "
            "measurement window, for all three alike (`harness/cputime.py`).",
            "",
            *_workers_tables(runs),
            "",
            "Both cores busy beyond the three processes is the loopback's softirq time and "
            "whatever else ran on the machine meanwhile (it is shared): where that is large, "
            "the run was disturbed.",
            "",
            "## Drain: reconnects arriving at another node",
            "",
            f"Node A holds {results['drain_conns']:,} connections of "
            "`benchmarks/reconnect_client.py` and gets SIGTERM; each client it closes "
            "reconnects to node B on the same Redis, after the close reason's "
            "`reconnect_after_ms` (waves) or at once (no waves). With waves A closes them at "
            f"1,000 a second, over {results['drain_conns'] / 1000:g} s, and draws each hint "
            f"from 0 to {max(1000, results['drain_conns']):,} ms. An arrival is the "
            "client's time of B's 101; a reconnect's time runs from when it was due (the "
            "close, plus the hint if kept) to that 101. Placement: B on core 0, A and the "
            "clients on core 1, redis-server unpinned.",
            "",
            *_drain_tables(runs),
            "",
            "## What the numbers mean",
            "",
            *_meaning(runs),
            "",
            f"Failed runs: {', '.join(failed) or 'none'}.",
            "",
        ]
    )


def stop_redis(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to redis-server itself, whatever process group it is in (``procs.stop``
    signals the group, which misses a redis-server started in the harness's own)."""
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _console(run: dict[str, Any]) -> str:
    if "error" in run:
        return str(run["error"])
    if "drain" in run:
        return (
            f"peak {_n(run['peak_per_s'])}/s, all back {_n(run['all_back_s'], 2)} s, "
            f"{run['back']}/{run['conns']} back, {run['failed_attempts']} failed attempts"
        )
    key, unit = WORKLOADS[run["workload"]][1:]
    return f"{run.get(key, 0):,.0f} {unit}, server CPU {run.get('server_cpu_pct', 0):.0f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round, 2 s runs, 1,000 conns")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.repeat
    duration_s = QUICK_DURATION_S if args.quick else DURATION_S
    drain_conns = QUICK_DRAIN_CONNS if args.quick else DRAIN_CONNS
    ensure_wsbench()
    raise_nofile(4 * DRAIN_CONNS + cfg.NOFILE_SLACK)
    redis, port = start_redis()
    url = f"redis://127.0.0.1:{port}/0"
    revision = git_revision() or "unknown"
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "revision": revision,
        "rounds": rounds,
        "quick": args.quick,
        "duration_s": duration_s,
        "drain_conns": drain_conns,
        "runs": [],
    }
    try:
        for round_no in range(rounds):
            turn = round_no % len(CONFIGS)
            tag = f"[round {round_no + 1}/{rounds}]"
            for workload in WORKLOADS:
                for config in (*CONFIGS[turn:], *CONFIGS[:turn]):
                    run = {"workload": workload, "config": config, "round": round_no}
                    run |= run_workers(workload, config, (redis.pid, url), duration_s)
                    results["runs"].append(run)
                    print(f"{tag} {workload:<9} {config:<9} {_console(run)}", flush=True)
            modes = list(DRAINS) if round_no % 2 == 0 else list(reversed(DRAINS))
            for mode in modes:
                run = {"drain": mode, "round": round_no}
                run |= run_drain(mode, url, drain_conns)
                results["runs"].append(run)
                print(f"{tag} drain     {mode:<9} {_console(run)}", flush=True)
    finally:
        stop_redis(redis)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    report = render(results)
    if not args.no_docs:
        DOC.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
