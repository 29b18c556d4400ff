"""A worker's command line and how its exit is told."""

from __future__ import annotations

import signal
import sys

from switchboard.workers import worker_count
from switchboard.workers.worker import exit_fields, worker_command


def test_the_workers_flags_come_after_the_users_so_they_win() -> None:
    argv = ["serve", "myapp:app", "--workers", "auto", "--port", "0", "--node-id", "n"]
    command = worker_command(argv, index=1, port=8765, admin_port=40001, node_id="n")
    assert command[:3] == [sys.executable, "-m", "switchboard"]
    assert command[3:11] == argv
    assert command[11:] == [
        "--workers", "1", "--reuse-port", "--port", "8765",
        "--admin-host", "127.0.0.1", "--admin-port", "40001", "--node-id", "n-w1",
    ]  # fmt: skip


def test_the_flags_stay_before_a_double_dash() -> None:
    command = worker_command(
        ["serve", "--", "myapp:app"], index=0, port=1, admin_port=2, node_id="n"
    )
    assert command[-2:] == ["--", "myapp:app"]
    assert command[4] == "--workers"


def test_an_exit_is_a_status_or_a_signal() -> None:
    assert exit_fields(3) == {"exit_status": 3}
    assert exit_fields(-signal.SIGKILL) == {"signal": "SIGKILL"}


def test_auto_is_the_usable_cores() -> None:
    import os

    assert worker_count("auto") == len(os.sched_getaffinity(0))
    assert worker_count(3) == 3
