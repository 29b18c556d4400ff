"""Rendering a results dictionary (as saved in results/*.json) as docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

from harness import ab
from harness import config as cfg
from harness.codecs_report import codec_echo_note, deflate_note, metrics_cost_note
from harness.loadgen import CHANNEL_BASES, CODEC_ECHOS, DEFLATE_BCASTS, FANOUT_WINDOWS, SCENARIOS
from harness.summary import SUBJECT, headline, ratio_text

TITLES = {
    "echo": "Echo",
    "echo-nometrics": "Echo with --no-metrics (what metrics cost)",
    "bcast": "Broadcast",
    "bcast-burst": "Broadcast burst",
    "channel": "Channel fan-out",
    "channel-burst": "Channel fan-out burst",
    "echo-msgpack": "Echo in v1.binary (MessagePack)",
    "echo-proto": "Echo in v2.proto (Protocol Buffers)",
    "bcast-1k": "Broadcast of 1 KiB, deflate off",
    "bcast-1k-deflate": "Broadcast of 1 KiB, deflate on",
    "idle": "Idle connections",
    "idle-deflate": "Idle connections that negotiated deflate",
}
RATIO_LABELS = {
    "echo": "echo msg/s (higher is better)",
    "echo-nometrics": "echo msg/s, metrics off (higher is better)",
    "bcast": f"broadcast deliveries/s, -w {cfg.BCAST_WINDOW} (higher is better)",
    "bcast-burst": f"broadcast burst deliveries/s, -w {cfg.BCAST_BURST_WINDOW} (higher is better)",
    "channel": f"channel fan-out deliveries/s, -w {cfg.BCAST_WINDOW} (higher is better)",
    "channel-burst": f"channel fan-out burst deliveries/s, -w {cfg.BCAST_BURST_WINDOW} "
    "(higher is better)",
    "echo-msgpack": "echo msg/s in MessagePack (higher is better)",
    "echo-proto": "echo msg/s in protobuf (higher is better)",
    "bcast-1k": "1 KiB broadcast deliveries/s (higher is better)",
    "bcast-1k-deflate": "1 KiB deflate broadcast deliveries/s (higher is better)",
    "idle": "idle bytes/conn (lower is better)",
    "idle-deflate": "idle bytes/conn with deflate (lower is better)",
}
# What each baseline is, for the Method section (servers in benchmarks/servers/).
BASELINE_NOTES = {
    "picows_raw": "`picows_raw.py`: picows + uvloop + msgspec written the straightforward way, "
    "one `send()` per client per message.",
    "picows_min": "`picows_min.py`: the design without its features, about 60 lines: picows + "
    "uvloop + msgspec, a reply or broadcast framed once and queued per client, every queue "
    "written with one `write()` in a `call_soon` at the end of the loop pass; no limits, "
    "heartbeats, auth or metrics.",
    "socketify": "`socketify_server.py`: uWebSockets through socketify (the `bench` extra of "
    "`pyproject.toml`), the envelope decoded and encoded with msgspec in Python; a broadcast is "
    "one `app.publish` on a topic every connection joined (uWebSockets fans out in C++ and corks "
    "one write per socket per loop iteration), `max_backpressure` 16 MiB so that no slow "
    "subscriber is skipped.",
    "aiohttp": "`aiohttp_server.py`: aiohttp with stdlib json, `await send_str` per client.",
    "node_ws": "`node_ws_server.js`: Node `ws`, `JSON.parse`, `client.send` per client.",
}
DEFLATE_NOTE = (
    f"{cfg.BCAST_CONNS:,} clients, `-w {cfg.BCAST_WINDOW}`, a {cfg.DEFLATE_MSG_SIZE:,}-byte "
    "broadcast padded with word-like text (`-X`, which deflate shrinks about 2.5-3x, as it does "
    "real JSON) instead of a run of `x`. The deflate run differs only by `-Z`: every client "
    "offers permessage-deflate, the server compresses each broadcast once for all of them "
    "(no context takeover), and every 16th client inflates what it gets to check the sequence "
    "numbers while the others count compressed frames in order. Only servers with compression "
    "run these two."
)
# What the publication window means; shown above the bcast-burst table.
WINDOW_NOTE = (
    f"Same broadcast as above ({cfg.BCAST_CONNS:,} clients, `-J`, {cfg.MSG_SIZE} B) with window "
    f"`-w {cfg.BCAST_BURST_WINDOW}` instead of `-w {cfg.BCAST_WINDOW}`. wsbench's publisher keeps "
    f"at most W publications not yet delivered to all {cfg.BCAST_CONNS:,} clients. With "
    f"W = {cfg.BCAST_WINDOW} a server that writes once per client per event-loop pass does about "
    "one write per client per publication, so the kernel's loopback send cost bounds it; with "
    f"W = {cfg.BCAST_BURST_WINDOW} several publications are in flight per pass, and a server that "
    "coalesces frames per connection writes them in one system call per client, while a server "
    "that sends each frame separately gains nothing."
)


def _channel_note(results: dict[str, Any], scenario: str) -> list[str]:
    """What the channel scenario does differently from the broadcast it repeats."""
    base = CHANNEL_BASES[scenario]
    window = FANOUT_WINDOWS[scenario]
    if scenario != "channel":
        return [
            f"Channel fan-out as above with window `-w {window}`: the {TITLES[base]} load "
            "through a channel.",
            "",
        ]
    cell = results["summary"].get(scenario, {}).get(SUBJECT, {})
    size = cell.get("median", {}).get("publish_bytes")
    sizes = ""
    if size is not None:
        # wsbench pads the whole request, like the broadcast one; the data object is what is left
        # of it, and a delivered message wraps that object (shown with a 5-digit offset).
        data = size - len(f'{{"type":"publish","channel":"{cfg.CHANNEL}","data":}}')
        message = len(f'{{"type":"message","channel":"{cfg.CHANNEL}","offset":12345,"data":}}')
        padding = (
            f'already more than `-s {cfg.MSG_SIZE}`, so its `"p"` stays empty'
            if size > cfg.MSG_SIZE
            else "padded to `-s`"
        )
        sizes = (
            f" Here that request is {size:,.0f} B ({padding}), and a delivered message is about "
            f"{message + data:,.0f} B; the broadcast request and the broadcast frame each client "
            f"receives are {cfg.MSG_SIZE} B."
        )
    return [
        f"The {TITLES[base]} load again ({cfg.BCAST_CONNS:,} clients, `-J`, `-w {window}`, "
        f"`-s {cfg.MSG_SIZE}`), through a channel: with `-C {cfg.CHANNEL}` every client, once "
        f'open, sends `{{"type":"subscribe","channel":"{cfg.CHANNEL}"}}` and publishing starts '
        "only when all of them have their `ack`; client 0 then publishes "
        f'`{{"type":"publish","channel":"{cfg.CHANNEL}","data":{{"seq":…,"p":"xx…"}}}}` instead '
        "of the broadcast envelope, padded with `x` to `-s` bytes in the same way, and every "
        "subscriber (client 0 included) must receive "
        f'`{{"type":"message","channel":"{cfg.CHANNEL}","offset":N,"data":{{…}}}}`.{sizes} '
        "Only servers with channels run this scenario.",
        "",
    ]


def _channel_checks(results: dict[str, Any], scenario: str) -> list[str]:
    """The channel-vs-broadcast target, subscription and error counts, inapplicable servers."""
    base = CHANNEL_BASES[scenario]
    window = FANOUT_WINDOWS[scenario]
    summary = results["summary"]
    channel, bcast = headline(summary, scenario, SUBJECT), headline(summary, base, SUBJECT)
    target = (
        f"Target: Switchboard's median deliveries/s here at least "
        f"{cfg.TARGET_CHANNEL_VS_BCAST:g}x its {TITLES[base]} median (`-w {window}`) from the "
        "same run: "
    )
    if channel is None or not bcast:
        target += "not measured (both scenarios are needed)."
    else:
        ratio = channel / bcast
        verdict = "PASS" if ratio >= cfg.TARGET_CHANNEL_VS_BCAST else "FAIL"
        shown = ratio_text(ratio, cfg.TARGET_CHANNEL_VS_BCAST)
        target += f"{channel:,.0f} / {bcast:,.0f} = {shown}, {verdict}."
    lines = [target, ""]
    for server, cell in summary.get(scenario, {}).items():
        if not cell["runs_ok"]:
            continue
        errors = cell["total"].get("errors")
        subscribed = cell["median"].get("subscribed")
        lines += [
            f"{_label(results, server)}: median {_n(subscribed)} of {cfg.BCAST_CONNS:,} "
            f"subscriptions acknowledged before publishing started, over "
            f"{cell['runs_ok']} successful run(s) (wsbench fails a run without every ack). "
            "wsbench counts the acks in `subscribed`, not in `errors`; `errors` totals "
            f"{_n(errors)}, the welcome frame each client gets on connect.",
            "",
        ]
    skipped = results.get("not_applicable", {}).get(scenario, {})
    if skipped:
        names = ", ".join(_label(results, s) for s in skipped)
        lines += [
            f"Not applicable (no channels), so not run; not a failure: {names}.",
            "",
        ]
    return lines


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _label(results: dict[str, Any], server: str) -> str:
    return str(results["config"]["server_labels"].get(server, server))


def _machine(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    v = m["versions"]
    rows = [
        ["date", results["generated_at"]],
        ["cores (nproc)", str(m["nproc"])],
        ["CPU", m["cpu_model"]],
        ["kernel", m["kernel"]],
        ["Python", m["python"]],
        ["git revision", str(m.get("git_revision"))],
    ]
    rows += [[name, str(version)] for name, version in v.items()]
    return ["## Machine", "", *_table(["what", "value"], rows)]


def _method(results: dict[str, Any]) -> list[str]:
    c = results["config"]
    lines = [
        "## Method",
        "",
        f"- Mode `{results['mode']}`: {c['repeat']} round(s), measurement duration "
        f"{c['duration_s']} s per run (plus {cfg.WARMUP_S} s warm-up for echo and broadcast); "
        f"whole run took {results['elapsed_s']:.0f} s.",
        f"- Server pinned with `taskset -c {cfg.SERVER_CPU}`, load generator (wsbench, a "
        f"single-threaded C epoll client, `benchmarks/wsbench.c`) with "
        f"`taskset -c {cfg.LOADGEN_CPU}`. Everything talks to {cfg.HOST} only.",
        "- Each measurement starts a fresh server process on a free port, waits until it "
        f"answers a WebSocket upgrade on `{cfg.WS_PATH}` (max {cfg.READY_TIMEOUT_S:.0f} s), "
        "runs wsbench once, then stops the server.",
        "- Servers are interleaved within each round (and their order rotates between rounds) "
        "so that machine noise hits all of them alike; tables show the median and every run.",
        f"- `RLIMIT_NOFILE` raised to {c['nofile'][0]:,} (hard {c['nofile'][1]:,}) for the "
        "harness and inherited by the servers and wsbench.",
        "- `-S SERVER_PID` makes wsbench report the server's CPU (and, for idle, its RSS "
        "growth per connection). `wsbench CPU %` is the generator's own CPU use and `core 1 "
        f"busy %` the whole generator core; runs with core 1 >= {cfg.GENERATOR_BOUND_PCT}% "
        "were probably limited by the generator, not the server.",
        f"- Broadcast runs twice, identical but for the window: `bcast` keeps at most "
        f"`-w {cfg.BCAST_WINDOW}` publications not yet delivered to all {cfg.BCAST_CONNS:,} "
        f"connections (wsbench's default), `bcast-burst` at most `-w {cfg.BCAST_BURST_WINDOW}` "
        "(see Broadcast burst for what that changes). Idle uses wsbench's default 3 s settle "
        "time (`-T`).",
        f"- `channel` and `channel-burst` repeat `bcast` and `bcast-burst` through the channel "
        f"`{cfg.CHANNEL}` (wsbench `-C`, see Channel fan-out), for servers with channels only; "
        "each is compared with Switchboard's broadcast at the same window.",
        *[
            f"- Baseline {_label(results, name)}: {BASELINE_NOTES[name]}"
            for name in c["server_labels"]
            if name in BASELINE_NOTES
        ],
        "",
        "wsbench command lines:",
        "",
        "```",
        *[f"{cmd}" for cmd in c["commands"].values()],
        "```",
        "",
        f"Server command lines (each prefixed with `taskset -c {cfg.SERVER_CPU}`):",
        "",
        "```",
        *[f"{cmd}" for cmd in c["server_commands"].values()],
        "```",
        "",
    ]
    return lines


def _cpu_cols(med: dict[str, Any]) -> list[str]:
    return [
        _n(med.get("server_cpu_pct")),
        _n(med.get("loadgen_cpu_pct")),
        _n(med.get("cpu1_busy_pct")),
        f"{_n(med.get('other_cpu0_pct'))} / {_n(med.get('other_cpu1_pct'))}",
    ]


def _scenario_rows(results: dict[str, Any], scenario: str) -> tuple[list[str], list[list[str]]]:
    cells = results["summary"].get(scenario, {})
    rows: list[list[str]] = []
    for server, cell in cells.items():
        med, tot = cell["median"], cell["total"]
        per_run = ", ".join(_n(v) for v in cell["values"]) or "none"
        if cell["runs_failed"]:
            per_run += f" ({cell['runs_failed']} failed)"
        head = [_label(results, server)]
        if scenario in ("echo", "echo-nometrics") or scenario in CODEC_ECHOS:
            rows.append(
                [
                    *head,
                    _n(med.get("msg_per_s")),
                    per_run,
                    _n(med.get("p50_us")),
                    _n(med.get("p99_us")),
                    *_cpu_cols(med),
                    _n(tot.get("errors")),
                ]
            )
        elif scenario in FANOUT_WINDOWS:
            missing = (tot.get("missing_stalled") or 0) + (tot.get("missing_at_end") or 0)
            rows.append(
                [
                    *head,
                    _n(med.get("deliveries_per_s")),
                    per_run,
                    f"{_n(med.get('full_fanout_p50_us'))} / {_n(med.get('full_fanout_p99_us'))}",
                    _n(tot.get("lost_gaps")),
                    _n(tot.get("out_of_order")),
                    _n(missing),
                    *_cpu_cols(med),
                ]
            )
        else:
            rows.append(
                [
                    *head,
                    _n(med.get("bytes_per_conn")),
                    per_run,
                    _n(med.get("bytes_per_conn_end")),
                    _n(med.get("still_open")),
                    _n(med.get("open_s"), 2),
                    _n(tot.get("closed_by_server")),
                ]
            )
    cpu = ["server CPU %", "wsbench CPU %", "core 1 busy %", "other load core 0 / 1 %"]
    bcast = [
        "server",
        "median deliveries/s",
        "per run",
        "full fan-out p50 / p99 µs",
        "lost gaps",
        "out of order",
        "missing",
        *cpu,
    ]
    headers_echo = ["server", "median msg/s", "per run", "p50 µs", "p99 µs", *cpu, "errors"]
    headers_idle = [
        "server",
        "median bytes/conn",
        "per run",
        "bytes/conn at end",
        "still open",
        "connect s",
        "closed by server",
    ]
    headers = {
        "echo": headers_echo,
        "echo-nometrics": headers_echo,
        **{fanout: bcast for fanout in FANOUT_WINDOWS},
        **{echo: headers_echo for echo in CODEC_ECHOS},
        "idle": headers_idle,
        "idle-deflate": headers_idle,
    }
    return headers[scenario], rows


def _results(results: dict[str, Any]) -> list[str]:
    lines = ["## Results", ""]
    inapplicable = results.get("not_applicable", {})
    shown = [s for s in SCENARIOS if s in results["summary"] or s in inapplicable]
    for scenario in shown:
        cells = results["summary"].get(scenario, {})
        header, rows = _scenario_rows(results, scenario)
        lines += [f"### {TITLES[scenario]}", ""]
        if scenario == "bcast-burst":
            lines += [WINDOW_NOTE, ""]
        if scenario in CHANNEL_BASES:
            lines += _channel_note(results, scenario)
        if scenario in DEFLATE_BCASTS and scenario == "bcast-1k":
            lines += [DEFLATE_NOTE, ""]
        lines += [f"`{results['config']['commands'][scenario]}`", ""]
        if rows:
            lines += _table(header, rows)
        if scenario == "bcast-burst":
            lines += _burst_gain(results)
        if scenario in CHANNEL_BASES:
            lines += _channel_checks(results, scenario)
        if scenario == "echo-nometrics":
            lines += metrics_cost_note(results)
        if scenario == "echo-proto":
            lines += codec_echo_note(results)
        if scenario == "bcast-1k-deflate":
            lines += deflate_note(results)
        bound = [_label(results, s) for s, c in cells.items() if c["generator_bound_runs"]]
        if bound:
            lines += [
                f"Core 1 (wsbench and the kernel work its system calls trigger) was >= "
                f"{cfg.GENERATOR_BOUND_PCT}% busy in some runs of: {', '.join(bound)}. "
                "The generator side may have capped those runs, so their figures are a "
                "lower bound for the server, and a Switchboard ratio against them may "
                "be overstated.",
                "",
            ]
        noisy = [
            f"{_label(results, s)} (round {', '.join(map(str, c['disturbed_rounds']))})"
            for s, c in cells.items()
            if c.get("disturbed_rounds")
        ]
        if noisy:
            lines += [
                f"Disturbed by other load (> {cfg.DISTURBED_PCT}% of a core used by "
                f"neither the server nor wsbench): {', '.join(noisy)}.",
                "",
            ]
        failures = [(s, f) for s, c in cells.items() for f in c["failures"]]
        lines += [f"- {_label(results, s)} failed a run: {f}" for s, f in failures]
        if failures:
            lines.append("")
    return lines


def _burst_gain(results: dict[str, Any]) -> list[str]:
    """Each server's median at -w 50 over its median at -w 10, where both were measured."""
    summary = results["summary"]
    gains = []
    for server in summary.get("bcast-burst", {}):
        burst = headline(summary, "bcast-burst", server)
        base = headline(summary, "bcast", server)
        if burst is not None and base:
            gains.append(f"{_label(results, server)} {burst / base:.2f}x")
    if not gains:
        return []
    return [
        f"Median deliveries/s at `-w {cfg.BCAST_BURST_WINDOW}` over the median at "
        f"`-w {cfg.BCAST_WINDOW}` (Broadcast above): {', '.join(gains)}.",
        "",
    ]


