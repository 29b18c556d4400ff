"""Paths, scenario parameters and performance targets shared by the harness modules."""

from __future__ import annotations

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
ROOT = BENCH_DIR.parent
VENV_BIN = ROOT / ".venv" / "bin"

WSBENCH_SRC = BENCH_DIR / "wsbench.c"
WSBENCH_BIN = BENCH_DIR / "bin" / "wsbench"
SERVERS_DIR = BENCH_DIR / "servers"
RESULTS_DIR = BENCH_DIR / "results"
DOCS_FILE = ROOT / "docs" / "benchmarks.md"

HOST = "127.0.0.1"  # the only address anything here ever talks to
WS_PATH = "/ws"
SERVER_CPU = "0"  # taskset core for the server under test
LOADGEN_CPU = "1"  # taskset core for wsbench

# Scenario parameters (wsbench flags). Durations come from the command line.
ECHO_CONNS, ECHO_WINDOW, MSG_SIZE, WARMUP_S = 100, 10, 64, 1
BCAST_CONNS, BCAST_WINDOW = 1000, 10
# bcast-burst: the same broadcast with more publications in flight, so that a server which
# coalesces frames per connection can write several of them in one system call.
BCAST_BURST_WINDOW = 50
# channel / channel-burst: the bcast / bcast-burst fan-out through a channel (wsbench -C): every
# client subscribes and waits for the ack, client 0 publishes. Only servers with channels run it.
CHANNEL = "bench:fanout"
# bcast-1k / bcast-1k-deflate: a broadcast of word-padded JSON this big, deflate off and on.
DEFLATE_MSG_SIZE = 1024
IDLE_CONNS = 10_000

DEFAULT_DURATION_S = 10
DEFAULT_REPEAT = 3
QUICK_DURATION_S = 2

READY_TIMEOUT_S = 15.0
NOFILE_SLACK = 1_000  # descriptors beyond IDLE_CONNS that each process may need

# Targets for Switchboard (docs/benchmarks.md "Targets").
TARGET_ECHO_VS_NODE = 4.0
TARGET_ECHO_VS_AIOHTTP = 6.0
TARGET_BCAST_VS_NODE = 20.0  # checked for both bcast (-w 10) and bcast-burst (-w 50)
# Issue #15, against the feature-less baselines in the same run: broadcast (bcast and
# bcast-burst) at least the minimal corked picows server and 0.8x uWebSockets (socketify, the
# envelope in Python); echo at least 3x uWebSockets-with-JSON.
TARGET_BCAST_VS_MIN = 1.0
TARGET_BCAST_VS_UWS = 0.8
TARGET_ECHO_VS_UWS = 3.0
# Channel fan-out deliveries/s over Switchboard's own broadcast at the same window, same run.
TARGET_CHANNEL_VS_BCAST = 0.8
TARGET_IDLE_BYTES = 10 * 1024  # 10 KB per connection, read as KiB
# Server CPU per delivery of the compressed 1 KiB broadcast over the uncompressed one.
TARGET_DEFLATE_CPU_RATIO = 2.0
# What metrics may cost: 1 - echo(metrics on) / echo(--no-metrics), same run.
TARGET_METRICS_COST = 0.05

# A/B by git revision (run.py --baseline REV): current / baseline medians. Throughput may be at
# most 3% lower; idle bytes per connection must not be higher.
TARGET_AB_THROUGHPUT_MIN = 0.97
TARGET_AB_IDLE_MAX = 1.0

# A run whose load-generator core is at least this busy was probably limited by wsbench.
GENERATOR_BOUND_PCT = 95
# A run where more than this % of either core went to neither the server nor wsbench was
# disturbed by other load on the (shared) machine.
DISTURBED_PCT = 15
