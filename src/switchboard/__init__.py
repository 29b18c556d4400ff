"""Switchboard: a production-grade real-time WebSocket server for Python."""

from .app import App
from .config import Settings, load_settings
from .protocol.codes import CloseCode, ErrorCode

__all__ = ["App", "CloseCode", "ErrorCode", "Settings", "load_settings"]
__version__ = "0.1.0"