def _ratios(results: dict[str, Any]) -> list[str]:
    lines = ["## Switchboard against the baselines", ""]
    if not results["ratios"]:
        if SUBJECT in results["skipped"]:
            reason = results["skipped"][SUBJECT]
        elif SUBJECT in results["config"]["server_labels"]:
            reason = "none of its runs succeeded; see Results"
        else:
            reason = "it was not part of this run"
        return [*lines, f"No ratios: Switchboard was not measured ({reason}).", ""]
    baselines = [s for s in results["config"]["server_labels"] if s != SUBJECT]
    rows = [
        [RATIO_LABELS[scenario], *[f"{per[b]:.2f}x" if b in per else "n/a" for b in baselines]]
        for scenario, per in results["ratios"].items()
    ]
    header = ["Switchboard / baseline", *[_label(results, b) for b in baselines]]
    return [*lines, *_table(header, rows)]


def _targets(results: dict[str, Any]) -> list[str]:
    mark = {True: "PASS", False: "FAIL", None: "not measured"}
    rows = [
        [t["target"], t["required"], t["actual"], mark[t["passed"]]] for t in results["targets"]
    ]
    note = (
        f"Idle target read as 10 KB = {cfg.TARGET_IDLE_BYTES:,} bytes of server RSS growth "
        "per connection (wsbench `bytes_per_conn`, measured after the settle time)."
    )
    return ["## Targets", "", *_table(["target", "required", "measured", "result"], rows), note, ""]


