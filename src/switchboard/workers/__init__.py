"""``switchboard serve --workers N``: a supervisor and N worker processes on one port."""

from __future__ import annotations

from ..config import Settings


def supervise(settings: Settings, argv: list[str]) -> int:
    """Run the workers until SIGTERM/SIGINT; the process's exit status."""
    raise NotImplementedError("--workers is not built yet")
