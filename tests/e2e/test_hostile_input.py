"""One anonymous client trying to exhaust the server: each attack meets a bound, the
attacker gets a clear close or error code, and a bystander keeps being served."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import websockets
from structlog.testing import capture_logs
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from switchboard import App

from ..conftest import (
    StartServer,
    free_port,
    recv_json,
    timeout,
    wait_until,
    wait_until_healthy,
    ws_url,
)
from ..rawclient import RawClient

MB = 1024 * 1024


class Bystander:
    """A well-behaved client whose echoes must keep coming back during an attack."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.served = 0

    async def echo(self, label: str) -> None:
        await self.ws.send(json.dumps({"type": "echo", "data": label}))
        reply = await recv_json(self.ws)
        assert reply == {"type": "echo_reply", "data": label}
        self.served += 1


@asynccontextmanager
async def bystander(app: App) -> AsyncIterator[Bystander]:
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        yield Bystander(ws)


def frames(opcode: Opcode, payload: bytes, count: int, fin: bool = True) -> bytes:
    """``count`` masked client frames in one buffer (one write, many frames)."""
    one = Frame(opcode, payload, fin=fin).serialize(mask=True, extensions=[])
    return one * count


# --- memory ------------------------------------------------------------------------------------


async def test_ping_flood_from_a_client_that_never_reads_meets_the_send_queue_bound(
    start_server: StartServer,
) -> None:
    """3M pings from a non-reader took RSS from 80 to 650 MB: pongs bypassed the outbox."""
    app = await start_server(
        max_message_size=64 * 1024, send_queue_limit=256 * 1024, write_high_water=64 * 1024
    )
    assert app.node is not None
    async with bystander(app) as guard:
        attacker = await RawClient.connect(app.port)
        chunk = frames(Opcode.PING, b"p" * 125, 1000)
        sent = 0
        try:
            while sent < 1_000_000 and not app.node.outbox.slow_consumers:
                attacker.writer.write(chunk)
                await asyncio.wait_for(attacker.writer.drain(), timeout(5))
                sent += 1000
        except (ConnectionError, TimeoutError):
            pass
        await wait_until(lambda: app.node is not None and app.node.outbox.slow_consumers > 0)
        # Closed as a slow consumer long before the flood ended: the queue bound held.
        assert sent < 500_000
        await wait_until(lambda: len(app.node.registry) == 1, within=15)  # type: ignore[union-attr]
        assert app.node.stats.closed.get(4008) == 1
        await guard.echo("after the ping flood")
        attacker.close()


async def test_unsolicited_pongs_do_not_keep_a_client_that_never_reads_alive(
    start_server: StartServer,
) -> None:
    app = await start_server(ping_interval=0.2, ping_timeout=0.3)
    attacker = await RawClient.connect(app.port)

    async def keep_ponging() -> None:
        while True:  # "I am alive", without ever reading the pings; ends when cancelled
            attacker.send_frame(Opcode.PONG, b"")
            await asyncio.sleep(0.05)  # the pongs' pace is what is tested, not a wait

    ponging = asyncio.ensure_future(keep_ponging())
    try:
        await wait_until(lambda: app.node is not None and not app.node.registry, within=3)
    finally:
        ponging.cancel()
    assert app.node is not None and app.node.stats.closed.get(4002) == 1
    attacker.close()


async def test_pings_count_towards_the_message_rate(start_server: StartServer) -> None:
    app = await start_server(message_rate=10, flood_strikes=10)
    attacker = await RawClient.connect(app.port)
    attacker.writer.write(frames(Opcode.PING, b"x", 200))
    seen: list[Any] = []
    while True:
        frame = await asyncio.wait_for(attacker.recv_frame(), timeout(5))
        if frame.opcode is Opcode.CLOSE:
            break
        seen.append(frame.opcode if frame.opcode is not Opcode.TEXT else json.loads(frame.data))
    pongs = seen.count(Opcode.PONG)
    refused = [m for m in seen if isinstance(m, dict) and m.get("code") == "RATE_LIMIT_EXCEEDED"]
    assert pongs == 10  # the burst; the rest refused
    assert refused
    assert int.from_bytes(frame.data[:2], "big") == 1008
    attacker.close()


