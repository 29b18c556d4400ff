"""A small HTTP backend behind Switchboard's backend routes (docs/integration.md).

Run it with ``uvicorn examples.backend_app:api --port 9000`` and Switchboard with
``switchboard serve --config examples/backend.toml``; then connect to ws://127.0.0.1:8080/ws
and send ``{"type":"chat","id":1,"data":{"text":"hi"}}`` or ``{"type":"remind","data":1}``.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from switchboard.backend import SIGNATURE_HEADER, SignatureError, verify_signature

SECRET = os.environ.get("BACKEND_SECRET", "change-me-to-a-long-random-string")
ADMIN_URL = os.environ.get("SWITCHBOARD_ADMIN_URL", "http://127.0.0.1:9001")
API_KEY = os.environ.get("SWITCHBOARD_API_KEY", "change-me-admin-key-0123")

api = FastAPI()
later: set[asyncio.Task[None]] = set()


async def event_of(request: Request) -> dict[str, Any]:
    """The event Switchboard sent, once its signature checks out (401 otherwise)."""
    body = await request.body()  # the raw bytes: the signature covers them exactly
    try:
        verify_signature(SECRET, request.headers.get(SIGNATURE_HEADER), body)
    except SignatureError as exc:
        raise HTTPException(401, str(exc)) from None
    event: dict[str, Any] = json.loads(body)
    return event


@api.post("/connect")
async def connect(request: Request) -> dict[str, Any]:
    event = await event_of(request)
    # A real backend checks a credential here (a forwarded header, the token's claims) and
    # answers 401 or 403 to refuse; this one names every guest and lets them in.
    return {
        "user": "guest-" + event["connection_id"][-6:],
        "roles": ["member"],
        "state": {"joined_at": event["request_time"]},
        "channels": ["lobby"],
    }


@api.post("/chat")
async def chat(request: Request) -> Any:
    event = await event_of(request)
    body = event.get("body")
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        return JSONResponse({"message": "chat needs data.text"}, status_code=400)
    return {"from": event["user"], "text": text.upper()}


@api.post("/remind")
async def remind(request: Request) -> Response:
    event = await event_of(request)
    delay = event.get("body")
    seconds = min(float(delay), 60.0) if isinstance(delay, int | float) else 1.0
    task = asyncio.create_task(push_later(event["connection_id"], seconds))
    later.add(task)
    task.add_done_callback(later.discard)
    return Response(status_code=204)  # no body: the client gets an ack


async def push_later(connection_id: str, seconds: float) -> None:
    """Push to the connection through Switchboard's management API (410: it is gone)."""
    await asyncio.sleep(seconds)
    async with httpx.AsyncClient(base_url=ADMIN_URL, headers={"X-API-Key": API_KEY}) as admin:
        answer = await admin.post(
            f"/api/v1/connections/{connection_id}", json={"data": {"reminder": "now"}}
        )
    if answer.status_code == 410:
        print(f"{connection_id} left before its reminder")


@api.post("/default")
async def default(request: Request) -> dict[str, Any]:
    event = await event_of(request)
    return {"unknown": event["message_type"]}


@api.post("/disconnect")
async def disconnect(request: Request) -> Response:
    event = await event_of(request)
    print(f"{event['connection_id']} ({event['user']}) left with {event['close_code']}")
    return Response(status_code=204)
