"""The dashboard and the demo client in a real browser (Debian's Chromium via Playwright).

The demo talks the wire protocol to the WebSocket port (through the JavaScript client); the
dashboard follows the server's ``/dashboard/stream`` and must show that connection and its
channel, then see it go. The newer pages and panels are ``test_dashboard.py``'s. Its
Nodes table polls ``/api/v1/nodes``: this node alone, two nodes over Redis, a silent Redis.
``/docs`` renders with every request beyond loopback refused (its assets are the package's).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Error,
    Locator,
    Page,
    Route,
    async_playwright,
    expect,
)

from switchboard import App

from ..conftest import RedisProcess, StartServer, timeout

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEY = "dashboard-test-key-0123"


def ms(seconds: float) -> float:
    """A scaled wait in Playwright's unit (milliseconds)."""
    return timeout(seconds) * 1000


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium: make test does it")


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert len(data) > len(PNG_SIGNATURE), f"{path} is empty"
    assert data.startswith(PNG_SIGNATURE), f"{path} is not a PNG"


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=ms(30),
        )
        try:
            yield browser
        finally:
            await browser.close()


async def open_page(browser: Browser, errors: list[str], name: str) -> Page:
    """A new page whose console errors and uncaught exceptions land in ``errors``."""
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(ms(10))

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            where = msg.location.get("url", "")
            errors.append(f"{name}: console error: {msg.text} ({where})")

    def on_page_error(error: Error) -> None:
        errors.append(f"{name}: page error: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    return page


async def screenshot(page: Page, filename: str) -> Path:
    path = ARTIFACTS / filename
    # Playwright creates the directory; the check reads a few KB once.
    await page.screenshot(path=str(path), full_page=True, timeout=ms(10))
    check_png(path)
    return path


async def open_dashboard(browser: Browser, errors: list[str], app: App) -> Page:
    """The dashboard of ``app`` (whose key is ``KEY``), its stream live."""
    page = await open_page(browser, errors, "dashboard")
    await page.goto(f"http://127.0.0.1:{app.admin_port}/dashboard?key={KEY}", timeout=ms(10))
    await expect(page.locator("#status")).to_have_text("live", timeout=ms(10))
    return page


def node_row(page: Page, node_id: str) -> Locator:
    return page.locator(f'#nodes tr[data-node="{node_id}"]')


async def test_dashboard_follows_the_demo_client(start_server: StartServer) -> None:
    app = await start_server(api_key=KEY, max_connections=50)
    admin = f"http://127.0.0.1:{app.admin_port}"
    channel = "browser-test:room"
    errors: list[str] = []
    async with chromium() as browser:
        # 1. The dashboard connects to the stream and shows an idle server, alone in Nodes.
        dashboard = await open_dashboard(browser, errors, app)
        connections = dashboard.locator("#connections")
        await expect(connections).to_have_text("0", timeout=ms(10))
        for chart in ("connections", "churn", "messages", "latency", "memory", "cpu", "refusals"):
            await expect(dashboard.locator(f"#chart-{chart} canvas")).to_be_visible()
        node = node_row(dashboard, app.settings.node_id)
        await expect(node).to_have_count(1, timeout=ms(10))
        await expect(dashboard.locator("#nodes tr")).to_have_count(1)
        await expect(node).to_have_class("self")
        await expect(node.locator(".tag")).to_have_text("this node")
        await expect(node.locator("td.state")).to_have_text("ready")
        node_connections = node.locator("td.connections")
        await expect(node_connections).to_have_text("0 / 50")

        # 2. The demo client connects to the WebSocket port and exchanges frames.
        demo = await open_page(browser, errors, "demo")
        await demo.goto(f"{admin}/demo", timeout=ms(10))
        await expect(demo.locator("#ws-status")).to_have_text("connected", timeout=ms(10))
        await expect(demo.locator("#ws-url")).to_have_text(
            f"ws://127.0.0.1:{app.port}{app.settings.path}"
        )
        await expect(demo.locator("#connection-id")).to_have_text(re.compile(r"^[^\s\u2013]+$"))
        await expect(demo.locator('.frame[data-type="welcome"]')).to_have_count(1)

        await demo.locator("#echo-input").fill("hello from chromium")
        await demo.locator("#echo-send").click()
        await expect(demo.locator('.frame[data-type="echo_reply"]')).to_contain_text(
            "hello from chromium", timeout=ms(5)
        )

        await demo.locator("#channel-input").fill(channel)
        await demo.locator("#subscribe-send").click()
        await demo.locator("#publish-input").fill('{"text": "published from chromium"}')
        await demo.locator("#publish-send").click()
        message = demo.locator('.frame[data-type="message"]')
        await expect(message).to_contain_text("published from chromium", timeout=ms(5))
        await expect(message).to_contain_text(channel)

        await demo.locator("#broadcast-input").fill('{"text": "broadcast from chromium"}')
        await demo.locator("#broadcast-send").click()
        await expect(demo.locator('.frame[data-type="broadcast"]')).to_contain_text(
            "broadcast from chromium", timeout=ms(5)
        )
        await expect(demo.locator('.frame[data-type="error"]')).to_have_count(0)

        # 3. The dashboard sees the demo's connection and channel, then sees them go.
        await expect(connections).to_have_text("1", timeout=ms(5))
        row = dashboard.locator("#channels tr").filter(has_text=channel)
        await expect(row).to_have_count(1, timeout=ms(5))
        await expect(row.locator("td").first).to_have_text(channel)
        await expect(row.locator("td.num")).to_have_text("1")
        await expect(node_connections).to_have_text("1 / 50", timeout=ms(10))
        await expect(node.locator("td.state")).to_have_text("ready")
        await expect(dashboard.locator("#status")).to_have_text("live")

        await screenshot(dashboard, "dashboard.png")
        await screenshot(demo, "demo.png")

        await demo.close()
        await expect(connections).to_have_text("0", timeout=ms(5))
        await expect(row).to_have_count(0, timeout=ms(5))
        await expect(node_connections).to_have_text("0 / 50", timeout=ms(10))
        await expect(dashboard.locator("#status")).to_have_text("live")
        await dashboard.close()

    # 4. Neither page logged an error or threw.
    assert errors == []


async def test_the_nodes_table_lists_both_nodes_over_redis(
    start_server: StartServer, redis_url: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    shared = {"api_key": KEY, "broker": redis_url, "broker_prefix": prefix}
    first = await start_server(node_id="browser-node-a", **shared)
    await start_server(node_id="browser-node-b", **shared)
    errors: list[str] = []
    async with chromium() as browser:
        page = await open_dashboard(browser, errors, first)
        rows = page.locator("#nodes tr")
        await expect(rows).to_have_count(2, timeout=ms(10))
        await expect(rows.first).to_have_attribute("data-node", "browser-node-a")  # sorted
        await expect(node_row(page, "browser-node-a")).to_have_class("self")
        other = node_row(page, "browser-node-b")
        await expect(other).not_to_have_class("self")
        await expect(other.locator(".tag")).to_have_count(0)
        await expect(other.locator("td.state")).to_have_text("ready")
        await page.close()
    assert errors == []


async def test_the_nodes_table_says_when_redis_does_not_answer(start_server: StartServer) -> None:
    redis = RedisProcess()  # its own, to pause
    try:
        prefix = f"t{uuid.uuid4().hex[:12]}:"
        app = await start_server(
            api_key=KEY, broker=redis.url, broker_prefix=prefix, broker_timeout=0.5
        )
        errors: list[str] = []
        async with chromium() as browser:
            page = await open_dashboard(browser, errors, app)
            node = node_row(page, app.settings.node_id)
            await expect(node).to_have_count(1, timeout=ms(10))
            redis.pause()  # up, but silent
            try:
                problem = page.locator("#nodes tr.error")
                await expect(problem).to_contain_text("HTTP 503", timeout=ms(10))
                await expect(problem).to_contain_text("broker unavailable")
                await expect(page.locator("#nodes tr")).to_have_count(1)  # no stale rows
                await expect(page.locator("#status")).to_have_text("live")
                await screenshot(page, "dashboard-nodes-unavailable.png")
            finally:
                redis.resume()
            await expect(node.locator("td.state")).to_have_text("ready", timeout=ms(10))
            await page.close()
        await app.shutdown()  # while its Redis is still there
    finally:
        redis.kill()
    # The browser logs each 503 it gets; nothing else may complain.
    refused = "the server responded with a status of 503"
    assert [e for e in errors if refused not in e or "/api/v1/nodes" not in e] == []


async def test_dashboard_without_key_asks_for_it(start_server: StartServer) -> None:
    app = await start_server(api_key=KEY)
    errors: list[str] = []
    async with chromium() as browser:
        page = await open_page(browser, errors, "dashboard")
        await page.goto(f"http://127.0.0.1:{app.admin_port}/dashboard", timeout=ms(10))
        form = page.locator("#key-form")
        await expect(form).to_be_visible(timeout=ms(10))
        await expect(page.locator("#key-message")).to_contain_text("needs its API key")
        await expect(page.locator("#status")).to_have_text("key needed")
        await expect(page.locator("#connections")).to_have_text("\u2013")
        await screenshot(page, "dashboard-key-form.png")
        await page.close()
    # The config says a key is needed, so the page asks before it requests anything refused.
    assert errors == []


async def test_docs_render_with_no_network_beyond_loopback(start_server: StartServer) -> None:
    app = await start_server(api_key=KEY)
    errors: list[str] = []
    outside: list[str] = []

    async def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort("internetdisconnected")

    async with chromium() as browser:
        page = await open_page(browser, errors, "docs")
        await page.route("**/*", loopback_only)
        await page.goto(f"http://127.0.0.1:{app.admin_port}/docs", timeout=ms(10))
        title = page.locator(".swagger-ui .info .title")
        await expect(title).to_contain_text("Switchboard control plane", timeout=ms(10))
        publish = page.locator(".opblock-summary-path", has_text="/api/v1/channels/{channel}")
        await expect(publish.first).to_be_visible()
        await screenshot(page, "docs-offline.png")
        await page.close()
    assert outside == [], "the page asked for more than the control plane"
    assert errors == []


#: Pixels of the churn chart in each series' colour, after both are given the same values.
COUNT_SERIES_PIXELS = """
(box) => {
  const chart = box.chart;
  const end = Date.now() / 1000;
  const times = Array.from({ length: 60 }, (_, i) => end - 59 + i);
  const same = times.map(() => 3);
  chart.setData(times, [same, same]);  // connects == disconnects, as at rest; drawn at once
  const canvas = box.querySelector("canvas");
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  const css = getComputedStyle(document.documentElement);
  const rgb = (hex) => [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
  return ["--series-1", "--series-2"].map((name) => {
    const [r, g, b] = rgb(css.getPropertyValue(name).trim());
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      const near = Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b);
      if (near < 24 && data[i + 3] > 200) count++;
    }
    return count;
  });
}
"""


async def test_the_charts_span_dashboard_history_and_show_both_churn_lines(
    start_server: StartServer,
) -> None:
    app = await start_server(api_key=KEY, dashboard_history=60)
    errors: list[str] = []
    async with chromium() as browser:
        page = await open_dashboard(browser, errors, app)
        spans = await page.eval_on_selector_all(
            ".plot", "(boxes) => boxes.map((box) => box.chart.rangeSeconds)"
        )
        assert spans == [60] * 7
        # No choice shorter than the history: the one button is all of it.
        await expect(page.locator("#range button")).to_have_text(["all 1 min"])
        await expect(page.locator("#window-note")).to_have_text(
            "Last 1 minute of 1 minute kept, one sample per second."
        )
        connects, disconnects = await page.eval_on_selector("#chart-churn", COUNT_SERIES_PIXELS)
        assert connects > 100 and disconnects > 100, (connects, disconnects)
        await screenshot(page, "dashboard-churn-equal.png")
        await page.close()
    assert errors == []
