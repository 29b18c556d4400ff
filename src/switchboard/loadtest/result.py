"""The figures of one generator process, and how those of several are merged into one run.

Everything here adds up across processes: counters and histograms add, maxima take the
larger. Loss is computed only after the merge, because the publications one process
acknowledged are received by the subscribers of every process: for each destination (a
channel, or ``*`` for broadcast) ``lost = receivers x acknowledged - distinct received``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .histogram import Histogram

#: The latency each scenario's timeline and plot follow.
PRIMARY = {
    "connect": "handshake",
    "echo": "rtt",
    "broadcast": "delivery",
    "channels": "delivery",
    "storm": "delivery",
}


@dataclass
class Result:
    scenario: str
    counters: Counter[str] = field(default_factory=Counter)
    #: What went wrong, by reason: ``HTTP 503``, ``ECONNREFUSED``, ``closed 4008``, an error code.
    errors: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, Histogram] = field(default_factory=dict)
    #: The primary latency of each second of the load phase (second 0 starts it).
    timeline: dict[int, Histogram] = field(default_factory=dict)
    #: Per destination: publications the senders had acknowledged, receivers, distinct received.
    expected: Counter[str] = field(default_factory=Counter)
    receivers: Counter[str] = field(default_factory=Counter)
    unique: Counter[str] = field(default_factory=Counter)
    #: Figures merged by maximum: ``load_s`` (the load phase), ``all_resumed_s`` (storm).
    maxima: dict[str, float] = field(default_factory=dict)

    def latency(self, name: str) -> Histogram:
        histogram = self.latencies.get(name)
        if histogram is None:
            histogram = self.latencies[name] = Histogram()
        return histogram

    def record(self, name: str, seconds: float, at: float | None = None) -> None:
        """Count one latency of ``name``; ``at`` (seconds into the load phase) also puts the
        primary latency on the timeline."""
        self.latency(name).record_seconds(seconds)
        if at is not None and name == PRIMARY[self.scenario]:
            second = max(int(at), 0)
            bucket = self.timeline.get(second)
            if bucket is None:
                bucket = self.timeline[second] = Histogram()
            bucket.record_seconds(seconds)

    def maximum(self, name: str, value: float) -> None:
        self.maxima[name] = max(self.maxima.get(name, value), value)

    def merge(self, other: Result) -> None:
        self.counters.update(other.counters)
        self.errors.update(other.errors)
        for name, histogram in other.latencies.items():
            self.latency(name).merge(histogram)
        for second, histogram in other.timeline.items():
            self.timeline.setdefault(second, Histogram()).merge(histogram)
        self.expected.update(other.expected)
        self.receivers.update(other.receivers)
        self.unique.update(other.unique)
        for name, value in other.maxima.items():
            self.maximum(name, value)

    @property
    def expected_deliveries(self) -> int:
        return sum(self.receivers[d] * self.expected[d] for d in self.receivers)

    @property
    def lost(self) -> int:
        """Deliveries owed (acknowledged publications times their receivers) never seen."""
        return sum(
            max(0, self.receivers[d] * self.expected[d] - self.unique[d]) for d in self.receivers
        )

    @staticmethod
    def merged(results: list[Result]) -> Result:
        total = Result(results[0].scenario)
        for result in results:
            total.merge(result)
        return total
