"""``switchboard serve --workers N``: a supervisor and N worker processes on one port.

Each worker is an ordinary ``switchboard serve`` (a node of its own, over the shared broker)
bound with SO_REUSEPORT, so the kernel spreads new connections over them. The supervisor
(``supervisor.py``) starts them, starts again one that dies, stops them all on SIGTERM, and
serves the machine's one admin port (``machine.py``).
"""

from __future__ import annotations

from .supervisor import supervise, worker_count

__all__ = ["supervise", "worker_count"]