async def test_a_flood_of_empty_continuation_frames_closes_1009(start_server: StartServer) -> None:
    """20M empty continuations cost +163 MB and 1.7 s of loop lag: none counted as size."""
    app = await start_server()  # max_message_size 1 MiB: at most 16,384 fragments
    async with bystander(app) as guard:
        attacker = await RawClient.connect(app.port)
        attacker.send_frame(Opcode.TEXT, b"", fin=False)
        chunk = frames(Opcode.CONT, b"", 10_000, fin=False)
        sent = 0
        try:
            while sent < 1_000_000 and app.node is not None and len(app.node.registry) > 1:
                attacker.writer.write(chunk)
                await asyncio.wait_for(attacker.writer.drain(), timeout(5))
                sent += 10_000
                await guard.echo(f"fragments {sent}")
        except ConnectionError:
            pass  # the server closed and reset the rest
        await wait_until(lambda: app.node is not None and app.node.stats.closed.get(1009) == 1)
        assert sent <= 30_000
        await guard.echo("after the fragments")
        attacker.close()


async def test_history_of_channels_nobody_follows_stays_within_its_global_bound(
    start_server: StartServer,
) -> None:
    """600 x 1 MB to 600 fresh channels took RSS from 88 to 701 MB, held for the TTL."""
    app = await start_server(history_max_bytes=8 * MB, channel_create_rate=0)
    payload = "x" * (MB - 200)
    async with bystander(app) as guard, websockets.connect(ws_url(app), max_size=None) as ws:
        await recv_json(ws)
        for i in range(30):
            message = {"type": "publish", "channel": f"spam:{i}", "data": payload, "id": i}
            await ws.send(json.dumps(message))
            assert (await recv_json(ws))["type"] == "ack"
        await guard.echo("after the history spam")
    assert app.broker.history_usage() is not None
    usage = app.broker.history_usage()
    assert usage is not None and usage.bytes <= 8 * MB
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{app.admin_port}/metrics")).text
    evicted = next(
        line
        for line in metrics.splitlines()
        if line.startswith("switchboard_history_evicted_total")
    )
    assert float(evicted.split()[-1]) >= 22
    assert "switchboard_history_limit_bytes 8.388608e+06" in metrics


async def test_channels_one_connection_may_create_per_second_are_bounded(
    start_server: StartServer,
) -> None:
    app = await start_server(channel_create_rate=0.1, channel_create_burst=5)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        replies = []
        for i in range(10):
            await ws.send(
                json.dumps({"type": "publish", "channel": f"new:{i}", "data": i, "id": i})
            )
            replies.append(await recv_json(ws))
        assert [r.get("code", r["type"]) for r in replies] == ["ack"] * 5 + [
            "RATE_LIMIT_EXCEEDED"
        ] * 5
        # A channel that exists is still open to it; subscribing to a new one is not.
        await ws.send(json.dumps({"type": "publish", "channel": "new:0", "data": 0, "id": "again"}))
        assert (await recv_json(ws))["type"] == "ack"
        await ws.send(json.dumps({"type": "subscribe", "channel": "fresh", "id": "s"}))
        assert (await recv_json(ws))["code"] == "RATE_LIMIT_EXCEEDED"
    assert app.node is not None and app.node.stats.rate_limited["channel_create"] == 6


# --- the event loop ------------------------------------------------------------------------------


