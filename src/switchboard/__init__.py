"""Switchboard: a production-grade real-time WebSocket server for Python."""

from .app import App
from .config import Settings, load_settings
from .core.connection import Connection
from .errors import Reject, RequestError
from .protocol.codes import CloseCode, ErrorCode
from .protocol.envelope import Envelope
from .version import __version__

__all__ = [
    "App",
    "CloseCode",
    "Connection",
    "Envelope",
    "ErrorCode",
    "Reject",
    "RequestError",
    "Settings",
    "__version__",
    "load_settings",
]
