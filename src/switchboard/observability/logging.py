"""Structured logging: structlog events rendered as JSON (or console) through stdlib logging.

Our code logs with ``structlog.get_logger(...)`` and keyword fields; records from
other libraries (picows, asyncio) go through the same formatter, so every line
on stdout is one JSON object with ``timestamp``, ``level``, ``logger``,
``event`` and the event's fields.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Literal

import structlog

LogFormat = Literal["json", "console"]
AUDIT_LOGGER = "switchboard.audit"

_SHARED_PROCESSORS: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(
    level: str = "info", fmt: LogFormat = "json", node: str = "", audit_file: Path | None = None
) -> None:
    """Send every log record to stdout as one structured line; idempotent.

    ``audit_file``: the audit events (logger ``switchboard.audit``: every connection accepted
    or refused and why, authorisation failures, bans, floods) go to this file as JSON lines,
    whatever ``level`` is, instead of stdout. Without it they are ordinary info lines.
    """
    renderer: structlog.typing.Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED_PROCESSORS,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    if root.level > logging.DEBUG:
        handler.addFilter(_quiet_picows)
    _configure_audit(audit_file)
    structlog.contextvars.clear_contextvars()
    if node:
        structlog.contextvars.bind_contextvars(node=node)


def _configure_audit(audit_file: Path | None) -> None:
    audit = logging.getLogger(AUDIT_LOGGER)
    for old in audit.handlers:
        old.close()
    audit.handlers.clear()
    audit.propagate = True
    audit.setLevel(logging.NOTSET)
    if audit_file is None:
        return
    file_handler = logging.FileHandler(audit_file, encoding="utf-8")
    file_handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED_PROCESSORS,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    audit.setLevel(logging.INFO)  # always recorded, in their own file only
    audit.propagate = False
    audit.addHandler(file_handler)


def _quiet_picows(record: logging.LogRecord) -> bool:
    """Drop picows' per-connection chatter and its parser-error lines below debug level.

    Each protocol error already ends in our ``connection_closed`` event with the close
    code and reason; picows' own exception reports (a failing callback) are kept.
    """
    if not record.name.startswith("picows"):
        return True
    if record.levelno < logging.WARNING:
        return False
    return not record.getMessage().startswith("WS parser error")
