"""Routes to a real HTTP backend on loopback, through real WebSocket clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from aiohttp import web
from structlog.testing import capture_logs
from websockets.asyncio.client import ClientConnection

from switchboard import App

from ..conftest import recv_json, timeout, wait_until, ws_url
from ..security.keys import SECRET as JWT_SECRET
from ..security.keys import token as make_token
from .conftest import AUTH, SECRET, FakeBackend, StartNode, json_answer


async def connect(app: App) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await websockets.connect(ws_url(app))
    return ws, await recv_json(ws)


async def request(ws: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    return await recv_json(ws)


async def close_code_of(app: App) -> int:
    ws = await websockets.connect(ws_url(app))
    try:
        await asyncio.wait_for(ws.wait_closed(), timeout(5))
    finally:
        await ws.close()
    assert ws.close_code is not None
    return ws.close_code


def admin(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.admin_port}", timeout=timeout(5))


async def test_connect_accepts_naming_the_user_and_attaching_state(
    backend: FakeBackend, start_node: StartNode
) -> None:
    backend.on("connect", json_answer({"user": "u1", "roles": ["admin"], "state": {"plan": "pro"}}))

    async def whoami(event: dict[str, Any]) -> web.StreamResponse:
        return web.json_response({"you": event["user"]})

    backend.on("whoami", whoami)
    app, _ = await start_node({"$connect": backend.url("connect"), "whoami": backend.url("whoami")})
    seen: dict[str, Any] = {}

    @app.route("plan", roles=["admin"])
    def plan(conn: Any, msg: Any) -> Any:
        seen["plan"] = conn.state.get("plan")
        return conn.state.get("plan")

    ws, welcome = await connect(app)
    async with ws:
        assert welcome["type"] == "welcome"
        connect_event = backend.events_of("$connect")[0]
        assert connect_event["connection_id"] == welcome["connection_id"]
        assert connect_event["remote_address"].startswith("127.0.0.1:")
        assert connect_event["request_id"] and connect_event["request_time"] > 0
        reply = await request(ws, {"type": "whoami", "id": "w"})
        assert reply == {"type": "whoami_reply", "data": {"you": "u1"}, "id": "w"}
        # The roles and the state the backend gave are the connection's own.
        reply = await request(ws, {"type": "plan", "id": 2})
        assert reply == {"type": "plan_reply", "data": "pro", "id": 2}


async def test_connect_answer_subscribes_the_connection_to_channels(
    backend: FakeBackend, start_node: StartNode
) -> None:
    backend.on("connect", json_answer({"channels": ["room:1"]}))
    app, _ = await start_node({"$connect": backend.url("connect")})
    ws, _ = await connect(app)
    async with ws:
        subscribed = await recv_json(ws)
        assert subscribed["type"] == "subscribed" and subscribed["channel"] == "room:1"
        await app.publish("room:1", {"hello": 1})
        message = await recv_json(ws)
        assert message["type"] == "message" and message["data"] == {"hello": 1}


async def test_connect_gets_the_token_claims_and_only_allow_listed_headers(
    backend: FakeBackend, start_node: StartNode
) -> None:
    app, _ = await start_node(
        {"$connect": backend.url("connect"), "chat": backend.url("chat")}, jwt_secret=JWT_SECRET
    )
    bearer = make_token("alice", plan="pro")
    ws = await websockets.connect(
        ws_url(app),
        additional_headers={"Authorization": f"Bearer {bearer}", "X-Request-Id": "abc"},
    )
    async with ws:
        await recv_json(ws)
        await request(ws, {"type": "chat", "id": 1})
    connect = backend.events_of("$connect")[0]
    assert connect["user"] == "alice"
    assert connect["claims"]["plan"] == "pro"
    assert connect["headers"]["x-request-id"] == "abc"
    assert "authorization" not in connect["headers"]
    assert backend.events_of("chat")[0]["claims"]["plan"] == "pro"


@pytest.mark.parametrize(
    ("status", "close_code"),
    [(401, 4401), (403, 4403), (400, 1008), (429, 1013), (500, 1011), (503, 1013)],
)
async def test_connect_refusal_maps_the_status_to_a_close_code(
    backend: FakeBackend, start_node: StartNode, status: int, close_code: int
) -> None:
    backend.on("connect", json_answer({"reason": "not today"}, status=status))
    app, _ = await start_node({"$connect": backend.url("connect")})
    ws = await websockets.connect(ws_url(app))
    async with ws:
        with pytest.raises(websockets.ConnectionClosed):
            await recv_json(ws)  # no welcome: the close instead
    assert ws.close_code == close_code
    if status < 500:
        assert ws.close_reason == "not today"
    assert len(backend.events_of("$connect")) == 1


async def test_message_route_reply_keeps_the_request_id(
    backend: FakeBackend, start_node: StartNode
) -> None:
    async def chat(event: dict[str, Any]) -> web.StreamResponse:
        return web.json_response({"echoed": event["body"], "type": event["message_type"]})

    backend.on("chat", chat)
    app, _ = await start_node({"chat": backend.url("chat")})
    ws, welcome = await connect(app)
    async with ws:
        reply = await request(ws, {"type": "chat", "id": "r-1", "data": {"text": "hi"}})
        assert reply == {
            "type": "chat_reply",
            "data": {"echoed": {"text": "hi"}, "type": "chat"},
            "id": "r-1",
        }
        event = backend.events_of("chat")[0]
        assert event["connection_id"] == welcome["connection_id"]
        assert event["message_id"] == "r-1"
        assert "headers" not in event  # on $connect only
        # An empty answer (204) is an ack, when the request asked for one.
        backend.on("chat", lambda event: _empty())
        assert await request(ws, {"type": "chat", "id": 3}) == {"type": "ack", "id": 3}


async def _empty() -> web.StreamResponse:
    return web.Response(status=204)


async def test_message_route_refusal_is_an_error_frame(
    backend: FakeBackend, start_node: StartNode
) -> None:
    backend.on("chat", json_answer({"message": "muted for 5 minutes"}, status=403))
    app, _ = await start_node({"chat": backend.url("chat")})
    ws, _ = await connect(app)
    async with ws:
        reply = await request(ws, {"type": "chat", "id": 1})
        assert reply == {
            "type": "error",
            "code": "FORBIDDEN",
            "message": "muted for 5 minutes",
            "id": 1,
        }


async def test_default_route_gets_every_other_type(
    backend: FakeBackend, start_node: StartNode
) -> None:
    async def default(event: dict[str, Any]) -> web.StreamResponse:
        return web.json_response({"handled": event["message_type"]})

    backend.on("default", default)
    app, _ = await start_node({"$default": backend.url("default")})
    ws, _ = await connect(app)
    async with ws:
        reply = await request(ws, {"type": "anything", "id": 9, "data": [1, 2]})
        assert reply == {"type": "$default_reply", "data": {"handled": "anything"}, "id": 9}
        assert backend.events_of("$default")[0]["body"] == [1, 2]
        # Built-in routes stay built in.
        assert (await request(ws, {"type": "echo", "data": 1}))["type"] == "echo_reply"


async def test_backend_pushes_through_the_management_api_until_the_connection_is_gone(
    backend: FakeBackend, start_node: StartNode
) -> None:
    app, _ = await start_node(
        {"$connect": backend.url("connect"), "$disconnect": backend.url("disconnect")}
    )
    ws, welcome = await connect(app)
    connection_id = backend.events_of("$connect")[0]["connection_id"]
    async with admin(app) as api:
        pushed = await api.post(f"/api/v1/connections/{connection_id}", json={"n": 1}, headers=AUTH)
        assert pushed.status_code == 200, pushed.text
        assert (await recv_json(ws))["data"] == {"n": 1}
        await ws.close()
        await wait_until(lambda: bool(backend.events_of("$disconnect")))
        gone = await api.post(f"/api/v1/connections/{connection_id}", json={"n": 2}, headers=AUTH)
        assert gone.status_code == 410
    disconnect = backend.events_of("$disconnect")[0]
    assert disconnect["connection_id"] == welcome["connection_id"]
    assert disconnect["close_code"] == 1000


async def test_a_slow_backend_times_out_as_unavailable(
    backend: FakeBackend, start_node: StartNode
) -> None:
    release = asyncio.Event()

    async def slow(event: dict[str, Any]) -> web.StreamResponse:
        await release.wait()
        return web.json_response({"late": True})

    backend.on("slow", slow)
    app, _ = await start_node({"slow": backend.url("slow")}, backend={"timeout": 0.3})
    ws, _ = await connect(app)
    try:
        async with ws:
            reply = await request(ws, {"type": "slow", "id": "s"})
            assert reply["type"] == "error" and reply["code"] == "UNAVAILABLE"
            assert reply["id"] == "s" and "in time" in reply["message"]
    finally:
        release.set()


async def test_circuit_opens_while_the_backend_is_down_and_closes_when_it_is_back(
    backend: FakeBackend, start_node: StartNode
) -> None:
    backend.on("chat", json_answer("pong"))
    app, installed = await start_node(
        {"chat": backend.url("chat")},
        backend={"failure_threshold": 2, "cooldown": timeout(2.0)},
    )
    ws, _ = await connect(app)
    async with ws, admin(app) as api:
        assert (await request(ws, {"type": "chat", "id": 0}))["data"] == "pong"
        await backend.stop()
        with capture_logs() as logs:
            for n in (1, 2):  # two failures: the circuit opens
                reply = await request(ws, {"type": "chat", "id": n})
                assert reply["code"] == "UNAVAILABLE" and "cannot be reached" in reply["message"]
        assert any(e["event"] == "backend_circuit_opened" for e in logs)
        await backend.start()  # back, but the circuit is open: not called
        called = len(backend.events)
        reply = await request(ws, {"type": "chat", "id": 3})
        assert reply["code"] == "UNAVAILABLE" and "circuit open" in reply["message"]
        assert len(backend.events) == called
        # The node itself stays healthy, and says what is going on.
        assert (await api.get("/ready")).status_code == 200
        metrics = (await api.get("/metrics")).text
        assert 'switchboard_backend_circuit_state{route="chat"} 1.0' in metrics
        assert 'switchboard_backend_requests_total{outcome="circuit_open",route="chat"}' in metrics
        # After the cool-down one trial goes through, and its success closes the circuit.
        for attempt in range(200):
            reply = await request(ws, {"type": "chat", "id": f"t{attempt}"})
            if reply["type"] == "chat_reply":
                break
            await asyncio.sleep(0.05)
        assert reply["data"] == "pong"
        assert (await request(ws, {"type": "chat", "id": "after"}))["data"] == "pong"
        metrics = (await api.get("/metrics")).text
        assert 'switchboard_backend_circuit_state{route="chat"} 0.0' in metrics
        assert 'switchboard_backend_circuit_opened_total{route="chat"} 1.0' in metrics
    assert installed.client.routes["chat"].breaker.opened == 1


async def test_every_request_is_signed_for_the_backend(
    backend: FakeBackend, start_node: StartNode
) -> None:
    app, _ = await start_node({"$connect": backend.url("connect"), "chat": backend.url("chat")})
    ws, _ = await connect(app)
    async with ws:
        await request(ws, {"type": "chat", "id": 1})
    assert backend.bad_signatures == 0
    assert len(backend.events) == 2
    signed = backend.headers[0]["X-Switchboard-Signature"]
    assert signed.startswith("t=") and ",v1=" in signed
    # The same node signing with another secret is refused by the backend's check.
    other, _ = await start_node(
        {"chat": backend.url("chat")}, backend={"secret": "another-secret-0123456789"}
    )
    ws, _ = await connect(other)
    async with ws:
        reply = await request(ws, {"type": "chat", "id": 1})
    assert reply["code"] == "UNAUTHORIZED"
    assert backend.bad_signatures == 1


async def test_secrets_stay_out_of_the_logs(backend: FakeBackend, start_node: StartNode) -> None:
    token = "client-bearer-token-value"
    with capture_logs() as logs:
        backend.on("connect", json_answer({"user": "u1"}))
        app, _ = await start_node(
            {"$connect": backend.url("connect"), "chat": backend.url("chat")},
            backend={"forward_headers": ["user-agent"], "failure_threshold": 1},
        )
        ws = await websockets.connect(
            ws_url(app) + f"?token={token}",
            additional_headers={"Authorization": f"Bearer {token}"},
        )
        async with ws:
            await recv_json(ws)
            await backend.stop()  # failures, warnings, a circuit opening: all logged
            await request(ws, {"type": "chat", "id": 1})
            await request(ws, {"type": "chat", "id": 2})
    assert any(e["event"] == "backend_circuit_opened" for e in logs)
    text = repr(logs) + repr(app.settings)
    assert SECRET not in text
    assert token not in text
    # Nor in what the backend got: the Authorization header is not on the allow-list.
    assert token not in json.dumps(backend.events)


async def test_the_drain_tells_the_backend_of_every_connection_it_closes(
    backend: FakeBackend, start_node: StartNode
) -> None:
    async def slow(event: dict[str, Any]) -> web.StreamResponse:
        await asyncio.sleep(0.3)  # still answering when the node's drain is over
        return web.Response(status=204)

    backend.on("disconnect", slow)
    app, installed = await start_node({"$disconnect": backend.url("disconnect")})
    ws, welcome = await connect(app)
    async with ws:
        await app.shutdown()  # the HTTP client closes in on_shutdown, once the events are sent
    assert installed.disconnects_dropped == 0
    assert installed.client.routes["$disconnect"].outcomes == {"ok": 1}
    (gone,) = backend.events_of("$disconnect")
    assert gone["connection_id"] == welcome["connection_id"]
    assert gone["close_code"] == 1012
