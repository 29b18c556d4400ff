"""The machine's ``/metrics``: every worker's Prometheus text, merged into one exposition.

The rule: samples with the same name and labels are combined across workers. Counters and
histograms (``_bucket``, ``_count``, ``_sum``) add up, and so do gauges, since a worker's
connections, bytes, backlog, memory, open descriptors and limits of its own
(``connections_max``, ``process_max_fds``) are its share of the machine's. Gauges that do
not add are taken once, as their largest value across workers:

- an info metric (type ``info``, or a name ending ``_info``);
- a lag (a name containing ``_lag``): the worst worker's is the machine's;
- a timestamp (a name ending ``_time_seconds`` or ``_timestamp_seconds``, a ``_created``
  sample): the start time, say, of the youngest worker;
- a limit every worker shares (a name ending ``_limit_bytes``: the memory limit, the
  cgroup's or the machine's RAM).

A series only some workers have (a close code one of them saw, ``switchboard_info`` with
each worker's ``node`` label) is kept as it is. A family whose type differs between
workers (versions mid-upgrade) keeps the first worker's type and drops the others'.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

_MAX_SUFFIXES = ("_info", "_time_seconds", "_timestamp_seconds", "_limit_bytes", "_created")

_Key = tuple[str, tuple[tuple[str, str], ...]]


def takes_max(family: Metric, sample: str) -> bool:
    """Whether a sample of ``family`` is combined by max (not by sum); see the module."""
    if sample.endswith("_created"):
        return True
    if family.type in ("counter", "histogram", "gaugehistogram", "summary"):
        return False
    if family.type == "info":
        return True
    return "_lag" in family.name or family.name.endswith(_MAX_SUFFIXES)


class MergedMetrics:
    """Workers' expositions added one by one, then rendered as one."""

    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}
        self._values: dict[str, dict[_Key, float]] = {}

    def add(self, text: str) -> None:
        """One worker's exposition; raises ``ValueError`` when it is not Prometheus text
        (nothing of it is added then)."""
        parsed = list(text_string_to_metric_families(text))
        for family in parsed:
            merged = self._families.get(family.name)
            if merged is None:
                merged = Metric(family.name, family.documentation, family.type, family.unit)
                self._families[family.name] = merged
                self._values[family.name] = {}
            elif merged.type != family.type:
                continue
            values = self._values[family.name]
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                old = values.get(key)
                if old is None:
                    values[key] = sample.value
                elif takes_max(family, sample.name):
                    values[key] = max(old, sample.value)
                else:
                    values[key] = old + sample.value

    def add_all(self, texts: Iterable[str | None]) -> int:
        """Several workers' expositions; how many were added (None, or one that does not
        parse, is left out)."""
        added = 0
        for text in texts:
            if text is None:
                continue
            try:
                self.add(text)
            except ValueError:
                continue
            added += 1
        return added

    def add_family(self, family: Metric) -> None:
        """A family of the supervisor's own, added as a worker's would be."""
        self._families.setdefault(family.name, family)
        values = self._values.setdefault(family.name, {})
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value

    def families(self) -> Iterator[Metric]:
        for name, merged in self._families.items():
            family = Metric(name, merged.documentation, merged.type, merged.unit)
            for (sample, labels), value in self._values[name].items():
                family.add_sample(sample, dict(labels), value)
            yield family

    def render(self) -> bytes:
        """The Prometheus text exposition (format 0.0.4) of everything added."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Fixed(self.families()))
        return generate_latest(registry)


def merge(texts: Iterable[str]) -> bytes:
    """Several workers' expositions as one; one that does not parse is left out."""
    merged = MergedMetrics()
    merged.add_all(texts)
    return merged.render()


class _Fixed(Collector):
    """A collector of families made already."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self._families
