"""A broker wrapper that times publications and counts failures, for the node's metrics."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from ..core.stats import Stats, bump
from ..protocol.codecs import DataFormat
from .base import (
    Broker,
    BrokerHandler,
    BrokerUnavailable,
    HistoryOptions,
    Publication,
    Recovery,
    StreamPosition,
)


class MeasuredBroker(Broker):
    """Delegates every call to ``inner``; publish latency and failures land in ``stats``."""

    def __init__(self, inner: Broker, stats: Stats) -> None:
        self.inner = inner
        self.stats = stats

    def _failed(self, operation: str) -> None:
        bump(self.stats.broker_errors, operation)

    async def start(self, handler: BrokerHandler) -> None:
        await self.inner.start(handler)

    async def close(self) -> None:
        await self.inner.close()

    async def publish(
        self,
        channel: str,
        data: bytes,
        history: HistoryOptions,
        data_format: DataFormat = DataFormat.JSON,
    ) -> StreamPosition:
        started = perf_counter()
        try:
            position = await self.inner.publish(channel, data, history, data_format)
        except BrokerUnavailable:
            self._failed("publish")
            raise
        self.stats.broker_publish.observe(perf_counter() - started)
        return position

    async def subscribe(self, channel: str) -> None:
        try:
            await self.inner.subscribe(channel)
        except BrokerUnavailable:
            self._failed("subscribe")
            raise

    async def unsubscribe(self, channel: str) -> None:
        try:
            await self.inner.unsubscribe(channel)
        except BrokerUnavailable:
            self._failed("unsubscribe")
            raise

    async def position(self, channel: str) -> StreamPosition:
        return await self.inner.position(channel)

    async def recover(self, channel: str, since: StreamPosition) -> Recovery:
        try:
            return await self.inner.recover(channel, since)
        except BrokerUnavailable:
            self._failed("recover")
            raise

    async def history(self, channel: str, limit: int) -> tuple[StreamPosition, list[Publication]]:
        return await self.inner.history(channel, limit)

    async def add_presence(self, channel: str, client_id: str, info: dict[str, Any]) -> None:
        await self.inner.add_presence(channel, client_id, info)

    async def remove_presence(self, channel: str, client_id: str) -> None:
        await self.inner.remove_presence(channel, client_id)

    async def presence(self, channel: str) -> dict[str, dict[str, Any]]:
        return await self.inner.presence(channel)
