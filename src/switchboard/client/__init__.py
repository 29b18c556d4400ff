"""``switchboard.client``: an asyncio client that reconnects and resumes by itself."""

from __future__ import annotations

from .client import Client, ClientError, ConnectionLost, Subscription

__all__ = ["Client", "ClientError", "ConnectionLost", "Subscription"]
