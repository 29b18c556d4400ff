"""The dashboard's pages in a real browser (Debian's Chromium via Playwright), against real
servers and real WebSocket clients: the uPlot charts (hover values, the time range), the
errors and refusals panel, the API key form, the connections page and its actions, and the
demo on the JavaScript client, resuming its subscription after a reconnect."""

from __future__ import annotations

import json
import re

import httpx
import pytest
import websockets
from playwright.async_api import Dialog, Page, Request, expect

from switchboard import App

from ..conftest import StartServer, recv_json, timeout, ws_url
from .test_browser import KEY, chromium, ms, open_dashboard, open_page, screenshot

CHARTS = ("connections", "churn", "messages", "latency", "memory", "cpu", "refusals")
#: The browser logs each 401 it gets: the only console errors a wrong key may cause.
REFUSED = "the server responded with a status of 401"


def dashboard_url(app: App, path: str = "/dashboard") -> str:
    return f"http://127.0.0.1:{app.admin_port}{path}"


async def x_span(page: Page, chart: str) -> float:
    """Seconds the chart's x axis spans now."""
    span: float = await page.eval_on_selector(
        f"#chart-{chart}", "(box) => box.chart.plot.scales.x.max - box.chart.plot.scales.x.min"
    )
    return span


async def test_the_charts_show_values_under_the_cursor_and_a_time_range(
    start_server: StartServer,
) -> None:
    app = await start_server(api_key=KEY, dashboard_history=600)
    errors: list[str] = []
    async with chromium() as browser:
        page = await open_dashboard(browser, errors, app)
        for chart in CHARTS:
            await expect(page.locator(f"#chart-{chart} canvas")).to_have_count(1)
        # Two samples at least, so the connections line has points to hover.
        await page.wait_for_function(
            "document.getElementById('chart-connections').chart.plot.data[0].length >= 2",
            timeout=ms(10),
        )
        value = page.locator("#chart-connections .u-legend .u-series").nth(1).locator(".u-value")
        over = page.locator("#chart-connections .u-over")
        box = await over.bounding_box()
        assert box is not None
        # The newest samples are at the right edge of the window.
        await page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
        await expect(value).to_have_text("0", timeout=ms(5))
        await page.mouse.move(0, 0)  # off the chart: the legend no longer shows a value
        await expect(value).not_to_have_text("0")

        buttons = page.locator("#range button")
        await expect(buttons).to_have_text(["1 min", "5 min", "all 10 min"])
        await expect(buttons.nth(2)).to_have_attribute("aria-pressed", "true")
        assert await x_span(page, "cpu") == 600
        await buttons.nth(0).click()
        await expect(buttons.nth(0)).to_have_attribute("aria-pressed", "true")
        await expect(buttons.nth(2)).to_have_attribute("aria-pressed", "false")
        for chart in CHARTS:
            assert await x_span(page, chart) == 60, chart
        await expect(page.locator("#window-note")).to_have_text(
            "Last 1 minute of 10 minutes kept, one sample per second."
        )
        await screenshot(page, "dashboard-range.png")
        await page.close()
    assert errors == []


async def test_the_errors_panel_counts_refusals_by_code(start_server: StartServer) -> None:
    app = await start_server(api_key=KEY, max_connections=1)
    errors: list[str] = []
    async with chromium() as browser:
        page = await open_dashboard(browser, errors, app)
        rows = page.locator("#refusals tr")
        await expect(rows).to_have_text(["Nothing refused since the node started"])
        async with websockets.connect(ws_url(app)) as ws:
            await recv_json(ws)
            for bad in ("{not json", json.dumps({"type": "no-such-type"}), "{again"):
                await ws.send(bad)
                assert (await recv_json(ws))["type"] == "error"
            # The node holds one connection at most: this one is refused at the handshake.
            with pytest.raises(websockets.InvalidStatus):
                async with websockets.connect(ws_url(app)):
                    pass
            invalid = page.locator('#refusals tr[data-kind="errors"][data-code="INVALID_JSON"]')
            await expect(invalid.locator("td.total")).to_have_text("2", timeout=ms(5))
            await expect(invalid.locator("td.kind")).to_have_text("error frame")
            unknown = page.locator(
                '#refusals tr[data-kind="errors"][data-code="UNKNOWN_MESSAGE_TYPE"]'
            )
            await expect(unknown.locator("td.total")).to_have_text("1")
            full = page.locator(
                '#refusals tr[data-kind="handshake_rejected"][data-code="max_connections"]'
            )
            await expect(full.locator("td.total")).to_have_text("1")
            await expect(full.locator("td.kind")).to_have_text("handshake")
            await screenshot(page, "dashboard-refusals.png")
            # The chart of refusals per second has drawn a second with some.
            drawn = await page.eval_on_selector(
                "#chart-refusals", "(box) => box.chart.plot.data.slice(1).flat()"
            )
            assert any(v and v > 0 for v in drawn), drawn
        await page.close()
    assert errors == []


