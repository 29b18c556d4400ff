"""The client's corked transport: frames written in one loop pass go out in one write, and
nothing queued is lost when the connection ends."""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.client import ClientConnection

from switchboard.client import Client
from switchboard.client.corked import CorkedTransport

from ..conftest import StartServer, ws_url


class Counting:
    """The socket's transport, counting the writes that reach it."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


def test_websockets_still_writes_through_the_connections_transport_attribute() -> None:
    """``cork`` replaces ``ClientConnection.transport``: more than websockets' public API,
    so this names what moved when a release changes it."""
    import inspect

    from websockets.asyncio.connection import Connection

    assert "self.transport.write(" in inspect.getsource(Connection.send_data)
    assert issubclass(ClientConnection, Connection)


async def test_a_hundred_requests_in_flight_go_out_in_a_few_writes(
    start_server: StartServer,
) -> None:
    app = await start_server()
    async with Client(ws_url(app), compression=None) as client:
        ws: Any = client._ws
        corked = ws.transport
        assert isinstance(corked, CorkedTransport)
        inner = corked._transport
        counting = corked._transport = Counting(inner)
        answers = await asyncio.gather(*(client.echo(n) for n in range(100)))
        corked._transport = inner
    assert answers == list(range(100))
    assert 0 < counting.writes < 10  # one per loop pass, not one per request


async def test_what_waits_is_written_before_the_close(start_server: StartServer) -> None:
    app = await start_server()
    got: list[Any] = []
    app.route("note")(lambda conn, msg: got.append(msg.json()))
    client = Client(ws_url(app), reconnect=False)
    await client.connect()
    ws: Any = client._ws
    await ws.send('{"type": "note", "data": "last words"}')  # queued for the loop pass end
    await client.close()  # the close frame goes after it, in the same write
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.01)
    assert got == ["last words"]
