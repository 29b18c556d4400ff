"""The examples in docs/ are real files, and they work."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from examples.codec_clients import echo_json, echo_msgpack, echo_proto
from examples.follow_channel import follow

from ..conftest import ROOT, StartServer, wait_until, ws_url


def code_blocks(doc: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)


def test_the_docs_show_the_example_files_as_they_are() -> None:
    follower = (ROOT / "examples" / "follow_channel.py").read_text()
    assert follower in code_blocks(ROOT / "docs" / "channels.md")
    chat = (ROOT / "examples" / "chat_app.py").read_text()
    shown = code_blocks(ROOT / "docs" / "app.md")[0]
    # The reference shows the example's code without its module docstring and comments.
    for line in shown.splitlines():
        code = line.split("  #")[0].rstrip()
        if code:
            assert code in chat, code


async def test_the_channel_follower_loses_nothing_across_disconnects(
    start_server: StartServer,
) -> None:
    app = await start_server()
    seen: list[int] = []
    got: list[Any] = []

    def handle(offset: int, data: Any) -> None:
        seen.append(offset)
        got.append(data)

    follower = asyncio.create_task(follow(ws_url(app), "news", handle))
    assert app.node is not None
    await wait_until(lambda: bool(app.node and app.node.channels.subscribers.get("news")))
    for round_no in range(3):
        for i in range(10):
            await app.publish("news", {"round": round_no, "i": i})
        await wait_until(lambda n=round_no * 20 + 10: len(seen) >= n)  # delivered, then away
        for conn in app.node.registry.snapshot():
            await app.disconnect(conn.id, 1012, "restart")  # the follower comes back by itself
        for i in range(10, 20):
            await app.publish("news", {"round": round_no, "i": i})  # while it is away
        expected = (round_no + 1) * 20
        await wait_until(lambda n=expected: len(seen) >= n, within=10)
    follower.cancel()
    position = await follower
    assert seen == list(range(1, 61))
    assert [d["i"] for d in got] == list(range(20)) * 3
    assert position is not None and position["offset"] == 60


def test_the_protocol_reference_shows_the_codec_clients_as_they_are() -> None:
    clients = (ROOT / "examples" / "codec_clients.py").read_text()
    assert clients in code_blocks(ROOT / "docs" / "protocol.md")


async def test_the_codec_clients_echo_in_their_codec(start_server: StartServer) -> None:
    app = await start_server()
    url = ws_url(app)
    assert await echo_json(url, {"n": [1, 2]}) == {"n": [1, 2]}
    assert await echo_msgpack(url, {"blob": b"\x00\x01"}) == {"blob": b"\x00\x01"}
    assert await echo_proto(url, b"\x00raw") == b"\x00raw"
