"""``switchboard nodes``: the node registry of a cluster, read straight from its broker."""

from __future__ import annotations

import time

import msgspec

from ..broker.base import NodeInfo

COLUMNS = ("node", "state", "url", "conns", "subs", "msg/s", "cpu %", "lag ms", "up", "seen")


async def read_nodes(broker_url: str, prefix: str) -> list[NodeInfo]:
    """The live nodes of the cluster on ``broker_url`` (a node reads its own broker)."""
    from ..broker.redis import from_urls

    broker = from_urls(broker_url, prefix=prefix)
    try:
        return await broker.nodes()
    finally:
        await broker.close()


def as_json(nodes: list[NodeInfo]) -> str:
    return msgspec.json.encode({"nodes": nodes}).decode()


def table(nodes: list[NodeInfo], now: float | None = None) -> str:
    """A fixed-width table, one line per node."""
    now = time.time() if now is None else now
    rows = [COLUMNS]
    for n in nodes:
        rows.append(
            (
                n.node_id,
                n.state,
                n.url,
                str(n.connections),
                str(n.subscriptions),
                f"{n.messages_per_s:,.0f}",
                f"{n.cpu_percent:.0f}",
                f"{n.loop_lag_ms:.1f}",
                _duration(now - n.started_at),
                f"{max(0.0, now - n.updated_at):.0f}s ago",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"
