"""v1.fernet: encrypted envelopes with real clients, key rotation, tampering, replay window."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import websockets
from cryptography.fernet import Fernet

from ..conftest import StartServer, recv_json, timeout, ws_url

OLD, NEW = Fernet.generate_key(), Fernet.generate_key()


async def recv_clear(ws: Any, key: bytes = NEW) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout(5))
    assert isinstance(raw, bytes)
    return dict(json.loads(Fernet(key).decrypt(raw)))


def sealed(message: dict[str, Any], key: bytes = NEW, at: int | None = None) -> bytes:
    data = json.dumps(message).encode()
    return Fernet(key).encrypt(data) if at is None else Fernet(key).encrypt_at_time(data, at)


async def test_encrypted_round_trip_rotation_tampering_and_replay(
    start_server: StartServer,
) -> None:
    app = await start_server(payload_keys=[NEW.decode(), OLD.decode()], payload_ttl=60)
    async with websockets.connect(ws_url(app), subprotocols=["v1.fernet"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "v1.fernet"
        assert (await recv_clear(ws))["type"] == "welcome"
        await ws.send(sealed({"type": "echo", "id": 1, "data": {"secret": "s3"}}))
        assert await recv_clear(ws) == {"type": "echo_reply", "id": 1, "data": {"secret": "s3"}}
        # A client still on the old key is understood; replies use the newest key.
        await ws.send(sealed({"type": "echo", "id": 2, "data": "old"}, key=OLD))
        assert (await recv_clear(ws, NEW))["data"] == "old"
        # Tampered, foreign-key and too-old tokens get a clear (encrypted) error.
        token = bytearray(sealed({"type": "echo", "id": 3}))
        token[-5] ^= 0x01
        await ws.send(bytes(token))
        error = await recv_clear(ws)
        assert error["code"] == "INVALID_MESSAGE_FORMAT"
        assert "could not be decrypted" in error["message"]
        await ws.send(sealed({"type": "echo"}, key=Fernet.generate_key()))
        assert (await recv_clear(ws))["code"] == "INVALID_MESSAGE_FORMAT"
        await ws.send(sealed({"type": "echo"}, at=int(time.time()) - 3600))
        assert (await recv_clear(ws))["code"] == "INVALID_MESSAGE_FORMAT"
        await ws.send('{"type":"echo"}')  # plain text on the encrypted protocol
        assert (await recv_clear(ws))["code"] == "INVALID_MESSAGE_FORMAT"


async def test_encrypted_subscriber_receives_plain_publications(start_server: StartServer) -> None:
    app = await start_server(payload_keys=[NEW.decode()])
    url = ws_url(app)
    async with (
        websockets.connect(url, subprotocols=["v1.fernet"]) as secret,  # type: ignore[list-item]
        websockets.connect(url) as plain,
    ):
        await recv_clear(secret)
        await recv_json(plain)
        await secret.send(sealed({"type": "subscribe", "channel": "vault", "id": "s"}))
        assert (await recv_clear(secret))["type"] == "ack"
        await plain.send('{"type":"publish","channel":"vault","data":{"n":1}}')
        assert await recv_clear(secret) == {
            "type": "message",
            "channel": "vault",
            "offset": 1,
            "data": {"n": 1},
        }


async def test_no_keys_no_fernet(start_server: StartServer) -> None:
    app = await start_server()
    with_only_fernet = websockets.connect(ws_url(app), subprotocols=["v1.fernet"])  # type: ignore[list-item]
    try:
        async with with_only_fernet:
            raise AssertionError("v1.fernet must not be offered without keys")
    except websockets.exceptions.InvalidStatus as refused:
        assert refused.response.status_code == 400
