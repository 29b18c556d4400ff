"""A server whose ``on_connect`` hook holds reconnects, for the client resume tests: what is
published while a client is held is what it must recover."""

from __future__ import annotations

import asyncio

from switchboard import App, Connection

from ..conftest import wait_until


class Gate:
    """Holds every connection after the first until ``open`` is set (once per connection);
    with ``resubscribe`` it then subscribes the connection to that channel, as a
    ``$connect`` hook that puts each connection in its channels would."""

    def __init__(self, app: App, resubscribe: str | None = None) -> None:
        self.app = app
        self.connects = 0
        self.open = asyncio.Event()
        self.resubscribe = resubscribe
        app.on_connect(self.hook)

    async def hook(self, conn: Connection) -> None:
        self.connects += 1
        if self.connects > 1:
            await self.open.wait()
            self.open.clear()
        if self.resubscribe is not None:
            await self.app.subscribe(self.resubscribe, connection=conn)

    async def reconnect(self, connection_id: str) -> None:
        """Drop that connection (a restart: its client comes back) and wait until the
        client's next one is held here."""
        before = self.connects
        await self.app.disconnect(connection_id, 1012, "")
        await wait_until(lambda: self.connects == before + 1, 10)
