"""A broker that fails on demand, for the tests of what a node does when its broker does."""

from __future__ import annotations

import asyncio
from typing import Any

from switchboard.broker.base import (
    Dispatch,
    HistoryOptions,
    Publication,
    Recovery,
    StreamPosition,
)
from switchboard.broker.memory import MemoryBroker
from switchboard.errors import BrokerUnavailable
from switchboard.protocol.codecs import DataFormat


class FlakyBroker(MemoryBroker):
    """The embedded broker; an operation named in ``failing`` raises ``BrokerUnavailable``
    (the error a cluster broker turns a lost connection into), and publish takes ``delay``."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: set[str] = set()
        self.delay = 0.0
        self.raised: list[BrokerUnavailable] = []

    def _fail(self, operation: str) -> None:
        if operation in self.failing:
            self.raised.append(BrokerUnavailable(f"{operation}: connection refused"))
            raise self.raised[-1]

    async def publish(
        self,
        channel: str,
        data: bytes,
        history: HistoryOptions,
        data_format: DataFormat = DataFormat.JSON,
    ) -> StreamPosition:
        if self.delay:
            await asyncio.sleep(self.delay)
        self._fail("publish")
        return await super().publish(channel, data, history, data_format)

    async def dispatch(self, dispatch: Dispatch) -> int:
        self._fail("dispatch")
        return await super().dispatch(dispatch)

    async def subscribe(self, channel: str) -> None:
        self._fail("subscribe")
        await super().subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._fail("unsubscribe")
        await super().unsubscribe(channel)

    async def position(self, channel: str) -> StreamPosition:
        self._fail("position")
        return await super().position(channel)

    async def recover(self, channel: str, since: StreamPosition) -> Recovery:
        self._fail("recover")
        return await super().recover(channel, since)

    async def history(self, channel: str, limit: int) -> tuple[StreamPosition, list[Publication]]:
        self._fail("history")
        return await super().history(channel, limit)

    async def presence(self, channel: str) -> dict[str, dict[str, Any]]:
        self._fail("presence")
        return await super().presence(channel)
