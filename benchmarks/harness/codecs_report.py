"""The report's notes on codecs (echo per subprotocol) and compression (deflate on vs off)."""

from __future__ import annotations

from typing import Any

from harness import config as cfg
from harness.summary import SUBJECT, cpu_us_per_delivery, deflate_cpu_ratio, headline


def _median(results: dict[str, Any], scenario: str, key: str) -> float | None:
    cell = results["summary"].get(scenario, {}).get(SUBJECT)
    if not cell or not cell["runs_ok"]:
        return None
    value = cell["median"].get(key)
    return None if value is None else float(value)


def codec_echo_note(results: dict[str, Any]) -> list[str]:
    """Switchboard's echo in each codec against its own JSON echo, same run."""
    summary = results["summary"]
    base = headline(summary, "echo", SUBJECT)
    parts = []
    for scenario, name in (("echo-msgpack", "v1.binary"), ("echo-proto", "v2.proto")):
        value = headline(summary, scenario, SUBJECT)
        if value is not None and base:
            parts.append(f"{name} {value:,.0f} msg/s = {value / base:.2f}x")
    if not parts:
        return []
    wire = {
        s: _median(results, s, "wire_bytes_per_msg") for s in ("echo", "echo-msgpack", "echo-proto")
    }
    sizes = ", ".join(f"{s} {v:.0f} B" for s, v in wire.items() if v is not None)
    return [
        f"Switchboard's echo per codec against its JSON echo ({base:,.0f} msg/s) in the same "
        f"run: {'; '.join(parts)}. Bytes read per reply (frame and envelope): {sizes}. The "
        "v2.proto codec builds each protobuf message in Python, field by field; msgspec does "
        "JSON and MessagePack in C.",
        "",
    ]


def deflate_note(results: dict[str, Any]) -> list[str]:
    """Wire bytes and server CPU per delivery, deflate on against off."""
    summary = results["summary"]
    plain, squeezed = (
        cpu_us_per_delivery(summary, "bcast-1k"),
        cpu_us_per_delivery(summary, "bcast-1k-deflate"),
    )
    wire_plain = _median(results, "bcast-1k", "wire_bytes_per_msg")
    wire_deflate = _median(results, "bcast-1k-deflate", "wire_bytes_per_msg")
    if plain is None or squeezed is None or not wire_plain or not wire_deflate:
        return []
    ratio = deflate_cpu_ratio(summary)
    verdict = "PASS" if ratio is not None and ratio < cfg.TARGET_DEFLATE_CPU_RATIO else "FAIL"
    return [
        f"Deflate against no deflate, Switchboard, medians of the same run: "
        f"{wire_deflate:,.0f} bytes on the wire per delivery instead of {wire_plain:,.0f} "
        f"({wire_plain / wire_deflate:.2f}x less); server CPU per delivery "
        f"{squeezed:.3f} µs against {plain:.3f} µs = {ratio:.2f}x "
        f"(target < {cfg.TARGET_DEFLATE_CPU_RATIO:g}x: {verdict}).",
        "",
    ]


def metrics_cost_note(results: dict[str, Any]) -> list[str]:
    """Switchboard's JSON echo with metrics on (the default) against --no-metrics."""
    summary = results["summary"]
    on = headline(summary, "echo", SUBJECT)
    off = headline(summary, "echo-nometrics", SUBJECT)
    if not on or not off:
        return []
    cost = 1.0 - on / off
    verdict = "PASS" if cost <= cfg.TARGET_METRICS_COST else "FAIL"
    return [
        f"Metrics on (the default: per-type and per-connection counters, sampled size and "
        f"processing-time histograms) against `--no-metrics`, run as A/B/B/A pairs (B/A/A/B "
        f"in odd rounds), medians of the same run: {on:,.0f} against {off:,.0f} msg/s, "
        f"a cost of {cost * 100:.1f}% of echo throughput (target <= "
        f"{cfg.TARGET_METRICS_COST * 100:.0f}%): {verdict}.",
        "",
    ]
