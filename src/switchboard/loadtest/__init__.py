"""``switchboard bench``: a load tester for any WebSocket server (Switchboard's envelope, or
raw payloads for a plain echo server), over several generator processes.

:func:`register` adds the command to a typer app; importing this package loads only what
that needs. From Python: ``runner.run_plan(Plan(...))`` and ``report.summary(plan, result)``.
"""

from __future__ import annotations

from ..errors import PlanError, TargetRefused
from .command import register
from .guard import check_target, is_loopback
from .histogram import Histogram
from .plan import Plan, Scenario, TokenIn

__all__ = [
    "Histogram",
    "Plan",
    "PlanError",
    "Scenario",
    "TargetRefused",
    "TokenIn",
    "check_target",
    "is_loopback",
    "register",
]