CAVEATS = [
    "## Reading the numbers",
    "",
    "- Every echo and broadcast figure is bounded by two single cores: the server's (core 0) "
    "and wsbench's (core 1). Where the `core 1 busy %` column is near 100, the server may be "
    "faster than the figure shows.",
    "- How hard wsbench works per message depends on the server: a server that issues one "
    "write per frame makes wsbench read about one frame per system call, while one that "
    "coalesces frames per connection lets it read many. While the harness was being built "
    "(Nov 2026, this machine) wsbench counted up to about 1.8 million echo msg/s and 2.1 "
    "million broadcast deliveries/s with core 1 at 83-92% busy, while the picows raw "
    "baseline already kept core 1 92-99% busy in broadcast at 170,000-280,000 "
    "deliveries/s. One wsbench core therefore tops out around 2-2.5 million broadcast "
    "deliveries/s here, which is where a 20x Node ws target lands (Node ws does "
    "100,000-170,000): read the core 1 column before blaming a missed broadcast target "
    "on the server. That ceiling holds for one frame per read; with "
    f"`-w {cfg.BCAST_BURST_WINDOW}` a coalescing server hands wsbench several frames per "
    "read, so the same core counts more (see Broadcast burst).",
    "- CPU columns are medians over the runs. `server CPU %` and `wsbench CPU %` are the "
    "processes' own user + system time; `core 1 busy %` is the whole generator core from "
    "/proc/stat. `other load` is a core's busy time minus the process pinned to it: near 0 "
    "in a clean run, larger when other work on this shared machine took that core (such "
    "runs are listed under each table; medians keep them from dominating).",
    "- `errors` counts frames wsbench did not expect. Switchboard sends one `welcome` frame "
    "per connection, so it shows up to one error per connection; in echo mode wsbench takes "
    "a welcome that arrives before its first send as an extra reply and keeps one more "
    "message in flight on that connection (11 instead of 10). Measured on a running "
    "Switchboard, `-w 9`, `-w 10` and `-w 11` gave the same msg/s within noise (a few %). "
    "In the channel scenarios the welcome is still one error per client, while the "
    "subscribe acks are counted apart (`subscribed` in the raw data), not as errors, and "
    "never as lost or out-of-order messages.",
    "- Idle `bytes/conn` is the server's RSS growth divided by the number of connections, "
    "taken after wsbench's 3 s settle time (`bytes/conn at end`: after the idle period).",
    "",
]


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `benchmarks/run.py` (raw data: `{results['config']['json_path']}`); "
        "rerun it rather than editing this file. Machine noise on a shared 2-core box is "
        "real: read medians and ratios, not single runs. The cluster figures (Switchboard over "
        "Redis beside the embedded broker) are in [benchmarks-cluster.md]"
        "(benchmarks-cluster.md), from `benchmarks/cluster.py`; the workers and drain in "
        "[benchmarks-nodes.md](benchmarks-nodes.md) (`benchmarks/nodes.py`), handshakes per "
        "second in [benchmarks-connrate.md](benchmarks-connrate.md) (`benchmarks/connrate.py`) "
        "and 100,000 held connections in [benchmarks-scale.md](benchmarks-scale.md) "
        "(`benchmarks/scale.py`, `make bench-scale`).",
        "",
    ]
    if results["skipped"]:
        lines += ["Skipped servers:", ""]
        lines += [f"- {_label(results, s)}: {why}" for s, why in results["skipped"].items()]
        lines.append("")
    for part in (_machine, _method, _results, _ratios, ab.render, _targets):
        lines += part(results)
    lines += CAVEATS
    return "\n".join(lines).rstrip() + "\n"
