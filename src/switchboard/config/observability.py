"""Settings of what a node tells its operators: logs, control plane, metrics, traces, warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from .server import MiB


class ObservabilitySettings(BaseModel):
    """Logging, the control plane's address, metrics, tracing, the dashboard and warnings."""

    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level logged."
    )
    log_format: Literal["json", "console"] = Field("json", description="Log line format.")
    audit_log: Path | None = Field(
        None,
        description="Also write audit events (connections accepted and refused, "
        "authorisation failures, bans) to this file as JSON lines.",
    )
    log_file: Path | None = Field(
        None, description="Also write every log line to this file (JSON lines)."
    )
    error_log_file: Path | None = Field(
        None, description="Also write warnings and errors to this file (JSON lines)."
    )
    admin: bool = Field(
        True, description="Serve the control plane (probes, metrics, API, dashboard)."
    )
    admin_host: str = Field(
        "127.0.0.1", description="Address of the control plane; keep it private."
    )
    admin_port: int = Field(
        9090, ge=0, le=65535, description="Port of the control plane (0 picks a free one)."
    )
    metrics: bool = Field(
        True,
        description="Count and time every message (Prometheus histograms, per-connection "
        "counters); off saves the per-message cost.",
    )
    tracing: bool = Field(
        False,
        description="OpenTelemetry spans per connection and message (needs the `tracing` "
        "extra or an SDK configured by the application).",
    )
    otlp_endpoint: str | None = Field(
        None,
        description="Export spans over OTLP/HTTP to this URL (e.g. http://collector:4318/v1/"
        "traces); sets up the SDK when `tracing` is on.",
    )
    dashboard_history: float = Field(
        300.0, ge=10, le=3600, description="Seconds of one-per-second samples the dashboard keeps."
    )
    warn_interval: float = Field(
        60.0, gt=0, description="Each operator warning is logged at most once per this many s."
    )
    warn_memory_percent: float = Field(
        90.0, ge=0, le=100, description="Warn when resident memory passes this % of the limit."
    )
    memory_limit: int = Field(
        0, ge=0, description="Memory limit in bytes for that warning (0: cgroup, else RAM)."
    )
    warn_cpu_percent: float = Field(
        90.0, ge=0, description="Warn when CPU use stays above this % of one core ..."
    )
    warn_cpu_seconds: float = Field(30.0, ge=0, description="... for this many seconds.")
    warn_outbox_bytes: int = Field(
        64 * MiB, ge=0, description="Warn when bytes waiting for slow sockets pass this."
    )
    warn_loop_lag: float = Field(
        0.5, ge=0, description="Warn when the event loop runs a timer this many s late."
    )