@pytest.mark.parametrize("subprotocol", ["v1.json", "v1.binary"])
async def test_deeply_nested_data_gets_an_error_frame_and_the_connection_stays(
    start_server: StartServer, subprotocol: str
) -> None:
    """1,000 levels of [[[...]]] closed the connection 1011 with an error-level traceback."""
    app = await start_server()
    deep = "[" * 1000 + "]" * 1000
    async with websockets.connect(ws_url(app), subprotocols=[subprotocol]) as ws:  # type: ignore[list-item]
        await ws.recv()
        with capture_logs() as logs:
            if subprotocol == "v1.json":
                await ws.send('{"type":"echo","data":' + deep + "}")
                reply = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
            else:
                nested = b"\x91" * 1000 + b"\x90"  # fixarray of one, 1,000 deep
                await ws.send(b"\x82\xa4type\xa4echo\xa4data" + nested)
                reply = msgspec.msgpack.decode(await asyncio.wait_for(ws.recv(), timeout(5)))
            assert reply["type"] == "error" and reply["code"] == "INVALID_MESSAGE_FORMAT"
            # Still open and served.
            if subprotocol == "v1.json":
                await ws.send('{"type":"echo","data":"still here"}')
                assert json.loads(await ws.recv())["data"] == "still here"
            else:
                await ws.send(msgspec.msgpack.encode({"type": "echo", "data": "still here"}))
                assert msgspec.msgpack.decode(await ws.recv())["data"] == "still here"
    assert not [r for r in logs if r["log_level"] in ("error", "critical")]
    assert any(r["event"] == "message_too_deep" and r["log_level"] == "info" for r in logs)


async def test_sending_just_over_the_rate_is_closed_as_a_flood(start_server: StartServer) -> None:
    """400 msg/s against --message-rate 10 was refused 3,831 times in 10 s and never closed:
    every refilled token reset the count of refusals in a row."""
    app = await start_server(message_rate=10)  # flood_strikes 50 within 10 s
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)

        async def drain() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for _ in ws:
                    pass

        reader = asyncio.ensure_future(drain())
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() - started < timeout(10):
                await ws.send('{"type":"echo","data":1}')
                await asyncio.sleep(1 / 400)  # the pace under test (400/s), not a wait
        await reader
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert time.monotonic() - started < timeout(5)


async def test_a_ping_round_is_spread_over_the_interval(start_server: StartServer) -> None:
    """20,000 connections pinged in one go held the loop 256-343 ms; chunks of 256 spread
    over the interval cost a bystander a few milliseconds each."""
    app = await start_server(ping_interval=1.0, ping_timeout=5)
    clients = [await RawClient.connect(app.port) for _ in range(1024)]
    arrivals: list[float] = []

    async def first_ping(client: RawClient) -> None:
        while True:
            frame = await client.recv_frame()
            if frame.opcode is Opcode.PING:
                arrivals.append(time.monotonic())
                client.send_frame(Opcode.PONG, frame.data)
                return

    try:
        await asyncio.wait_for(asyncio.gather(*(first_ping(c) for c in clients)), timeout(10))
    finally:
        for client in clients:
            client.close()
    arrivals.sort()
    assert len(arrivals) == 1024
    # Four chunks, about a quarter of the interval apart: the last a good while after the first.
    assert arrivals[-1] - arrivals[0] >= 0.5
    assert arrivals[255] - arrivals[0] < 0.2


async def test_forbidden_subscribes_are_audited_once_per_interval(
    start_server: StartServer,
) -> None:
    """100,000 forbidden subscribes wrote 99,000 audit lines (32 MB in 5 s)."""
    namespaces = {"secret": {"subscribe_roles": ["admin"]}}
    app = await start_server(namespaces=namespaces)
    with capture_logs() as logs:
        async with websockets.connect(ws_url(app)) as ws:
            await recv_json(ws)
            for i in range(2000):
                await ws.send(json.dumps({"type": "subscribe", "channel": f"secret:{i}"}))
            codes = [(await recv_json(ws))["code"] for _ in range(2000)]
    assert set(codes) == {"FORBIDDEN"}
    audited = [r for r in logs if r["event"] == "authorization_failed"]
    assert len(audited) == 1


# --- file descriptors ----------------------------------------------------------------------------


def _limit_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (400, 400))


