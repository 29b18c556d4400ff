"""The wsbench load generator: building it and running one scenario against one server."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any

from harness import config as cfg
from harness.procs import pinned, run_bounded

# Echo in the binary subprotocols (wsbench -E), beside the JSON echo.
CODEC_ECHOS: dict[str, str] = {"echo-msgpack": "msgpack", "echo-proto": "proto"}
# A 1 KiB word-padded broadcast (wsbench -X), without and with permessage-deflate (-Z).
DEFLATE_BCASTS: dict[str, bool] = {"bcast-1k": False, "bcast-1k-deflate": True}
# The JSON echo again, Switchboard only, started with --no-metrics: what metrics cost.
METRICS_OFF = "echo-nometrics"
SCENARIOS = (
    "echo",
    METRICS_OFF,
    *CODEC_ECHOS,
    "bcast",
    "bcast-burst",
    "channel",
    "channel-burst",
    *DEFLATE_BCASTS,
    "idle",
    "idle-deflate",
)
# Broadcast scenarios and their publication window (wsbench -w); otherwise identical.
BCAST_WINDOWS: dict[str, int] = {"bcast": cfg.BCAST_WINDOW, "bcast-burst": cfg.BCAST_BURST_WINDOW}
# Channel fan-out scenarios and the broadcast each one repeats through a channel (wsbench -C).
CHANNEL_BASES: dict[str, str] = {"channel": "bcast", "channel-burst": "bcast-burst"}
# Every fan-out scenario (one publisher, wsbench bcast mode) and its publication window.
FANOUT_WINDOWS: dict[str, int] = {
    **BCAST_WINDOWS,
    **{scenario: BCAST_WINDOWS[base] for scenario, base in CHANNEL_BASES.items()},
    **dict.fromkeys(DEFLATE_BCASTS, cfg.BCAST_WINDOW),
}
# Scenarios that only servers with a feature (ServerSpec.features) can run.
REQUIRES: dict[str, str] = {
    **dict.fromkeys(CHANNEL_BASES, "channels"),
    **dict.fromkeys(CODEC_ECHOS, "codecs"),
    **dict.fromkeys(DEFLATE_BCASTS, "deflate"),
    "idle-deflate": "deflate",
    METRICS_OFF: "metrics",
}
# Extra server flags per scenario (servers with the scenario's feature only).
SERVER_FLAGS: dict[str, list[str]] = {METRICS_OFF: ["--no-metrics"]}

# Headline figure of each scenario and whether bigger is better.
HEADLINE: dict[str, tuple[str, bool]] = {
    "echo": ("msg_per_s", True),
    METRICS_OFF: ("msg_per_s", True),
    **dict.fromkeys(CODEC_ECHOS, ("msg_per_s", True)),
    **dict.fromkeys(DEFLATE_BCASTS, ("deliveries_per_s", True)),
    "bcast": ("deliveries_per_s", True),
    "bcast-burst": ("deliveries_per_s", True),
    "channel": ("deliveries_per_s", True),
    "channel-burst": ("deliveries_per_s", True),
    "idle": ("bytes_per_conn", False),
    "idle-deflate": ("bytes_per_conn", False),
}


@dataclass(frozen=True)
class Plan:
    """Durations and connection counts for one harness run."""

    duration_s: int
    idle_conns: int = cfg.IDLE_CONNS

    def args(self, scenario: str, port: str, server_pid: str) -> list[str]:
        """wsbench arguments (without the binary) for ``scenario``."""
        common = ["-p", port, "-u", cfg.WS_PATH, "-d", str(self.duration_s)]
        if scenario in ("echo", METRICS_OFF) or scenario in CODEC_ECHOS:
            codec = ["-E", CODEC_ECHOS[scenario]] if scenario in CODEC_ECHOS else ["-J"]
            args = [
                "echo",
                *codec,
                "-c",
                str(cfg.ECHO_CONNS),
                "-w",
                str(cfg.ECHO_WINDOW),
                "-s",
                str(cfg.MSG_SIZE),
                *common,
                "-W",
                str(cfg.WARMUP_S),
            ]
        elif scenario in FANOUT_WINDOWS:
            extra = ["-C", cfg.CHANNEL] if scenario in CHANNEL_BASES else []
            size = cfg.MSG_SIZE
            if scenario in DEFLATE_BCASTS:
                extra = ["-X", "-Z"] if DEFLATE_BCASTS[scenario] else ["-X"]
                size = cfg.DEFLATE_MSG_SIZE
            args = [
                "bcast",
                "-J",
                *extra,
                "-c",
                str(cfg.BCAST_CONNS),
                "-w",
                str(FANOUT_WINDOWS[scenario]),
                "-s",
                str(size),
                *common,
                "-W",
                str(cfg.WARMUP_S),
            ]
        elif scenario in ("idle", "idle-deflate"):
            deflate = ["-Z"] if scenario == "idle-deflate" else []
            args = ["idle", *deflate, "-c", str(self.idle_conns), *common]
        else:
            raise ValueError(f"unknown scenario {scenario!r}")
        return [*args, "-S", server_pid]

    def display_command(self, scenario: str) -> str:
        """The command line as documented, with PORT and SERVER_PID as placeholders."""
        argv = ["wsbench", *self.args(scenario, "PORT", "SERVER_PID")]
        return " ".join(pinned(cfg.LOADGEN_CPU, argv))

    def timeout_s(self) -> float:
        """wsbench allows itself 120 s to connect, 20 s for channel subscribe acks (-C), then
        settles/warms up, runs, drains, closes."""
        return 120 + 20 + 3 + cfg.WARMUP_S + self.duration_s + 3 + 1.5 + 30


def ensure_wsbench() -> None:
    """Compile wsbench if the binary is missing or older than its source."""
    binary, source = cfg.WSBENCH_BIN, cfg.WSBENCH_SRC
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return
    binary.parent.mkdir(parents=True, exist_ok=True)
    argv = ["gcc", "-O2", "-o", str(binary), str(source), "-lz"]
    print(f"[setup] {' '.join(argv)}", flush=True)
    subprocess.run(argv, check=True, timeout=120)


def run_wsbench(plan: Plan, scenario: str, port: int, server_pid: int) -> dict[str, Any]:
    """Run one pinned wsbench measurement; return its JSON plus ``argv``, or an ``error``."""
    args = plan.args(scenario, str(port), str(server_pid))
    argv = pinned(cfg.LOADGEN_CPU, [str(cfg.WSBENCH_BIN), *args])
    record: dict[str, Any] = {"argv": argv}
    try:
        proc = run_bounded(argv, plan.timeout_s())
    except subprocess.TimeoutExpired:
        record["error"] = f"wsbench timed out after {plan.timeout_s():.0f}s"
        return record
    record["stderr"] = proc.stderr.strip()[-500:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        record["error"] = f"wsbench exited {proc.returncode} without a result"
        return record
    result: dict[str, Any] = json.loads(lines[-1])
    record.update(result)
    if proc.returncode != 0 and "error" not in record:
        record["error"] = f"wsbench exited {proc.returncode}"
    return record
