"""Structured logging: structlog events rendered as JSON (or console) through stdlib logging.

Our code logs with ``structlog.get_logger(...)`` and keyword fields; records from
other libraries (picows, asyncio) go through the same formatter, so every line
on stdout is one JSON object with ``timestamp``, ``level``, ``logger``,
``event`` and the event's fields.
"""

from __future__ import annotations

import logging
import logging.handlers
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
    level: str = "info",
    fmt: LogFormat = "json",
    node: str = "",
    audit_file: Path | None = None,
    *,
    log_file: Path | None = None,
    error_log_file: Path | None = None,
    stdout: bool = True,
) -> None:
    """Send every log record to stdout as one structured line; idempotent.

    Every line carries ``node``; connection events carry ``connection_id`` and ``user``.
    ``log_file``: the same lines also go to this file (always JSON). ``error_log_file``:
    warnings and errors also go to this file. ``stdout=False`` keeps stdout quiet.
    ``audit_file``: the audit events (logger ``switchboard.audit``: every connection accepted
    or refused and why, authorisation failures, bans, floods) go to this file as JSON lines,
    whatever ``level`` is, instead of stdout. Without it they are ordinary info lines.
    """
    renderer: structlog.typing.Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer()
    shared = [*_SHARED_PROCESSORS, _add_node(node)]
    root = logging.getLogger()
    for old in root.handlers:
        if isinstance(old, logging.FileHandler):  # ours, from an earlier call
            old.close()
    handlers: list[logging.Handler] = []
    if stdout:
        handlers.append(logging.StreamHandler(sys.stdout))
    if log_file is not None:
        handlers.append(_file_handler(log_file, shared))
    if error_log_file is not None:
        errors = _file_handler(error_log_file, shared)
        errors.setLevel(logging.WARNING)
        handlers.append(errors)
    for handler in handlers:
        if handler.formatter is None:
            handler.setFormatter(_formatter(shared, renderer))
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    if root.level > logging.DEBUG:
        for handler in handlers:
            handler.addFilter(_quiet_picows)
    _configure_audit(audit_file, shared)
    structlog.contextvars.clear_contextvars()


def _add_node(node: str) -> structlog.typing.Processor:
    """A processor that puts ``node`` on every line (contextvars would miss some callbacks)."""

    def add_node(
        logger: object, method: str, event: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        if node:
            event.setdefault("node", node)
        return event

    return add_node


def _formatter(
    shared: list[structlog.typing.Processor], renderer: structlog.typing.Processor
) -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def _file_handler(path: Path, shared: list[structlog.typing.Processor]) -> logging.Handler:
    """JSON lines appended to ``path`` (``WatchedFileHandler``: logrotate may move it)."""
    handler = logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    handler.setFormatter(_formatter(shared, structlog.processors.JSONRenderer()))
    return handler


def _configure_audit(audit_file: Path | None, shared: list[structlog.typing.Processor]) -> None:
    audit = logging.getLogger(AUDIT_LOGGER)
    for old in audit.handlers:
        old.close()
    audit.handlers.clear()
    audit.propagate = True
    audit.setLevel(logging.NOTSET)
    if audit_file is None:
        return
    file_handler = _file_handler(audit_file, shared)
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
