"""What one ``switchboard bench`` run does: its scenario, sizes, rates and bounds, checked
before any connection is opened."""

from __future__ import annotations

import ipaddress
import math
import resource
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import PlanError
from .guard import check_target

#: File descriptors a generator process keeps free of connections (the loop, pipes, logs).
FD_RESERVE = 64
#: Scenarios that speak only the Switchboard envelope (no meaning for a plain echo server).
ENVELOPE_ONLY = frozenset({"broadcast", "channels", "storm"})


class Scenario(StrEnum):
    connect = "connect"
    echo = "echo"
    broadcast = "broadcast"
    channels = "channels"
    storm = "storm"


class TokenIn(StrEnum):
    """Where ``--token`` goes: the ``Authorization: Bearer`` header, ``?token=``, or both."""

    header = "header"
    query = "query"
    both = "both"


@dataclass(frozen=True)
class Plan:
    scenario: Scenario
    url: str
    connections: int = 100
    connect_rate: float = 1000.0
    duration: float = 10.0
    max_connections: int = 10_000
    processes: int = 1
    rate: float = 100.0
    publishers: int = 1
    channels: int = 10
    window: int = 1
    size: int = 64
    raw: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    token: str | None = None
    token_in: TokenIn = TokenIn.header
    compression: bool = False
    #: Local addresses to connect from, in turn (none: the system chooses).
    source_addresses: tuple[str, ...] = ()
    storm_at: float | None = None
    storm_jitter: float = 0.0
    drain: float = 2.0
    open_timeout: float = 10.0
    allow_remote: bool = False
    channel_prefix: str = "bench:"
    #: Set by the runner: a per-run tag in channel names, so two runs never share history.
    run_id: str = field(default="run")

    @property
    def uses_publishers(self) -> bool:
        return self.scenario in (Scenario.broadcast, Scenario.channels, Scenario.storm)

    @property
    def total_connections(self) -> int:
        """Every connection the run opens: clients plus, for channels and storm, publishers."""
        extra = self.publishers if self.scenario in (Scenario.channels, Scenario.storm) else 0
        return self.connections + extra

    @property
    def storm_time(self) -> float:
        """Seconds into the load phase at which the storm drops everyone."""
        return self.duration / 3 if self.storm_at is None else self.storm_at

    def channel(self, number: int) -> str:
        return f"{self.channel_prefix}{self.run_id}-{number}"

    def dial_url(self) -> str:
        """The URL to connect to, with ``?token=`` when the token goes in the query."""
        if self.token is None or self.token_in is TokenIn.header:
            return self.url
        parts = urlsplit(self.url)
        query = [*parse_qsl(parts.query, keep_blank_values=True), ("token", self.token)]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def dial_headers(self) -> list[tuple[str, str]]:
        """``-H`` headers, plus ``Authorization: Bearer`` when the token goes in a header."""
        headers = list(self.headers)
        if self.token is not None and self.token_in is not TokenIn.query:
            headers.append(("Authorization", f"Bearer {self.token}"))
        return headers

    def share(self, count: int, worker: int) -> int:
        """How many of ``count`` items (connections, publishers) worker ``worker`` runs:
        item ``g`` belongs to worker ``g % processes``."""
        return len(range(worker, count, self.processes))

    def check(self, file_limit: int | None = None) -> None:
        """Raise :class:`PlanError` (or :class:`~.guard.TargetRefused`) for a run that must
        not start: a remote target, a bound exceeded, options that contradict each other."""
        check_target(self.url, self.allow_remote)
        positive = {
            "--connections": self.connections,
            "--connect-rate": self.connect_rate,
            "--duration": self.duration,
            "--processes": self.processes,
            "--window": self.window,
            "--open-timeout": self.open_timeout,
        }
        for flag, value in positive.items():
            if value <= 0:
                raise PlanError(f"{flag} must be positive")
        if self.raw and self.scenario.value in ENVELOPE_ONLY:
            raise PlanError(
                f"--raw works with connect and echo only: {self.scenario.value} needs the "
                "Switchboard envelope"
            )
        if self.uses_publishers:
            if self.rate <= 0 or self.publishers <= 0:
                raise PlanError("--rate and --publishers must be positive")
            if self.channels <= 0:
                raise PlanError("--channels must be positive")
        if self.scenario is Scenario.broadcast and self.publishers > self.connections:
            raise PlanError("--publishers: broadcast senders are among --connections")
        if self.scenario is Scenario.storm and not 0 < self.storm_time < self.duration:
            raise PlanError("--storm-at must fall inside --duration")
        for address in self.source_addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise PlanError(f"--source-address {address!r} is not an IP address") from None
        if self.size < 0 or self.drain < 0 or self.storm_jitter < 0:
            raise PlanError("--size, --drain and --storm-jitter cannot be negative")
        if self.total_connections > self.max_connections:
            raise PlanError(
                f"{self.total_connections} connections exceed --max-connections "
                f"{self.max_connections}"
            )
        limit = open_file_limit() if file_limit is None else file_limit
        per_process = math.ceil(self.total_connections / self.processes)
        if limit is not None and per_process > limit - FD_RESERVE:
            need = math.ceil(self.total_connections / (limit - FD_RESERVE))
            raise PlanError(
                f"{per_process} connections per process exceed the open-file limit ({limit}); "
                f"use --processes {need} or more"
            )


def open_file_limit() -> int | None:
    """The hard ``RLIMIT_NOFILE`` (what a generator process can raise itself to)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return None if hard == resource.RLIM_INFINITY else int(hard)


def raise_file_limit() -> None:
    """Raise this process's soft open-file limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
