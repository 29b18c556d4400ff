"""When and after how long the client connects again (``docs/clients.md``, "The rules")."""

from __future__ import annotations

import json
import random


def backoff(hint_ms: int | None, attempt: int, base: float, most: float) -> float:
    """Seconds to wait: the server's hint when it gave one, else full-jitter exponential
    backoff (a random wait up to ``base * 2**attempt``, at most ``most``)."""
    if hint_ms is not None:
        return hint_ms / 1000
    return random.uniform(0, min(most, base * 2**attempt))


def hint(reason: str | None) -> int | None:
    """The ``reconnect_after_ms`` of a close reason, when it carries one."""
    if not reason or not reason.startswith("{"):
        return None
    try:
        value = json.loads(reason).get("reconnect_after_ms")
    except (ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int | float) and value >= 0 else None
