"""Authentication and Origin checks at the handshake, with real clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..conftest import ServerProcess, StartServer, recv_json, timeout, ws_url
from ..security.keys import SECRET, rsa_pair, token


async def welcome_of(url: str, **kwargs: Any) -> dict[str, Any]:
    async with websockets.connect(url, **kwargs) as ws:
        return await recv_json(ws)


async def refused_status(url: str, **kwargs: Any) -> tuple[int, bytes]:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, **kwargs):
            pass
    response = refused.value.response
    return response.status_code, response.body or b""


async def closed_with(url: str, **kwargs: Any) -> tuple[int, str]:
    async with websockets.connect(url, **kwargs) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout(5))
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_every_token_source_names_the_user(start_server: StartServer) -> None:
    app = await start_server(jwt_secret=SECRET)
    url = ws_url(app)
    assert app.node is not None

    async def user_seen(**kwargs: Any) -> Any:
        async with websockets.connect(kwargs.pop("url", url), **kwargs) as ws:
            welcome = await recv_json(ws)
            conn = app.node.registry.get(welcome["connection_id"])  # type: ignore[union-attr]
            assert conn is not None
            return conn.user, conn.roles, ws.subprotocol

    header = {"Authorization": f"Bearer {token('ann', roles=['member'])}"}
    assert await user_seen(additional_headers=header) == ("ann", {"member"}, None)
    assert await user_seen(url=f"{url}?token={token('bob')}") == ("bob", frozenset(), None)
    cookie = {"Cookie": f"theme=dark; token={token('cy')}"}
    assert await user_seen(additional_headers=cookie) == ("cy", frozenset(), None)
    # Browsers cannot set headers: the token rides in the subprotocol list, beside v1.json,
    # and the server selects v1.json (never echoing the token back).
    offered = ["v1.json", f"bearer.{token('dee')}"]
    assert await user_seen(subprotocols=offered) == ("dee", frozenset(), "v1.json")


async def test_http_style_refuses_with_401_and_403(start_server: StartServer) -> None:
    app = await start_server(jwt_secret=SECRET)
    url = ws_url(app)
    status, body = await refused_status(url)
    assert (status, body) == (401, b'{"error":"authentication required"}')
    for bad, reason in [
        (token(expires_in=-60), b"token expired"),
        (token(key="wrong-secret-wrong-secret-wrong-secret-0000"), b"invalid token"),
        (token(aud="x", key=rsa_pair()[0], algorithm="RS256"), b"algorithm RS256 not accepted"),
    ]:
        status, body = await refused_status(f"{url}?token={bad}")
        assert status == 403 and reason in body


async def test_close_style_accepts_then_closes_4401_and_4403(start_server: StartServer) -> None:
    app = await start_server(jwt_secret=SECRET, auth_style="close")
    url = ws_url(app)
    assert await closed_with(url) == (4401, "authentication required")
    assert await closed_with(f"{url}?token={token(expires_in=-60)}") == (4403, "token expired")
    assert (await welcome_of(f"{url}?token={token()}"))["type"] == "welcome"


async def test_anonymous_setting_and_rsa_keys(start_server: StartServer, tmp_path: Any) -> None:
    public_file = tmp_path / "jwt.pem"
    public_file.write_text(rsa_pair()[1])
    app = await start_server(jwt_public_key=public_file, allow_anonymous=True)
    url = ws_url(app)
    assert (await welcome_of(url))["type"] == "welcome"  # no token: anonymous
    signed = token("rita", key=rsa_pair()[0], algorithm="RS256")
    assert (await welcome_of(f"{url}?token={signed}"))["type"] == "welcome"
    status, _ = await refused_status(f"{url}?token={token()}")  # HS256: no secret configured
    assert status == 403


async def test_cross_site_hijacking_is_refused(start_server: StartServer) -> None:
    """A page on evil.example opens a socket to us; the browser attaches the victim's cookie.
    Only the Origin check stops it."""
    app = await start_server(
        jwt_secret=SECRET, allowed_origin=["https://app.example.com", "https://*.example.net"]
    )
    url = ws_url(app)
    victim_cookie = f"token={token('victim')}"
    status, body = await refused_status(
        url, additional_headers={"Cookie": victim_cookie}, origin="https://evil.example"
    )
    assert (status, body) == (403, b'{"error":"origin not allowed"}')
    for origin in ("https://app.example.com", "https://eu.example.net"):
        welcome = await welcome_of(url, additional_headers={"Cookie": victim_cookie}, origin=origin)
        assert welcome["type"] == "welcome"
    # A non-browser client sends no Origin: allowed, unless required.
    assert (await welcome_of(f"{url}?token={token()}"))["type"] == "welcome"
    strict = await start_server(require_origin=True)
    status, body = await refused_status(ws_url(strict))
    assert (status, body) == (403, b'{"error":"origin required"}')


async def test_well_behaved_client_is_served_while_bad_handshakes_fly(
    start_server: StartServer, capsys: pytest.CaptureFixture[str]
) -> None:
    app = await start_server(jwt_secret=SECRET, log_level="debug")
    url = ws_url(app)
    good = token("good")
    async with websockets.connect(f"{url}?token={good}") as ws:
        await recv_json(ws)
        bad_tokens = [token(expires_in=-60), forged := token(key="x" * 40), "garbage"]
        for bad in bad_tokens:
            await refused_status(f"{url}?token={bad}")
            await refused_status(url, additional_headers={"Authorization": f"Bearer {bad}"})
        await ws.send('{"type":"echo","data":"still here"}')
        assert (await recv_json(ws))["data"] == "still here"
    logged = capsys.readouterr()
    everything = logged.out + logged.err
    assert "handshake_rejected" in everything
    for secret in (good, forged, SECRET):
        assert secret not in everything


async def test_token_expiry_closes_4410_unless_refreshed(start_server: StartServer) -> None:
    app = await start_server(jwt_secret=SECRET, jwt_leeway=0)
    url = ws_url(app)
    short = token("eve", expires_in=2)
    async with websockets.connect(f"{url}?token={short}") as lapsing:
        await recv_json(lapsing)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(lapsing.recv(), timeout(6))
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4410, "token expired")

    first = token("eve", expires_in=2)
    # Same user, a token that runs out no sooner: once it has closed this one, the renewed
    # connection's first token has run out too.
    sentinel_token = token("eve", expires_in=2)
    async with (
        websockets.connect(f"{url}?token={first}") as renewed,
        websockets.connect(f"{url}?token={sentinel_token}") as sentinel,
    ):
        await recv_json(renewed)
        await recv_json(sentinel)
        await renewed.send(json.dumps({"type": "refresh", "token": "garbage", "id": 1}))
        assert (await recv_json(renewed))["code"] == "UNAUTHORIZED"
        other = token("mallory", expires_in=300)
        await renewed.send(json.dumps({"type": "refresh", "token": other, "id": 2}))
        assert (await recv_json(renewed))["code"] == "FORBIDDEN"
        fresh = token("eve", expires_in=300, roles=["admin"])
        await renewed.send(json.dumps({"type": "refresh", "token": fresh, "id": 3}))
        assert await recv_json(renewed) == {"type": "ack", "id": 3}
        with pytest.raises(ConnectionClosed) as expired:
            await asyncio.wait_for(sentinel.recv(), timeout(6))
        assert expired.value.rcvd is not None and expired.value.rcvd.code == 4410
        await renewed.send('{"type":"echo","data":"alive"}')
        assert (await recv_json(renewed))["data"] == "alive"


async def test_replayed_token_is_refused(start_server: StartServer) -> None:
    app = await start_server(jwt_secret=SECRET, jwt_replay_protection=True)
    url = ws_url(app)
    once = token("ann", jti="one-time")
    assert (await welcome_of(f"{url}?token={once}"))["type"] == "welcome"
    status, body = await refused_status(f"{url}?token={once}")
    assert (status, body) == (403, b'{"error":"token already used"}')


async def test_audit_log_file_records_security_decisions(tmp_path: Any) -> None:
    audit_file = tmp_path / "audit.jsonl"
    namespaces = '{"staff": {"subscribe_roles": ["admin"]}}'
    server = ServerProcess(
        ["--jwt-secret", SECRET, "--audit-log", str(audit_file), "--log-level", "warning"],
        env={"SWITCHBOARD_NAMESPACES": namespaces},
    )
    try:
        url = server.url()
        good = token("ann")
        await refused_status(f"{url}?token={token(expires_in=-60)}")
        async with websockets.connect(f"{url}?token={good}") as ws:
            await recv_json(ws)
            await ws.send('{"type":"subscribe","channel":"staff:ops","id":1}')
            assert (await recv_json(ws))["code"] == "FORBIDDEN"
    finally:
        server.stop()
    assert server.proc.stdout is not None
    stdout = server.proc.stdout.read()
    records = [json.loads(line) for line in audit_file.read_text().splitlines()]
    events = {(r["event"], r.get("reason") or r.get("user")) for r in records}
    assert ("handshake_rejected", "token expired") in events
    assert ("connection_accepted", "ann") in events
    denied = [r for r in records if r["event"] == "authorization_failed"]
    assert denied and denied[0]["channel"] == "staff:ops" and denied[0]["user"] == "ann"
    assert good not in audit_file.read_text()
    # At log level warning, stdout carries none of these info events.
    assert "handshake_rejected" not in stdout and "connection_accepted" not in stdout