async def test_the_key_form_replaces_the_key_in_the_url(start_server: StartServer) -> None:
    app = await start_server(api_key=KEY)
    errors: list[str] = []
    async with chromium() as browser:
        page = await open_page(browser, errors, "dashboard")
        await page.goto(dashboard_url(app), timeout=ms(10))
        form = page.locator("#key-form")
        message = page.locator("#key-message")
        await expect(form).to_be_visible(timeout=ms(10))
        await expect(message).to_contain_text("needs its API key")
        await expect(page.locator("#status")).to_have_text("key needed")

        await page.locator("#key-input").fill("not-the-key-0123456")
        await page.locator("#key-submit").click()
        await expect(message).to_contain_text("rejected", timeout=ms(10))
        await expect(form).to_be_visible()
        await expect(page.locator("#connections")).to_have_text("\u2013")

        await page.locator("#key-input").fill(KEY)
        await page.locator("#key-submit").click()
        await expect(page.locator("#status")).to_have_text("live", timeout=ms(10))
        await expect(form).to_be_hidden()
        await expect(page.locator("#connections")).to_have_text("0")
        await expect(page.locator(f'#nodes tr[data-node="{app.settings.node_id}"]')).to_have_count(
            1, timeout=ms(10)
        )
        assert KEY not in page.url
        # Kept for the tab: a reload needs no form.
        await page.reload()
        await expect(page.locator("#status")).to_have_text("live", timeout=ms(10))
        await expect(form).to_be_hidden()
        await page.close()

        # An old bookmark's ?key= is taken into the tab and out of the address bar.
        old = await open_page(browser, errors, "bookmark")
        await old.goto(dashboard_url(app, f"/dashboard?key={KEY}#top"), timeout=ms(10))
        await expect(old.locator("#status")).to_have_text("live", timeout=ms(10))
        assert old.url == dashboard_url(app, "/dashboard#top")
        stored = await old.evaluate("sessionStorage.getItem('switchboard.apiKey')")
        assert stored == KEY
        await old.close()
    # The rejected key's stream is the only thing that may have failed.
    assert [e for e in errors if REFUSED not in e or "/dashboard/stream" not in e] == []
    assert errors, "expected the browser to log the refused (401) stream"


async def test_the_connections_page_lists_sends_and_disconnects(
    start_server: StartServer,
) -> None:
    app = await start_server(api_key=KEY)
    errors: list[str] = []
    first = await websockets.connect(ws_url(app))
    second = await websockets.connect(ws_url(app))
    try:
        first_id = (await recv_json(first))["connection_id"]
        second_id = (await recv_json(second))["connection_id"]
        await second.send(json.dumps({"type": "subscribe", "channel": "ops:room", "id": "s"}))
        assert (await recv_json(second))["type"] == "ack"
        async with chromium() as browser:
            page = await open_page(browser, errors, "connections")
            await page.goto(dashboard_url(app, f"/dashboard/connections?key={KEY}"))
            assert KEY not in page.url
            rows = page.locator("#connections tr[data-id]")
            await expect(rows).to_have_count(2, timeout=ms(10))
            await expect(page.locator("#summary")).to_contain_text("2 connections")
            row = page.locator(f'#connections tr[data-id="{first_id}"]')
            await expect(row.locator("td.id")).to_have_text(first_id)

            # Filter by channel: only the subscriber.
            await page.locator("#filter-channel").fill("ops:room")
            await page.locator("#apply-filters").click()
            await expect(rows).to_have_count(1, timeout=ms(5))
            await expect(rows.first).to_have_attribute("data-id", second_id)
            await expect(rows.first.locator("td.channels")).to_have_text("ops:room")
            await page.locator("#filter-channel").fill("")
            await page.locator("#apply-filters").click()
            await expect(rows).to_have_count(2, timeout=ms(5))

            # Send: the real client gets the operator's message.
            await row.locator("button.send").click()
            await expect(page.locator("#send-target")).to_have_text(first_id)
            await page.locator("#send-data").fill('{"text": "from the dashboard"}')
            await page.locator("#send-submit").click()
            result = page.locator("#action-result")
            await expect(result).to_have_text(f"Sent to {first_id}.", timeout=ms(5))
            direct = await recv_json(first)
            assert direct["type"] == "direct"
            assert direct["data"] == {"text": "from the dashboard"}

            # Disconnect, once confirmed: the real client's socket closes with 1000.
            asked: list[str] = []

            async def accept(dialog: Dialog) -> None:
                asked.append(dialog.message)
                await dialog.accept()

            page.once("dialog", accept)
            await row.locator("button.disconnect").click()
            await expect(result).to_have_text(
                f"Closed {first_id} (close code 1000).", timeout=ms(5)
            )
            assert asked and first_id in asked[0]
            await first.wait_closed()
            assert first.close_code == 1000
            await expect(rows).to_have_count(1, timeout=ms(5))
            await expect(rows.first).to_have_attribute("data-id", second_id)

            # Dismissed, nothing is sent: the refresh clicked after it is the next request.
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.method))
            page.once("dialog", lambda dialog: dialog.dismiss())
            await rows.first.locator("button.disconnect").click()
            async with page.expect_response(lambda r: "/api/v1/connections?" in r.url):
                await page.locator("#refresh").click()
            assert requests[0] == "GET", requests
            await expect(rows).to_have_count(1)
            await screenshot(page, "dashboard-connections.png")
            await page.close()
    finally:
        await first.close()
        await second.close()
    assert errors == []


