"""Nodes behind a real HAProxy (``deploy/haproxy.cfg``): connections spread by least
connections, a draining node gets no new ones, and a rolling restart of every node while a
publisher sends loses nothing: every subscriber ends with every publication exactly once,
in order."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ..conftest import ServerProcess, timeout, wait_until
from ..rawclient import RawClient
from .conftest import API_KEY, Balancer, Nginx, StartNode

#: Subscribers and publications per second of the rolling restart (the issue's figures);
#: SWITCHBOARD_ROLLING_SCALE=0.2 runs a fifth of both, on a slower machine.
SCALE = float(os.environ.get("SWITCHBOARD_ROLLING_SCALE", "1"))
SUBSCRIBERS = max(10, round(300 * SCALE))
RATE = max(20, round(200 * SCALE))
#: What a node needs behind this HAProxy: a grace covering two failed checks (inter 1 s,
#: fall 2), history for a reconnect gap at the publication rate.
DRAINING = ("--drain-grace", "2.5", "--drain-timeout", "6", "--drain-rate", "500")


async def welcome_node(url: str) -> tuple[Any, str]:
    ws = await websockets.connect(url, open_timeout=timeout(5))
    welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
    return ws, str(welcome["node"])


async def test_connections_spread_over_the_nodes_by_least_connections(
    start_node: StartNode, balancer: Any
) -> None:
    nodes = [start_node() for _ in range(3)]
    front: Balancer = balancer(nodes)
    opened = [await welcome_node(front.url()) for _ in range(30)]
    try:
        spread = Counter(node for _, node in opened)
        assert set(spread) == {"node-1", "node-2", "node-3"}
        assert min(spread.values()) >= 8  # 10 each, give or take a check in flight
    finally:
        for ws, _ in opened:
            await ws.close()


async def test_a_draining_node_gets_no_new_connections(
    start_node: StartNode, balancer: Any
) -> None:
    nodes = [start_node(*DRAINING) for _ in range(3)]
    front: Balancer = balancer(nodes)
    nodes[0].proc.send_signal(signal.SIGTERM)  # /ready 503 at once; accepting for 2.5 s
    await asyncio.sleep(2.2)  # two failed checks, one second apart
    opened = [await welcome_node(front.url()) for _ in range(20)]
    try:
        assert "node-1" not in {node for _, node in opened}
        assert nodes[0].proc.poll() is None  # still in its grace: it would have taken them
    finally:
        for ws, _ in opened:
            await ws.close()


async def test_nginx_spreads_connections_and_skips_a_node_that_refuses_them(
    start_node: StartNode, nginx: Any
) -> None:
    nodes = [start_node("--drain-timeout", "10") for _ in range(3)]
    front: Nginx = nginx(nodes)
    opened = [await welcome_node(front.url()) for _ in range(30)]
    silent = await RawClient.connect(nodes[0].port)  # never answers: node-1 keeps draining
    try:
        assert set(Counter(node for _, node in opened)) == {"node-1", "node-2", "node-3"}
        nodes[0].proc.send_signal(signal.SIGTERM)  # no grace: its upgrades get 503 at once
        await asyncio.sleep(0.5)
        later = [await welcome_node(front.url()) for _ in range(10)]  # none refused
        opened += later
        assert "node-1" not in {node for _, node in later}
    finally:
        silent.close()
        for ws, _ in opened:
            await ws.close()


class Subscriber:
    """A client of the channel through the balancer that resumes after every close: waits
    the close's ``reconnect_after_ms``, reconnects, subscribes with ``recover_from``."""

    def __init__(self, url: str, channel: str) -> None:
        self.url = url
        self.channel = channel
        self.got: list[int] = []
        self.nodes: list[str] = []
        self.not_recovered = 0
        self.subscribed = asyncio.Event()
        self._position: dict[str, Any] | None = None

    async def follow(self, until: asyncio.Event) -> None:
        while not until.is_set():
            try:
                ws, node = await welcome_node(self.url)
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError):
                await asyncio.sleep(0.2)  # the balancer had no node for us just then
                continue
            self.nodes.append(node)
            hint = await self._read(ws, until)
            await asyncio.sleep(hint / 1000)

    async def _read(self, ws: Any, until: asyncio.Event) -> int:
        """Subscribe and read until the close; the close's reconnect hint (ms)."""
        request: dict[str, Any] = {"type": "subscribe", "channel": self.channel, "id": "s"}
        if self._position is not None:
            request["recover_from"] = self._position
        try:
            await ws.send(json.dumps(request))
            epoch = ""
            while not until.is_set():
                frame = json.loads(await ws.recv())
                if frame["type"] == "ack":
                    epoch = frame["epoch"]
                    if self._position is None:
                        self._position = {"offset": frame["offset"], "epoch": epoch}
                    elif not frame.get("recovered"):
                        self.not_recovered += 1
                    self.subscribed.set()
                elif frame["type"] == "message":
                    self.got.append(frame["data"])
                    self._position = {"offset": frame["offset"], "epoch": epoch}
        except ConnectionClosed:
            pass
        await ws.close()
        reason = ws.close_reason or ""
        return int(json.loads(reason)["reconnect_after_ms"]) if reason.startswith("{") else 0


