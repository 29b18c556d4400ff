"""``switchboard.client``: an asyncio client that reconnects and resumes by itself."""

from __future__ import annotations

from ..errors import ConnectionLost, ErrorReply
from .client import Client
from .subscription import Subscription

__all__ = ["Client", "ConnectionLost", "ErrorReply", "Subscription"]
