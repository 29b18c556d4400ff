"""The v1 JSON protocol end to end with Node's ``ws`` client (``tests/node/client.js``).

Each test runs the Node script as an asyncio subprocess against a server in the
test's own event loop (or a ``switchboard serve`` subprocess), reads the JSON
line it prints per event, and asserts on what a ``ws`` user would see.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ..conftest import ROOT, ServerProcess, StartServer, timeout, ws_url

NODE = shutil.which("node")
NODE_DIR = ROOT / "tests" / "node"
CLIENT = NODE_DIR / "client.js"
WS_PACKAGE = NODE_DIR / "node_modules" / "ws" / "package.json"

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed (needed for the ws client)"),
    pytest.mark.skipif(
        not WS_PACKAGE.is_file(),
        reason="tests/node/node_modules/ws is missing; run `make node-deps`",
    ),
]


class NodeClient:
    """One ``node client.js`` process and the events it printed so far."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def spawn(cls, url: str, scenario: str, args: dict[str, Any]) -> NodeClient:
        assert NODE is not None
        args = {"timeout": int(timeout(5) * 1000), **args}
        proc = await asyncio.create_subprocess_exec(
            NODE,
            str(CLIENT),
            url,
            scenario,
            json.dumps(args),
            stdin=asyncio.subprocess.PIPE
            if scenario == "interactive"
            else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def next_event(self, within: float = 5.0) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout(within))
        if not line:
            raise AssertionError(f"node client ended early; events: {self.events}")
        event = dict(json.loads(line))
        self.events.append(event)
        return event

    async def wait_for(self, name: str, within: float = 5.0) -> dict[str, Any]:
        """Read events until one named ``name``; return it."""
        async with asyncio.timeout(timeout(within)):
            while True:
                event = await self.next_event(within)
                if event["event"] == name:
                    return event

    async def message(self, within: float = 5.0) -> Any:
        """The decoded JSON of the next message event."""
        return (await self.wait_for("message", within))["data"]

    async def step(self, op: str, **fields: Any) -> None:
        """Run one step in an ``interactive`` client."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
        await self.proc.stdin.drain()

    async def finish(self, within: float = 10.0) -> list[dict[str, Any]]:
        """Let the client close and exit (end of stdin for ``interactive``); all its events."""
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        async with asyncio.timeout(timeout(within)):
            rest, stderr = await asyncio.gather(self.proc.stdout.read(), self.proc.stderr.read())
            code = await self.proc.wait()
        self.events += [json.loads(line) for line in rest.decode().splitlines() if line]
        assert code == 0, f"node client exited {code}; events: {self.events}; stderr: {stderr!r}"
        assert self.events[-1] == {"event": "exit", "code": 0}
        return self.events

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


Spawn = Callable[..., Awaitable[NodeClient]]


@pytest.fixture
async def node() -> AsyncIterator[Spawn]:
    """Start Node clients: ``await node(url, steps=[...])`` runs a script, ``interactive=True``
    takes steps over stdin. Clients still running at teardown are killed."""
    clients: list[NodeClient] = []

    async def spawn(url: str, *, interactive: bool = False, **args: Any) -> NodeClient:
        client = await NodeClient.spawn(url, "interactive" if interactive else "script", args)
        clients.append(client)
        return client

    yield spawn
    for client in clients:
        client.kill()
        await client.proc.wait()


async def run_script(
    node: Spawn, url: str, steps: list[dict[str, Any]], **args: Any
) -> list[dict[str, Any]]:
    """Run a ``script`` client to its end; its events."""
    return await (await node(url, steps=steps, **args)).finish()


def messages(events: list[dict[str, Any]]) -> list[Any]:
    return [e.get("data", e.get("text", e.get("hex"))) for e in events if e["event"] == "message"]


def only(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [e for e in events if e["event"] == name]
    assert len(found) == 1, f"expected one {name!r} event: {events}"
    return found[0]


def send_json(data: Any) -> dict[str, Any]:
    return {"op": "send_json", "data": data}


def expect(count: int = 1) -> dict[str, Any]:
    return {"op": "expect", "count": count}


ECHO_CHECK = [send_json({"type": "echo", "data": "still open"}), expect()]
STILL_OPEN = {"type": "echo_reply", "data": "still open"}


async def test_welcome_echo_with_and_without_id_and_ping(
    start_server: StartServer, node: Spawn
) -> None:
    app = await start_server(ping_interval=15)
    payload = {"x": [1, "ü", None, 2.5, {"nested": True}]}
    events = await run_script(
        node,
        ws_url(app),
        [
            expect(),
            send_json({"type": "echo", "data": payload, "id": "r1"}),
            send_json({"type": "echo", "data": "no id"}),
            send_json({"type": "ping", "id": 7}),
            send_json({"type": "ping"}),
            expect(4),
        ],
    )
    assert only(events, "open")["protocol"] == ""
    welcome, *replies = messages(events)
    assert welcome["type"] == "welcome"
    assert welcome["connection_id"].startswith("c-")
    assert welcome["node"] == app.settings.node_id
    assert welcome["heartbeat"] == 15
    assert replies == [
        {"type": "echo_reply", "data": payload, "id": "r1"},
        {"type": "echo_reply", "data": "no id"},
        {"type": "pong", "id": 7},
        {"type": "pong"},
    ]
    assert only(events, "close")["code"] == 1000  # our own close; the server never closed


@pytest.mark.parametrize(
    ("send", "code", "request_id"),
    [
        ({"op": "send", "text": "{not json"}, "INVALID_JSON", None),
        ({"op": "send", "text": '["type", "echo"]'}, "INVALID_MESSAGE_FORMAT", None),
        ({"op": "send", "text": '{"data": 1}'}, "INVALID_MESSAGE_FORMAT", None),
        ({"op": "send", "text": '{"type": 42, "id": "q1"}'}, "INVALID_MESSAGE_FORMAT", "q1"),
        ({"op": "send_binary", "hex": "7b7d0102"}, "INVALID_MESSAGE_FORMAT", None),
        ({"op": "send", "text": '{"type": "no.such.type", "id": 3}'}, "UNKNOWN_MESSAGE_TYPE", 3),
    ],
    ids=["invalid-json", "array", "no-type", "non-string-type", "binary", "unknown-type"],
)
async def test_bad_input_gets_an_error_and_the_connection_stays_open(
    start_server: StartServer,
    node: Spawn,
    send: dict[str, Any],
    code: str,
    request_id: Any,
) -> None:
    app = await start_server()
    events = await run_script(node, ws_url(app), [expect(), send, expect(), *ECHO_CHECK])
    _, error, after = messages(events)
    assert error["type"] == "error"
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error.get("id") == request_id
    assert after == STILL_OPEN
    assert only(events, "close")["code"] == 1000


async def test_broadcast_reaches_every_node_client_once(
    start_server: StartServer, node: Spawn
) -> None:
    app = await start_server()
    clients = [await node(ws_url(app), interactive=True) for _ in range(4)]
    for client in clients:
        assert (await client.message())["type"] == "welcome"
    await clients[1].step("send_json", data={"type": "broadcast", "data": {"hello": ["all", 1]}})
    for client in clients:
        assert await client.message() == {"type": "broadcast", "data": {"hello": ["all", 1]}}
    # Exactly once: the next thing each client gets is the reply to its own echo.
    for client in clients:
        await client.step("send_json", data={"type": "echo", "data": "still open"})
        assert await client.message() == STILL_OPEN
    for client in clients:
        assert only(await client.finish(), "close")["code"] == 1000


@pytest.mark.parametrize(
    ("parts", "data"),
    [
        (['{"type":"echo",', '"data":"in three', ' parts","id":1}'], "in three parts"),
        # "ü" is c3 bc: the code point is split across two continuation frames.
        (['{"type":"echo","data":"', {"hex": "c3"}, {"hex": "bc"}, '"}'], "ü"),
    ],
    ids=["three-parts", "utf8-split-across-fragments"],
)
async def test_fragmented_message_is_reassembled(
    start_server: StartServer, node: Spawn, parts: list[Any], data: str
) -> None:
    app = await start_server()
    events = await run_script(
        node, ws_url(app), [expect(), {"op": "send_fragments", "parts": parts}, expect()]
    )
    reply = messages(events)[1]
    assert reply["type"] == "echo_reply"
    assert reply["data"] == data
    assert only(events, "close")["code"] == 1000


async def test_ping_between_fragments_is_answered_and_the_message_still_reassembled(
    start_server: StartServer, node: Spawn
) -> None:
    app = await start_server()
    events = await run_script(
        node,
        ws_url(app),
        [
            expect(),
            {"op": "send_fragments", "parts": ['{"type":"echo",'], "final": False},
            {"op": "ping", "hex": "6869"},
            {"op": "wait", "ms": 50},
            {"op": "send_fragments", "parts": ['"data":"after ping"}']},
            expect(),
        ],
    )
    names = [e["event"] for e in events]
    assert "pong" in names
    assert messages(events)[1] == {"type": "echo_reply", "data": "after ping"}
    assert only(events, "close")["code"] == 1000


async def test_message_at_the_size_limit_is_echoed(start_server: StartServer, node: Spawn) -> None:
    app = await start_server(max_message_size=4096)
    prefix = '{"type":"echo","data":"'
    body = "x" * (4096 - len(prefix) - 2)
    events = await run_script(
        node, ws_url(app), [expect(), {"op": "send", "text": prefix + body + '"}'}, expect()]
    )
    assert messages(events)[1] == {"type": "echo_reply", "data": body}
    assert only(events, "close")["code"] == 1000


@pytest.mark.parametrize(
    "send",
    [
        {"op": "send", "text": "x" * 4097},
        {"op": "send_fragments", "parts": ["x" * 3000, "x" * 3000]},  # each part fits, not both
    ],
    ids=["single-frame", "across-fragments"],
)
async def test_oversize_message_closes_1009(
    start_server: StartServer, node: Spawn, send: dict[str, Any]
) -> None:
    app = await start_server(max_message_size=4096)
    events = await run_script(node, ws_url(app), [expect(), send, {"op": "wait_close"}])
    close = only(events, "close")
    assert close["code"] == 1009
    assert "4096" in close["reason"]
    assert len(messages(events)) == 1  # only the welcome


@pytest.mark.parametrize(
    "send",
    [
        {"op": "send_text_bytes", "hex": "fffe"},
        {"op": "send_text_bytes", "hex": "7b22613a22c328"},  # c3 then a non-continuation byte
        {"op": "send_fragments", "parts": [{"hex": "22c3"}, {"hex": "2822"}]},
    ],
    ids=["ff-fe", "bad-continuation-byte", "across-fragments"],
)
async def test_invalid_utf8_text_closes_1007(
    start_server: StartServer, node: Spawn, send: dict[str, Any]
) -> None:
    app = await start_server()
    events = await run_script(node, ws_url(app), [expect(), send, {"op": "wait_close"}])
    assert only(events, "close")["code"] == 1007
    assert len(messages(events)) == 1


async def test_node_client_answers_heartbeats_and_survives(
    start_server: StartServer, node: Spawn
) -> None:
    app = await start_server(ping_interval=0.2, ping_timeout=0.5)
    events = await run_script(
        node,
        ws_url(app),
        [expect(), {"op": "wait", "ms": 1500}, {"op": "mark", "name": "waited"}, *ECHO_CHECK],
    )
    names = [e["event"] for e in events]
    waited = names.index("mark")
    assert "close" not in names[:waited], events  # nothing closed us while we idled
    assert names[:waited].count("ping") >= 4, events  # ~7 rounds in 1.5 s
    assert messages(events)[-1] == STILL_OPEN
    assert only(events, "close")["code"] == 1000


async def test_node_client_that_ignores_pings_is_closed_4002(
    start_server: StartServer, node: Spawn
) -> None:
    """The counterpart of the survival test: without ws's automatic pong the server gives up."""
    app = await start_server(ping_interval=0.2, ping_timeout=0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = await run_script(node, ws_url(app), [expect(), {"op": "wait_close"}], autoPong=False)
    assert only(events, "close")["code"] == 4002
    assert loop.time() - started < timeout(4)


async def test_max_connections_refuses_with_503_then_frees_the_slot(
    start_server: StartServer, node: Spawn
) -> None:
    app = await start_server(max_connections=2)
    url = ws_url(app)
    holders = [await node(url, interactive=True) for _ in range(2)]
    for holder in holders:
        assert (await holder.message())["type"] == "welcome"
    events = await run_script(node, url, [])
    refused = only(events, "unexpected-response")
    assert refused["status"] == 503
    assert "open" not in [e["event"] for e in events]
    assert only(await holders[0].finish(), "close")["code"] == 1000
    # Once a holder has gone, a new client gets in (retrying while the server notices the close).
    for _ in range(20):
        events = await run_script(node, url, [expect(), *ECHO_CHECK])
        if not any(e["event"] == "unexpected-response" for e in events):
            break
    assert messages(events)[-1:] == [STILL_OPEN], events
    await holders[1].finish()


async def test_shutdown_closes_node_clients_1012(start_server: StartServer, node: Spawn) -> None:
    app = await start_server(drain_timeout=5.0)
    clients = [await node(ws_url(app), interactive=True) for _ in range(3)]
    for client in clients:
        assert (await client.message())["type"] == "welcome"
    loop = asyncio.get_running_loop()
    started = loop.time()
    await app.shutdown()
    # ws answers the close frame at once, so draining does not have to wait for drain_timeout.
    assert loop.time() - started < timeout(2)
    for client in clients:
        assert (await client.wait_for("close"))["code"] == 1012
        assert only(await client.finish(), "close")["code"] == 1012


async def test_sigterm_closes_node_clients_1012(
    server_process: Callable[..., ServerProcess], node: Spawn
) -> None:
    server = server_process()
    clients = [await node(server.url(), interactive=True) for _ in range(2)]
    for client in clients:
        assert (await client.message())["type"] == "welcome"
    server.proc.send_signal(signal.SIGTERM)
    for client in clients:
        assert (await client.wait_for("close"))["code"] == 1012
        assert only(await client.finish(), "close")["code"] == 1012
    assert await asyncio.to_thread(server.proc.wait, timeout(10)) == 0


@pytest.mark.parametrize(
    ("protocols", "selected"),
    [(["x.other", "v1.json"], "v1.json"), (["v1.json"], "v1.json"), ([], "")],
    ids=["among-others", "alone", "none-offered"],
)
async def test_subprotocol_v1_json_is_selected_when_offered(
    start_server: StartServer, node: Spawn, protocols: list[str], selected: str
) -> None:
    app = await start_server()
    events = await run_script(node, ws_url(app), [expect(), *ECHO_CHECK], protocols=protocols)
    assert only(events, "open")["protocol"] == selected
    assert only(events, "upgrade")["headers"].get("sec-websocket-protocol", "") == selected
    welcome, reply = messages(events)
    assert welcome["type"] == "welcome"
    assert reply == STILL_OPEN


@pytest.mark.parametrize(
    ("args", "compression", "negotiated"),
    [({}, "on", True), ({"perMessageDeflate": False}, "on", False), ({}, "off", False)],
    ids=["ws-default-offers-deflate", "client-deflate-disabled", "server-compression-off"],
)
async def test_permessage_deflate_with_node_ws(
    start_server: StartServer, node: Spawn, args: dict[str, Any], compression: str, negotiated: bool
) -> None:
    """ws offers permessage-deflate by default: the server accepts it (no context takeover)
    and a large compressible reply crosses the wire compressed; without it, uncompressed."""
    app = await start_server(compression=compression)
    big = "compressible " * 5000  # 65 kB, far past the 256-byte compression threshold
    events = await run_script(
        node, ws_url(app), [expect(), send_json({"type": "echo", "data": big}), expect()], **args
    )
    extensions = only(events, "open")["extensions"]
    header = only(events, "upgrade")["headers"].get("sec-websocket-extensions")
    assert messages(events)[1] == {"type": "echo_reply", "data": big}
    close = only(events, "close")
    assert close["code"] == 1000
    if negotiated:
        assert header == (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        )
        assert "permessage-deflate" in extensions
        assert close["bytes_read"] < 5_000  # 65 kB of text compress to well under 1 kB
    else:
        assert header is None
        assert extensions == ""
        assert close["bytes_read"] > len(big)
