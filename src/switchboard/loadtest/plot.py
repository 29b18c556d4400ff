"""``--plot FILE.svg``: the primary latency of each second of the load phase (p50, p99 and
max) as a small self-contained SVG chart, written by hand: no plotting library to install
for one chart, and any browser shows it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 800, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 50
SERIES = (("p50_ms", "p50", "#1f77b4"), ("p99_ms", "p99", "#d62728"), ("max_ms", "max", "#999"))


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def svg(figures: dict[str, Any]) -> str:
    """The chart of a run's ``summary`` (its ``timeline``) as an SVG document."""
    timeline: list[dict[str, Any]] = figures["timeline"]
    seconds = max((row["second"] for row in timeline), default=0) + 1
    top = nice_ceiling(max((row["max_ms"] for row in timeline), default=1.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(second: float) -> float:
        return LEFT + plot_w * second / seconds

    def y(ms: float) -> float:
        return TOP + plot_h * (1 - ms / top)

    title = f"switchboard bench {figures['scenario']}: latency per second ({figures['target']})"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    for tick in range(6):
        ms = top * tick / 5
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(ms):.1f}" y2="{y(ms):.1f}" '
            'stroke="#eee"/>'
        )
        out.append(f'<text x="{LEFT - 6}" y="{y(ms) + 4:.1f}" text-anchor="end">{ms:g}</text>')
    step = max(1, math.ceil(seconds / 10))
    for second in range(0, seconds + 1, step):
        out.append(
            f'<text x="{x(second):.1f}" y="{HEIGHT - BOTTOM + 18}" '
            f'text-anchor="middle">{second}</text>'
        )
    out.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">'
        "seconds into the load phase</text>"
    )
    out.append(
        f'<text x="16" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + plot_h / 2})">latency (ms)</text>'
    )
    out.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>'
    )
    for place, (key, label, colour) in enumerate(SERIES):
        points = " ".join(f"{x(row['second'] + 0.5):.1f},{y(row[key]):.1f}" for row in timeline)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        legend_x = LEFT + 10 + place * 70
        out.append(
            f'<line x1="{legend_x}" x2="{legend_x + 20}" y1="{TOP + 14}" y2="{TOP + 14}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        out.append(f'<text x="{legend_x + 24}" y="{TOP + 18}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_plot(path: Path, figures: dict[str, Any]) -> None:
    """Write the chart to ``path`` (which must end in ``.svg``)."""
    if path.suffix.lower() != ".svg":
        raise ValueError(f"--plot writes SVG: name the file *.svg, not {path.name}")
    path.write_text(svg(figures), encoding="utf-8")
