"""One echo request in each codec, from Python.

python examples/codec_clients.py ws://127.0.0.1:8080/ws
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import msgspec
import websockets

from switchboard.protocol.proto import envelope_pb2  # or generate it from envelope.proto


async def echo_json(url: str, data: Any) -> Any:
    """v1.json (the default): JSON text frames."""
    async with websockets.connect(url, subprotocols=["v1.json"]) as ws:  # type: ignore[list-item]
        await ws.recv()  # welcome
        await ws.send(json.dumps({"type": "echo", "id": 1, "data": data}))
        return json.loads(await ws.recv())["data"]


async def echo_msgpack(url: str, data: Any) -> Any:
    """v1.binary: the same envelope in MessagePack, binary frames (bytes stay bytes)."""
    async with websockets.connect(url, subprotocols=["v1.binary"]) as ws:  # type: ignore[list-item]
        await ws.recv()  # welcome
        await ws.send(msgspec.msgpack.encode({"type": "echo", "id": 1, "data": data}))
        return msgspec.msgpack.decode(await ws.recv())["data"]


async def echo_proto(url: str, data: bytes) -> bytes:
    """v2.proto: one switchboard.v2.Envelope per binary frame."""
    async with websockets.connect(url, subprotocols=["v2.proto"]) as ws:  # type: ignore[list-item]
        await ws.recv()  # welcome
        request = envelope_pb2.Envelope(type="echo", int_id=1, data=data)
        await ws.send(request.SerializeToString())
        reply = envelope_pb2.Envelope()
        reply.ParseFromString(await ws.recv())
        return reply.data


async def main(url: str) -> None:
    print(await echo_json(url, {"hello": "json"}))
    print(await echo_msgpack(url, {"hello": b"msgpack"}))
    print(await echo_proto(url, b"hello protobuf"))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8080/ws"))
