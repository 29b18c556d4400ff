"""A broker wrapper that times publications and counts failures, for the node's metrics."""

from __future__ import annotations

from collections.abc import Awaitable
from time import perf_counter
from typing import Any, TypeVar

from ..broker.base import (
    Broker,
    BrokerHandler,
    Dispatch,
    HistoryOptions,
    HistoryUsage,
    NodeInfo,
    Publication,
    Recovery,
    StreamPosition,
)
from ..errors import BrokerUnavailable
from ..protocol.codecs import DataFormat
from .stats import Stats, bump

T = TypeVar("T")


class MeasuredBroker(Broker):
    """Delegates every call to ``inner``; publish latency and failures land in ``stats``."""

    def __init__(self, inner: Broker, stats: Stats) -> None:
        self.inner = inner
        self.stats = stats

    async def _counted(self, operation: str, call: Awaitable[T]) -> T:
        """Await ``call``; a failure is counted under ``operation``, then raised."""
        try:
            return await call
        except BrokerUnavailable:
            bump(self.stats.broker_errors, operation)
            raise

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
        position = await self._counted(
            "publish", self.inner.publish(channel, data, history, data_format)
        )
        self.stats.broker_publish.observe(perf_counter() - started)
        return position

    async def dispatch(self, dispatch: Dispatch) -> int:
        return await self._counted("dispatch", self.inner.dispatch(dispatch))

    async def subscribe(self, channel: str) -> None:
        await self._counted("subscribe", self.inner.subscribe(channel))

    async def unsubscribe(self, channel: str) -> None:
        await self._counted("unsubscribe", self.inner.unsubscribe(channel))

    async def position(self, channel: str) -> StreamPosition:
        return await self.inner.position(channel)

    async def recover(self, channel: str, since: StreamPosition) -> Recovery:
        return await self._counted("recover", self.inner.recover(channel, since))

    async def history(self, channel: str, limit: int) -> tuple[StreamPosition, list[Publication]]:
        return await self.inner.history(channel, limit)

    async def history_page(
        self, channel: str, limit: int, *, since: int | None = None, reverse: bool = False
    ) -> tuple[StreamPosition, list[Publication]]:
        return await self.inner.history_page(channel, limit, since=since, reverse=reverse)

    async def claim(self, key: str, value: bytes, ttl: float) -> bytes | None:
        return await self.inner.claim(key, value, ttl)

    async def settle(self, key: str, value: bytes | None, ttl: float) -> None:
        await self.inner.settle(key, value, ttl)

    async def add_presence(self, channel: str, client_id: str, info: dict[str, Any]) -> None:
        await self.inner.add_presence(channel, client_id, info)

    async def remove_presence(self, channel: str, client_id: str) -> None:
        await self.inner.remove_presence(channel, client_id)

    async def presence(self, channel: str) -> dict[str, dict[str, Any]]:
        return await self.inner.presence(channel)

    def history_usage(self) -> HistoryUsage | None:
        return self.inner.history_usage()

    def connected(self, conn_id: str, user: Any) -> None:
        self.inner.connected(conn_id, user)

    def disconnected(self, conn_id: str) -> None:
        self.inner.disconnected(conn_id)

    def healthy(self) -> bool:
        return self.inner.healthy()

    def announce(self, info: NodeInfo) -> None:
        self.inner.announce(info)

    async def nodes(self) -> list[NodeInfo]:
        return await self.inner.nodes()