async def test_the_demo_talks_through_the_js_client_and_resumes(
    start_server: StartServer,
) -> None:
    app = await start_server(api_key=KEY, channel_defaults={"history_size": 10, "history_ttl": 60})
    channel = "demo:resume"
    errors: list[str] = []
    loaded: list[str] = []
    async with chromium() as browser:
        demo = await open_page(browser, errors, "demo")

        def on_request(request: Request) -> None:
            loaded.append(request.url)

        demo.on("request", on_request)
        await demo.goto(dashboard_url(app, "/demo"), timeout=ms(10))
        await expect(demo.locator("#ws-status")).to_have_text("connected", timeout=ms(10))
        assert dashboard_url(app, "/client/switchboard.js") in loaded
        connection_id = await demo.locator("#connection-id").text_content()
        assert connection_id and re.fullmatch(r"[^\s\u2013]+", connection_id)

        await demo.locator("#echo-input").fill('{"round": "trip"}')
        await demo.locator("#echo-send").click()
        await expect(demo.locator('.frame[data-type="echo_reply"]')).to_contain_text(
            '"round": "trip"', timeout=ms(5)
        )
        await demo.locator("#channel-input").fill(channel)
        await demo.locator("#subscribe-send").click()
        offset = demo.locator(f'#subscriptions dd[data-channel="{channel}"]')
        await expect(offset).to_contain_text("offset 0", timeout=ms(5))
        await demo.locator("#publish-input").fill('{"n": 1}')
        await demo.locator("#publish-send").click()
        messages = demo.locator('.frame[data-type="message"]')
        await expect(messages).to_have_count(1, timeout=ms(5))
        await expect(offset).to_contain_text("offset 1")

        # The node restarts this connection (1012): the client reconnects and resumes the
        # subscription from offset 1, so what is published meanwhile still arrives.
        async with httpx.AsyncClient(
            base_url=dashboard_url(app, ""), headers={"X-API-Key": KEY}, timeout=timeout(5)
        ) as api:
            closed = await api.delete(f"/api/v1/connections/{connection_id}?code=1012")
            assert closed.status_code == 200, closed.text
            published = await api.post(
                f"/api/v1/channels/{channel}/publish", json={"data": {"n": 2}}
            )
            assert published.status_code == 200, published.text
        await expect(demo.locator("#ws-connects")).to_have_text("2", timeout=ms(10))
        await expect(demo.locator("#ws-status")).to_have_text("connected")
        await expect(messages).to_have_count(2, timeout=ms(10))
        await expect(messages.nth(1)).to_contain_text('"n": 2')
        await expect(offset).to_contain_text("offset 2")
        # It asked to recover (recover_from its offset and epoch), and the node could.
        resumed = demo.locator('.frame[data-type="ack"]').filter(has_text='"recovered": true')
        await expect(resumed).to_have_count(1)
        await expect(demo.locator(".note").filter(has_text="code 1012")).to_have_count(1)
        await expect(demo.locator('.frame[data-type="error"]')).to_have_count(0)

        await demo.locator("#disconnect").click()
        await expect(demo.locator("#ws-status")).to_have_text("disconnected", timeout=ms(5))
        await demo.close()
    assert errors == []
