"""examples/backend_app.py behind a node configured by examples/backend.toml, end to end;
and docs/integration.md shows both files as they are."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import websockets
from examples import backend_app

from switchboard import App
from switchboard.backend import sign
from switchboard.config import load_settings

from ..conftest import ROOT, recv_json, timeout, wait_until, ws_url

DOC = ROOT / "docs" / "integration.md"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_integration_guide_shows_the_example_files_as_they_are() -> None:
    assert (ROOT / "examples" / "backend_app.py").read_text() in code_blocks("python")
    assert (ROOT / "examples" / "backend.toml").read_text() in code_blocks("toml")


@pytest.fixture
async def example_backend() -> AsyncIterator[int]:
    """The example's FastAPI app under uvicorn on a free port."""
    config = uvicorn.Config(backend_app.api, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    try:
        await wait_until(lambda: server.started or task.done())
        assert server.started
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout(10))


async def test_the_example_accepts_replies_and_pushes_later(
    example_backend: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "backend.toml"
    text = (ROOT / "examples" / "backend.toml").read_text()
    config.write_text(text.replace("127.0.0.1:9000", f"127.0.0.1:{example_backend}"))
    settings = load_settings(config, host="127.0.0.1", port=0, admin_port=0, drain_timeout=1.0)
    app = App(settings)
    installed = app.backend
    assert installed is not None
    await app.start()
    try:
        monkeypatch.setattr(backend_app, "ADMIN_URL", f"http://127.0.0.1:{app.admin_port}")
        async with websockets.connect(ws_url(app)) as ws:
            welcome = await recv_json(ws)
            subscribed = await recv_json(ws)
            assert subscribed["type"] == "subscribed" and subscribed["channel"] == "lobby"
            await ws.send(json.dumps({"type": "chat", "id": 1, "data": {"text": "hi"}}))
            reply = await recv_json(ws)
            user = "guest-" + welcome["connection_id"][-6:]
            assert reply == {"type": "chat_reply", "data": {"from": user, "text": "HI"}, "id": 1}
            await ws.send(json.dumps({"type": "chat", "id": 2}))
            refused = await recv_json(ws)
            assert refused["code"] == "INVALID_MESSAGE_FORMAT"
            assert refused["message"] == "chat needs data.text"
            await ws.send(json.dumps({"type": "remind", "id": 3, "data": 0.1}))
            assert await recv_json(ws) == {"type": "ack", "id": 3}
            pushed = await recv_json(ws)
            assert pushed["type"] == "direct" and pushed["data"] == {"reminder": "now"}
            await ws.send(json.dumps({"type": "dance", "id": 4}))
            assert (await recv_json(ws))["data"] == {"unknown": "dance"}
    finally:
        await app.shutdown()
        await installed.aclose()


def test_the_guides_standalone_check_agrees_with_the_helper() -> None:
    """The standard-library ``verify`` shown for backends without Switchboard installed."""
    (source,) = [block for block in code_blocks("python") if "def verify(" in block]
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # the snippet as the guide shows it
    verify = namespace["verify"]
    secret, body = b"a-secret-of-the-guide", b'{"route_key":"chat"}'
    header = sign(secret, body)
    assert verify(secret, header, body)
    assert not verify(secret, header, body + b" ")
    assert not verify(b"another-secret", header, body)
    assert not verify(secret, sign(secret, body, timestamp=int(time.time()) - 301), body)
    assert not verify(secret, "t=1,v1=", body)
