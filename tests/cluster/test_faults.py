"""Faults of a real cluster: a node SIGKILLed, Redis paused (SIGSTOP), Redis restarted empty.
Every message a client should have got is counted."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx

from ..conftest import timeout
from ..security.keys import SECRET
from .conftest import RedisProcess, StartNode
from .test_cluster import connect, frames, nothing_more, publish_all, request

AUTH = ("--jwt-secret", SECRET)


async def ready_body(port: int) -> dict[str, str]:
    async with httpx.AsyncClient(timeout=timeout(5)) as http:
        answer = await http.get(f"http://127.0.0.1:{port}/ready")
    assert answer.status_code == 200
    return dict(answer.json())


async def test_after_a_node_is_killed_its_clients_resume_elsewhere_and_it_drops_out(
    start_node: StartNode,
) -> None:
    a, b = start_node(*AUTH), start_node(*AUTH)
    publisher, _ = await connect(a, "pub")
    subscriber, _ = await connect(b, "ann")
    ack = await request(subscriber, type="subscribe", channel="room:1", id="s")
    await publish_all(publisher, "room:1", range(1, 4))
    last = (await frames(subscriber, 3, "message"))[-1]
    b.proc.kill()  # SIGKILL: no drain, no leaving the registry
    b.proc.wait(timeout(5))
    await publish_all(publisher, "room:1", range(4, 24))
    back, _ = await connect(a, "ann")
    since = {"offset": last["offset"], "epoch": ack["epoch"]}
    resumed = await request(back, type="subscribe", channel="room:1", id="r", recover_from=since)
    assert resumed["recovered"] is True
    assert [m["data"] for m in await frames(back, 20, "message")] == list(range(4, 24))
    await back.close()  # now only the dead node held a connection of ann
    # Its entries outlive it by the registry TTL (2 s here), no longer.
    deadline = time.monotonic() + timeout(2 + 2)
    while True:
        answer = await request(publisher, type="send", to={"user": "ann"}, data=1, id="d")
        if answer.get("code") == "NOT_FOUND":
            break
        assert time.monotonic() < deadline, f"ann still reachable on a dead node: {answer}"
        await asyncio.sleep(0.2)  # the poll interval
    await publisher.close()


async def test_while_redis_is_paused_publishes_fail_clearly_and_nothing_accepted_is_lost(
    start_node: StartNode, redis_server: RedisProcess
) -> None:
    a, b = start_node("--broker-timeout", "1"), start_node("--broker-timeout", "1")
    publisher, _ = await connect(a)
    subscriber, _ = await connect(b)
    await request(subscriber, type="subscribe", channel="room:1", id="s")
    await request(publisher, type="publish", channel="room:1", data=0, id="p0")
    assert [m["data"] for m in await frames(subscriber, 1, "message")] == [0]
    redis_server.pause()
    try:
        started = time.monotonic()
        failed = await request(
            publisher, within=10, type="publish", channel="room:1", data="x", id="px"
        )
        assert failed["type"] == "error" and failed["code"] == "UNAVAILABLE"
        assert time.monotonic() - started < timeout(5)  # the 1 s broker timeout, not a hang
        # Paused past the timeout: the refused publish stays refused when Redis resumes.
        await asyncio.sleep(timeout(2))
        echo = await request(publisher, type="echo", data="still here", id="e")
        assert echo["data"] == "still here"  # the node serves its own connections
        assert (await ready_body(a.port))["status"] == "degraded"
    finally:
        redis_server.resume()
    await publish_all(publisher, "room:1", range(1, 11))
    assert [m["data"] for m in await frames(subscriber, 10, "message")] == list(range(1, 11))
    assert await nothing_more(subscriber, "message")  # the refused one never arrives
    assert (await ready_body(a.port))["status"] == "ready"
    for ws in (publisher, subscriber):
        await ws.close()


async def test_after_redis_restarts_empty_nodes_rejoin_and_resuming_clients_are_told(
    start_node: StartNode, redis_server: RedisProcess
) -> None:
    a, b = start_node(*AUTH), start_node(*AUTH)
    publisher, _ = await connect(a, "pub")
    subscriber, _ = await connect(b, "ann")
    ack = await request(subscriber, type="subscribe", channel="room:1", id="s")
    await request(publisher, type="publish", channel="room:1", data=1, id="p1")
    first = (await frames(subscriber, 1, "message"))[0]
    redis_server.kill()
    redis_server.start()  # same port, nothing in it
    # The nodes reconnect, subscribe again and write their registry entries again.
    deadline = time.monotonic() + timeout(10)
    while True:
        answer = await request(publisher, type="send", to={"user": "ann"}, data="hi", id="d")
        if answer["type"] == "ack":
            break
        assert time.monotonic() < deadline, f"the cluster did not come back: {answer}"
        await asyncio.sleep(0.2)  # the poll interval
    assert (await frames(subscriber, 1, "direct"))[0]["data"] == "hi"
    published = await request(publisher, type="publish", channel="room:1", data=2, id="p2")
    assert published["type"] == "ack" and published["offset"] == 1  # a new stream
    assert published["epoch"] != ack["epoch"]
    assert [m["data"] for m in await frames(subscriber, 1, "message")] == [2]
    late, _ = await connect(a, "cy")
    since = {"offset": first["offset"], "epoch": ack["epoch"]}
    resumed = await request(late, type="subscribe", channel="room:1", id="r", recover_from=since)
    assert resumed["recovered"] is False  # not a silent gap
    assert resumed["epoch"] == published["epoch"]
    for ws in (publisher, subscriber, late):
        await ws.close()


def test_a_node_refuses_to_start_without_its_redis(redis_server: RedisProcess) -> None:
    redis_server.kill()
    broker = f"redis://:pw-secret@127.0.0.1:{redis_server.port}/0"
    started = subprocess.run(
        [sys.executable, "-m", "switchboard", "serve", "--port", "0", "--broker", broker],
        capture_output=True,
        text=True,
        timeout=timeout(30),
    )
    assert started.returncode != 0
    output = started.stdout + started.stderr
    assert "pw-secret" not in output
    assert "redis" in output.lower()