async def _status(port: int, path: str = "/ws") -> int:
    try:
        client = await asyncio.wait_for(RawClient.connect(port, path), timeout(5))
    except (ConnectionError, asyncio.IncompleteReadError):
        return 0
    client.close()
    return client.status


async def test_at_the_open_file_limit_handshakes_get_503_and_probes_answer(
    tmp_path: Path,
) -> None:
    """At the fd limit handshakes were dropped unanswered, /health went silent on both ports
    and nothing was logged: max_connections (100,000) was above RLIMIT_NOFILE."""
    port, admin = free_port(), free_port()
    cmd = [sys.executable, "-m", "switchboard", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--admin-port", str(admin), "--ping-interval", "0"]
    cmd += ["--fd-reserve", "256"]
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(  # noqa: ASYNC220  # started once; the test awaits nothing yet
            cmd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_limit_open_files,
        )
    held: list[RawClient] = []
    try:
        wait_until_healthy(port, proc, timeout(15))
        capacity = 400 - 256  # RLIMIT_NOFILE minus the default fd_reserve
        for _ in range(capacity):
            client = await RawClient.connect(port)
            assert client.status == 101
            held.append(client)
        assert [await _status(port) for _ in range(20)] == [503] * 20
        async with httpx.AsyncClient() as http:
            for url in (f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{admin}/health"):
                assert (await http.get(url, timeout=timeout(5))).status_code == 200
            metrics = (await http.get(f"http://127.0.0.1:{admin}/metrics")).text
        assert f"switchboard_connections_max {float(capacity)}" in metrics
        assert 'switchboard_handshake_rejections_total{reason="max_connections"} 20.0' in metrics
        held.pop().close()  # a freed slot is usable again
        deadline = time.monotonic() + timeout(5)
        while await _status(port) != 101:
            assert time.monotonic() < deadline
    finally:
        for client in held:
            client.close()
        proc.kill()
        proc.wait(timeout(10))
    lines = log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    started = next(r for r in records if r["event"] == "server_started")
    assert (started["max_connections"], started["open_file_limit"]) == (capacity, 400)
    full = [r for r in records if r["event"] == "Maximum connection limit reached"]
    assert len(full) == 1  # one line per warn_interval, not one per refusal


async def test_handshakes_in_flight_are_bounded(start_server: StartServer) -> None:
    """Sockets that connect and say nothing hold a descriptor each until the handshake
    timeout: past a quarter of fd_reserve a new one is answered 503 at once."""
    app = await start_server(fd_reserve=64, handshake_timeout=30)  # 16 handshakes at most
    async with bystander(app) as guard:  # an open connection is not a handshake
        silent = [await asyncio.open_connection("127.0.0.1", app.port) for _ in range(16)]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
            answer = await asyncio.wait_for(reader.read(), timeout(5))
            writer.close()
            assert answer.startswith(b"HTTP/1.1 503")
            assert b"too many handshakes in progress" in answer
            await guard.echo("while handshakes are held")
        finally:
            for _, writer in silent:
                writer.close()
    assert app.node is not None and app.node.stats.handshake_rejected["handshakes"] == 1
    deadline = time.monotonic() + timeout(5)
    while await _status(app.port) != 101:  # the slots come back once the sockets close
        assert time.monotonic() < deadline


async def test_a_banned_address_reconnecting_logs_one_line_per_interval(
    start_server: StartServer,
) -> None:
    """A banned address wrote one log line per attempt (1,981 in 0.3 s)."""
    app = await start_server(connection_rate_per_address=1, ban_after=3)
    with capture_logs() as logs:
        statuses = [await _status(app.port) for _ in range(300)]
    assert statuses[0] == 101 and set(statuses[1:]) == {429}
    assert app.node is not None and app.node.stats.handshake_rejected["banned"] >= 290
    rejected = [r for r in logs if r["event"] == "handshake_rejected"]
    assert len(rejected) == 1
    assert [r["event"] for r in logs].count("address_banned") == 1
