"""Each scenario, briefly, against a real Switchboard on 127.0.0.1 (port 0): the figures add
up (nothing lost on a server that loses nothing), latencies are in order, several generator
processes merge into one report, and --plot writes a chart."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..conftest import StartServer, ws_url
from .conftest import assert_sane_latency, bench


async def test_connect_ramps_and_holds(start_server: StartServer) -> None:
    app = await start_server()
    figures = await bench("connect", ws_url(app), "-c", "40", "--connect-rate", "400", "-d", "1")
    assert figures["counters"] == {"connected": 40, "held": 40}
    assert figures["errors"] == {}
    assert_sane_latency(figures["latency_ms"]["handshake"], count=40)
    # 40 at 400/s: a ramp of about 0.1 s, so at most about 400 handshakes a second
    assert 0 < figures["throughput"]["handshakes_per_s"] <= 450


async def test_connect_counts_refusals(start_server: StartServer) -> None:
    app = await start_server(max_connections=5)
    figures = await bench("connect", ws_url(app), "-c", "8", "-d", "0.5")
    assert figures["counters"]["connected"] == 5
    assert figures["counters"]["failed"] == 3
    assert figures["errors"] == {"HTTP 503": 3}


async def test_echo(start_server: StartServer) -> None:
    app = await start_server()
    figures = await bench("echo", ws_url(app), "-c", "4", "--window", "4", "-d", "1")
    counters = figures["counters"]
    assert counters["sent"] == counters["received"] > 100
    assert counters["unanswered"] == 0
    assert figures["errors"] == {}
    assert_sane_latency(figures["latency_ms"]["rtt"], count=counters["received"])
    assert figures["throughput"]["received_per_s"] > 100
    assert sum(row["count"] for row in figures["timeline"]) == counters["received"]


async def test_raw_echo(start_server: StartServer) -> None:
    app = await start_server(raw_echo=True)
    figures = await bench("echo", ws_url(app), "--raw", "-c", "2", "--size", "200", "-d", "1")
    assert figures["raw"] is True
    assert figures["counters"]["sent"] == figures["counters"]["received"] > 50
    assert_sane_latency(figures["latency_ms"]["rtt"])


async def test_broadcast_over_two_processes(start_server: StartServer, tmp_path: Path) -> None:
    """Senders in both processes, receivers in both: every acked broadcast reaches all 6."""
    app = await start_server()
    chart = tmp_path / "latency.svg"
    figures = await bench(
        "broadcast", ws_url(app), "-p", "2", "-c", "6", "--publishers", "2",
        "--rate", "50", "-d", "1", "--plot", str(chart),
    )  # fmt: skip
    assert figures["processes"] == 2
    counters, delivery = figures["counters"], figures["delivery"]
    assert counters["connected"] == 6
    assert counters["sent"] == 50
    assert delivery["expected"] == counters["sent"] * 6
    assert delivery["received"] == delivery["expected"]
    assert (delivery["lost"], delivery["duplicates"], delivery["reordered"]) == (0, 0, 0)
    assert_sane_latency(figures["latency_ms"]["delivery"], count=delivery["received"])
    assert_sane_latency(figures["latency_ms"]["ack"], count=counters["sent"])
    svg = ET.parse(chart).getroot()
    assert svg.tag.endswith("svg")
    assert len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 3


async def test_channels(start_server: StartServer) -> None:
    app = await start_server()
    figures = await bench(
        "channels", ws_url(app), "-c", "12", "--channels", "3", "--publishers", "2",
        "--rate", "60", "-d", "1",
    )  # fmt: skip
    counters, delivery = figures["counters"], figures["delivery"]
    assert counters["subscribed"] == 12
    assert counters["sent"] == 60
    assert delivery["expected"] == 60 * 4  # 4 subscribers per channel
    assert delivery["received"] == delivery["expected"] > 200
    assert (delivery["lost"], delivery["duplicates"], delivery["reordered"]) == (0, 0, 0)
    assert delivery["unacked"] == delivery["refused"] == 0
    assert_sane_latency(figures["latency_ms"]["delivery"], count=delivery["received"])


async def test_storm_resumes_everyone_with_nothing_lost(start_server: StartServer) -> None:
    app = await start_server()
    figures = await bench(
        "storm", ws_url(app), "-c", "30", "--channels", "3", "--rate", "80", "-d", "1.5",
        "--storm-at", "0.5",
    )  # fmt: skip
    storm, delivery = figures["storm"], figures["delivery"]
    assert storm["dropped"] == storm["resumed"] == storm["recovered"] == 30
    assert storm["not_recovered"] == storm["not_resumed"] == 0
    assert 0 < storm["all_resumed_ms"] < 5000
    assert_sane_latency(figures["latency_ms"]["resume"], count=30)
    assert delivery["received"] == delivery["expected"] == figures["counters"]["sent"] * 10
    assert (delivery["lost"], delivery["duplicates"], delivery["reordered"]) == (0, 0, 0)
    assert figures["errors"] == {}


async def test_refused_publications_are_owed_to_nobody(start_server: StartServer) -> None:
    app = await start_server(namespaces={"bench": {"publish": False}})
    figures = await bench(
        "channels", ws_url(app), "-c", "2", "--channels", "1", "--rate", "20", "-d", "0.5",
    )  # fmt: skip
    assert figures["counters"]["sent"] == 10
    assert figures["errors"] == {"FORBIDDEN": 10}
    delivery = figures["delivery"]
    assert (delivery["refused"], delivery["expected"], delivery["lost"]) == (10, 0, 0)