class Publisher:
    """Publishes 1, 2, 3, ... at ``rate`` a second through the management API of ``via``, a
    node that is not restarting (a publish cut off mid-request might have been made: it is
    never sent again, so ``via`` changes only between publications)."""

    def __init__(self, via: ServerProcess, channel: str, rate: int) -> None:
        self.via = via
        self.channel = channel
        self.rate = rate
        self.published = 0

    async def run(self, until: asyncio.Event) -> None:
        """Publish 1, 2, 3, ... at ``rate``: what is due goes in one management API batch
        (run in order), so the pace holds on a busy machine, where one HTTP request per
        publication costs a few milliseconds."""
        headers = {"X-API-Key": API_KEY}
        async with httpx.AsyncClient(timeout=timeout(5), headers=headers) as client:
            started = time.monotonic()
            while not until.is_set():
                due = int((time.monotonic() - started) * self.rate) - self.published
                if due > 0:
                    port = self.via.admin_port  # type: ignore[attr-defined]
                    first = self.published + 1
                    commands = [
                        {"method": "publish", "params": {"channel": self.channel, "data": n}}
                        for n in range(first, first + min(due, 50))
                    ]
                    answer = await client.post(
                        f"http://127.0.0.1:{port}/api/v1/batch", json={"commands": commands}
                    )
                    assert answer.status_code == 200, answer.text
                    results = answer.json()["results"]
                    assert all(r["error"] is None for r in results), results
                    self.published += len(results)
                await asyncio.sleep(0.02)  # the pace of the publisher


async def test_a_rolling_restart_behind_haproxy_loses_nothing(
    start_node: StartNode, balancer: Any, tmp_path: Path
) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text("[channel_defaults]\nhistory_size = 3000\n")  # 15 s at 200/s
    flags = (*DRAINING, "--config", str(config))
    nodes = [start_node(*flags) for _ in range(3)]
    front: Balancer = balancer(nodes)
    subscribers = [Subscriber(front.url(), "feed:1") for _ in range(SUBSCRIBERS)]
    finished, stop_publishing = asyncio.Event(), asyncio.Event()
    following = [asyncio.create_task(s.follow(finished)) for s in subscribers]
    publisher = Publisher(nodes[2], "feed:1", RATE)
    try:
        await asyncio.wait_for(
            asyncio.gather(*(s.subscribed.wait() for s in subscribers)), timeout(30)
        )
        publishing = asyncio.create_task(publisher.run(stop_publishing))
        await asyncio.sleep(1)
        for index, node in enumerate(list(nodes)):
            publisher.via = nodes[(index + 1) % 3]
            node.proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(node.proc.wait, timeout(20)) == 0
            nodes[index] = await asyncio.to_thread(start_node, *flags, like=node)
            await asyncio.sleep(2.5)  # HAProxy sees it up again (rise 2, inter 1 s)
        await asyncio.sleep(1)
        stop_publishing.set()
        await asyncio.wait_for(publishing, timeout(10))
        expected = list(range(1, publisher.published + 1))
        with contextlib.suppress(AssertionError):  # the checks below say what is wrong
            await wait_until(lambda: all(s.got == expected for s in subscribers), within=10)
    finally:
        finished.set()
        stop_publishing.set()
        for task in following:
            task.cancel()
        await asyncio.gather(*following, return_exceptions=True)
    assert publisher.published >= RATE * 8
    assert sum(s.not_recovered for s in subscribers) == 0
    wrong = [s for s in subscribers if s.got != expected]
    assert not wrong, [(len(s.got), _differences(s.got, expected), s.nodes) for s in wrong[:3]]
    assert all(len(set(s.nodes)) >= 2 for s in subscribers)  # every one moved at least once


def _differences(got: list[int], expected: list[int]) -> dict[str, list[int]]:
    """What a subscriber got twice, missed, or got out of order (for the failure message)."""
    counts = Counter(got)
    twice = sorted(n for n, c in counts.items() if c > 1)
    missed = sorted(set(expected) - set(got))
    disorder = [a for a, b in itertools.pairwise(got) if b < a][:5]
    return {"twice": twice[:10], "missed": missed[:10], "out_of_order_after": disorder}
