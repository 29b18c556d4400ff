"""The generator process of ``connrate.py``: short WebSocket lives, as many as it can.

``connrate.py --worker K`` runs :func:`main`: ``--lanes`` loops, each opening a connection from
``--source``, waiting for the ``101`` (``--welcome``: for the first frame), closing it with the
closing handshake and starting again, for ``--duration`` seconds after a line on stdin. With
:data:`SECRET_ENV` set every upgrade carries an HS256 token made from it, the lanes cycling
through :data:`TOKENS_PER_PROCESS` distinct ones. Prints one JSON line: completed lives,
failures by reason, slow closes, the latency of every handshake (connect to ``101`` or
welcome, microseconds) and its own CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from harness import config as cfg
from harness.procs import hand_over
from harness.wsclient import open_client, upgrade_request

#: The HMAC secret of the JWT runs, from the environment (never argv, never printed).
SECRET_ENV = "SWITCHBOARD_JWT_SECRET"
TOKENS_PER_PROCESS = 1000
CLOSE_TIMEOUT_S = 2.0
OPEN_TIMEOUT_S = 5.0


def _tokens(secret: str, worker: int) -> list[str]:
    import jwt  # the project's dependency (PyJWT); only the JWT runs need it

    exp = int(time.time()) + 3600
    return [
        jwt.encode({"sub": f"bench-{worker}-{i}", "exp": exp}, secret, algorithm="HS256")
        for i in range(TOKENS_PER_PROCESS)
    ]


async def _lane(
    args: argparse.Namespace, tokens: list[str], lane: int, stats: dict[str, Any]
) -> None:
    index = lane
    deadline = stats["deadline"]
    while time.monotonic() < deadline:
        headers = {"Authorization": f"Bearer {tokens[index % len(tokens)]}"} if tokens else {}
        index += args.lanes
        request = upgrade_request(cfg.HOST, args.port, cfg.WS_PATH, headers)
        started = time.monotonic()
        client = None
        try:
            client = await asyncio.wait_for(
                open_client(cfg.HOST, args.port, request, local_addr=args.source), OPEN_TIMEOUT_S
            )
            waited = client.first if args.welcome else client.upgraded
            await asyncio.wait_for(asyncio.shield(waited), OPEN_TIMEOUT_S)
        except (OSError, ConnectionError, TimeoutError) as exc:
            why = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc)[:60]
            stats["failed"][why] = stats["failed"].get(why, 0) + 1
            if client is not None:
                client.reset()
            await asyncio.sleep(0.01)  # a refused or broken server is not hammered in a spin
            continue
        stats["latency_us"].append(int((time.monotonic() - started) * 1e6))
        client.close()
        try:  # the server answers the close frame and closes the socket
            await asyncio.wait_for(asyncio.shield(client.gone), CLOSE_TIMEOUT_S)
        except TimeoutError:
            stats["slow_close"] += 1
            client.reset()
        stats["done"] += 1


async def generate(args: argparse.Namespace) -> dict[str, Any]:
    secret = os.environ.get(SECRET_ENV)
    tokens = _tokens(secret, args.worker) if secret else []
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"
    stats: dict[str, Any] = {
        "deadline": time.monotonic() + args.duration,
        "done": 0,
        "slow_close": 0,
        "failed": {},
        "latency_us": [],
    }
    started, cpu = time.monotonic(), time.process_time()
    await asyncio.gather(*(_lane(args, tokens, lane, stats) for lane in range(args.lanes)))
    stats["secs"] = time.monotonic() - started
    stats["cpu_s"] = time.process_time() - cpu
    del stats["deadline"]
    return stats


def main(args: argparse.Namespace) -> int:
    import uvloop

    result = uvloop.run(generate(args))
    hand_over(args.out, result)
    return 0
