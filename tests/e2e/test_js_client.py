"""``clients/js/switchboard.js`` against real servers: in Node (with the ``ws`` package) and
in headless Chromium, and across a restart of the node it is connected to, with nothing lost
(the node runs on Redis, so the channel's history outlives the process); and the
subscriptions the server makes for it, in Node: their messages, their end, their resume."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from switchboard import App

from ..client.gating import Gate
from ..cluster.conftest import API_KEY, StartNode
from ..conftest import StartServer, timeout, ws_url

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "node" / "js_client.mjs"
SUBSCRIPTIONS = ROOT / "tests" / "client" / "js_subscriptions.mjs"
MODULE = (ROOT / "clients" / "js" / "switchboard.js").read_text()


def node_binary() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("node is not installed (make test needs it for Node's ws)")
    return found


async def test_the_module_works_in_node(start_server: StartServer) -> None:
    app = await start_server()
    run = await asyncio.create_subprocess_exec(
        node_binary(), str(SCRIPT), "basic", ws_url(app), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(run.communicate(), timeout(20))
    assert run.returncode == 0
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["echoed"] == {"hi": [1, 2]}
    assert result["offset"] == 1
    assert result["got"] == [[1, {"n": 1}]]
    assert result["code"] == "INVALID_MESSAGE_FORMAT"


async def test_a_restart_of_its_node_loses_nothing(start_node: StartNode, tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text("[channel_defaults]\nhistory_size = 2000\n")
    flags = ("--config", str(config), "--drain-timeout", "3")
    restarting, publishing = start_node(*flags), start_node(*flags)
    follower = await asyncio.create_subprocess_exec(
        node_binary(), str(SCRIPT), "follow", restarting.url(), "600",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert follower.stdout is not None
    lines: list[str] = []
    try:
        while (line := (await follower.stdout.readline()).decode().strip()) != "SUBSCRIBED":
            assert line, "the client ended before it subscribed"
        port = publishing.admin_port  # type: ignore[attr-defined]
        url = f"http://127.0.0.1:{port}/api/v1/channels/feed:1/publish"
        async with httpx.AsyncClient(headers={"X-API-Key": API_KEY}) as admin:

            async def publish(values: range) -> None:
                for n in values:
                    assert (await admin.post(url, json={"data": n})).status_code == 200
                    await asyncio.sleep(0.005)

            await publish(range(1, 101))
            restarting.proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(restarting.proc.wait, timeout(15)) == 0
            back = asyncio.create_task(asyncio.to_thread(start_node, *flags, like=restarting))
            await publish(range(101, 601))  # while it is away and after it is back
            await back
        out, _ = await asyncio.wait_for(follower.communicate(), timeout(30))
        lines = out.decode().split("\n")
    finally:
        if follower.returncode is None:
            follower.kill()
    got = [int(line[2:]) for line in lines if line.startswith("M ")]
    assert "U" not in lines  # recovered every time
    assert got[-1] == 600 and sorted(got) == got and len(set(got)) == len(got)
    done = next(line for line in lines if line.startswith("DONE "))
    assert int(done.split()[1]) >= 2  # it did reconnect


async def test_the_module_works_in_chromium(start_server: StartServer) -> None:
    from ..admin.test_browser import chromium, ms, open_page

    app = await start_server()
    html = f"""<!doctype html><link rel="icon" href="data:,"><script type="module">
      import {{ Client }} from "./switchboard.js";
      const client = new Client({json.dumps(ws_url(app))});
      await client.connect();
      const got = [];
      await client.subscribe("room:1", (m) => got.push(m.data));
      const ack = await client.publish("room:1", {{ "from": "browser" }});
      while (got.length < 1) await new Promise((r) => setTimeout(r, 10));
      window.result = {{ echoed: await client.echo("hi"), offset: ack.offset, got }};
    </script>"""

    # The page and the module from a server on loopback, as an application would serve them
    # (Chromium lets only such a page reach a loopback WebSocket).
    async def page(_: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    async def module(_: web.Request) -> web.Response:
        return web.Response(text=MODULE, content_type="text/javascript")

    site = web.Application()
    site.router.add_get("/page.html", page)
    site.router.add_get("/switchboard.js", module)
    runner = web.AppRunner(site)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    port = runner.addresses[0][1]
    errors: list[str] = []
    try:
        async with chromium() as browser:
            tab = await open_page(browser, errors, "client")
            await tab.goto(f"http://127.0.0.1:{port}/page.html")
            await tab.wait_for_function("window.result !== undefined", timeout=ms(10))
            result = await tab.evaluate("window.result")
    finally:
        await runner.cleanup()
    assert errors == []
    assert result == {"echoed": "hi", "offset": 1, "got": [{"from": "browser"}]}


class NodeClient:
    """``js_subscriptions.mjs`` running: its events as they come, and commands to it."""

    def __init__(self, run: asyncio.subprocess.Process) -> None:
        self.run = run
        self.events: list[dict[str, Any]] = []

    async def expect(self, event: str, where: Callable[[dict[str, Any]], bool] = bool) -> Any:
        """The next event of that kind that ``where`` accepts (the others are kept)."""
        assert self.run.stdout is not None
        while True:
            line = await asyncio.wait_for(self.run.stdout.readline(), timeout(10))
            assert line, f"the client ended; it said: {self.events}"
            self.events.append(json.loads(line))
            if self.events[-1]["e"] == event and where(self.events[-1]):
                return self.events[-1]

    async def command(self, line: str) -> None:
        assert self.run.stdin is not None
        self.run.stdin.write(f"{line}\n".encode())
        await self.run.stdin.drain()

    async def round_trip(self) -> None:
        """Whatever the server sent before now has been handled once this returns."""
        await self.command("echo sync")
        await self.expect("echo")

    def got(self, channel: str) -> list[tuple[int, Any]]:
        return [
            (e["offset"], e["data"])
            for e in self.events
            if e["e"] == "message" and e["channel"] == channel
        ]


@asynccontextmanager
async def node_client(app: App) -> AsyncIterator[NodeClient]:
    run = await asyncio.create_subprocess_exec(
        node_binary(), str(SUBSCRIPTIONS), ws_url(app),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield NodeClient(run)
        await NodeClient(run).command("close")
        assert await asyncio.wait_for(run.wait(), timeout(10)) == 0
    finally:
        if run.returncode is None:
            run.kill()
            await run.wait()


async def test_in_node_a_server_made_subscription_delivers_resumes_and_ends(
    start_server: StartServer,
) -> None:
    app = App()
    gate = Gate(app)
    await start_server(app)
    async with node_client(app) as client:
        conn = (await client.expect("welcome"))["connection_id"]
        await app.subscribe("feed:1", connection=conn)
        made = await client.expect("subscribed")
        assert made == {"e": "subscribed", "channel": "feed:1", "offset": 0, "server": True}
        for n in (1, 2):
            await app.publish("feed:1", n)
        await client.round_trip()
        assert client.got("feed:1") == []  # kept until it has an onMessage
        await client.command("attach feed:1")
        await client.round_trip()
        assert client.got("feed:1") == [(1, 1), (2, 2)]

        await gate.reconnect(conn)
        for n in range(3, 6):  # while it is away: the server forgot its subscription
            await app.publish("feed:1", n)
        gate.open.set()
        conn = (await client.expect("welcome", lambda e: e["n"] == 2))["connection_id"]
        await app.publish("feed:1", 6)
        await client.expect("message", lambda e: e["offset"] == 6)
        assert client.got("feed:1") == [(n, n) for n in range(1, 7)]

        await app.unsubscribe("feed:1", connection=conn)
        ended = await client.expect("unsubscribed")
        assert ended == {
            "e": "unsubscribed", "channel": "feed:1", "active": False,
            "reason": "unsubscribed", "known": False,
        }  # fmt: skip
        await app.publish("feed:1", 7)
        await client.round_trip()
    assert client.got("feed:1") == [(n, n) for n in range(1, 7)]
    assert [e["e"] for e in client.events].count("subscribed") == 1
    assert "unrecovered" not in [e["e"] for e in client.events]


async def test_in_node_a_server_that_subscribes_again_on_connect_makes_no_second_one(
    start_server: StartServer,
) -> None:
    app = App()
    gate = Gate(app, resubscribe="feed:1")
    await start_server(app)
    async with node_client(app) as client:
        conn = (await client.expect("welcome"))["connection_id"]
        await client.expect("subscribed")
        await client.command("attach feed:1")
        await app.publish("feed:1", 1)
        await client.expect("message")
        # Publications while it is away: the server's new subscription starts past the
        # client's position, and the client fills the gap.
        await gate.reconnect(conn)
        for n in range(2, 5):
            await app.publish("feed:1", n)
        gate.open.set()
        conn = (await client.expect("welcome", lambda e: e["n"] == 2))["connection_id"]
        await app.publish("feed:1", 5)
        await client.expect("message", lambda e: e["offset"] == 5)
        # Nothing while it is away: the server's subscription starts where the client is.
        await gate.reconnect(conn)
        gate.open.set()
        await client.expect("welcome", lambda e: e["n"] == 3)
        await app.publish("feed:1", 6)
        await client.expect("message", lambda e: e["offset"] == 6)
        await client.round_trip()  # a second copy of anything would be here by now
    assert client.got("feed:1") == [(n, n) for n in range(1, 7)]
    kinds = [e["e"] for e in client.events]
    assert kinds.count("subscribed") == 1 and "unrecovered" not in kinds
