"""The drain's closes, in waves: at most ``rate`` connections a second, each told when to
come back, so a node's clients do not all reconnect to the others in the same second.

Every connection open when the waves start is closed with 1012 (service restart) and the
reason ``{"reconnect_after_ms": N}``; the waves come every :data:`WAVE_INTERVAL` seconds and
take ``connections / rate`` seconds, at most half the drain's time (the rest is for the close
handshakes). N is drawn at random up to the waves' spread, at least :data:`MIN_SPREAD_MS`
(full jitter): a client that waits N before reconnecting arrives at a uniformly random moment.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable

from ..protocol.codes import CloseCode
from .connection import Connection

#: Seconds between two waves.
WAVE_INTERVAL = 0.1
#: The reconnect hint is drawn from at least this many milliseconds.
MIN_SPREAD_MS = 1000


def reconnect_reason(after_ms: int) -> str:
    """The close reason of a drain: when to reconnect, as JSON (well under 123 bytes)."""
    return f'{{"reconnect_after_ms":{after_ms}}}'


def plan(connections: int, rate: float, timeout: float) -> tuple[int, float]:
    """How many waves, and over how many seconds, for ``connections`` at ``rate`` a second
    within half of ``timeout``."""
    spread = min(connections / rate, timeout / 2)
    return max(1, math.ceil(spread / WAVE_INTERVAL - 1e-9)), spread


async def close_in_waves(
    conns: list[Connection],
    close: Callable[[Connection, int, str], None],
    *,
    rate: float,
    drain_timeout: float,
    rng: random.Random | None = None,
) -> int:
    """Close ``conns`` (shuffled) in waves; returns how many waves it took."""
    draw = rng or random.Random()
    waves, spread = plan(len(conns), rate, drain_timeout)
    order = list(conns)
    draw.shuffle(order)
    hint_ms = max(MIN_SPREAD_MS, round(spread * 1000))
    loop = asyncio.get_running_loop()
    started = loop.time()
    per_wave = math.ceil(len(order) / waves) if order else 0
    for wave in range(waves):
        for conn in order[wave * per_wave : (wave + 1) * per_wave]:
            if not conn.closing:
                close(conn, CloseCode.SERVICE_RESTART, reconnect_reason(draw.randint(0, hint_ms)))
        if wave + 1 < waves:
            await asyncio.sleep(max(0.0, started + (wave + 1) * WAVE_INTERVAL - loop.time()))
    return waves
