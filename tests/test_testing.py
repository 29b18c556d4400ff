"""``switchboard.testing``: the app runs in-process on a free port; real clients talk to it."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest
import websockets

from switchboard import App, Connection, Envelope
from switchboard.testing import TestClient, serve

from .conftest import ROOT, recv_json


def test_the_sync_client_talks_to_the_app_and_runs_server_calls() -> None:
    app = App()

    @app.route("greet")
    def greet(conn: Connection, msg: Envelope) -> str:
        return f"hello {msg.value()}"

    with TestClient(app) as client:
        with client.connect() as ws:
            assert ws.receive()["type"] == "welcome"
            ws.send({"type": "greet", "data": "ann", "id": 1})
            assert ws.receive() == {"type": "greet_reply", "data": "hello ann", "id": 1}
            ws.send('{"type":"subscribe","channel":"news"}')
            assert ws.receive()["type"] == "ack"
            offset = client.run(app.publish("news", {"n": 1}))
            assert ws.receive() == {
                "type": "message", "channel": "news", "offset": offset, "data": {"n": 1}
            }  # fmt: skip
            with pytest.raises(TimeoutError):
                ws.receive(timeout=0.05)  # nothing else came
        port = client.server.port if client.server else 0
        left_open = client.connect()
        assert left_open.receive()["type"] == "welcome"
    # Stopped at the end: the port no longer accepts and the open client was closed.
    assert left_open.close_code is not None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_failing_start_raises_from_the_with() -> None:
    app = App()

    @app.on_startup
    def broken() -> None:
        raise RuntimeError("no database")

    with pytest.raises(RuntimeError, match="no database"), TestClient(app):
        pass


async def test_serve_runs_the_app_on_the_test_loop() -> None:
    app = App()
    async with serve(app) as server:
        assert server.url == f"ws://127.0.0.1:{app.port}/ws"
        async with websockets.connect(server.url) as ws:
            assert (await recv_json(ws))["type"] == "welcome"
            await ws.send('{"type":"echo","data":[1,2]}')
            assert (await recv_json(ws))["data"] == [1, 2]
    assert app.draining  # drained and stopped on the way out


def doc_blocks(name: str) -> list[str]:
    text = (ROOT / "docs" / name).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def run_block(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "doc_example"}
    exec(compile(code, "<doc>", "exec"), namespace)  # the block as a user would write it
    return namespace


@pytest.mark.parametrize("name", ["testing.md", "app.md"])
def test_the_docs_sync_examples_pass(name: str) -> None:
    blocks = [b for b in doc_blocks(name) if "TestClient(" in b]
    assert blocks
    for block in blocks:
        tests = [f for n, f in run_block(block).items() if n.startswith("test_")]
        assert tests
        for test in tests:
            test()


async def test_the_testing_guide_async_example_passes() -> None:
    (block,) = [b for b in doc_blocks("testing.md") if "serve(" in b]
    await run_block(block)["test_echo"]()
