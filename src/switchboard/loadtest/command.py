"""``switchboard bench``: the command line of the load tester (typer)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..errors import BenchFailed, PlanError, TargetRefused
from .plan import Plan, Scenario, TokenIn

HELP = (
    "Load-test a WebSocket server: Switchboard, or any server that speaks its JSON envelope "
    "(or, with --raw, any echo server).\n\n"
    "Scenarios: connect (ramp and hold connections), echo (round trips), broadcast (fan-out "
    "to every connection), channels (publish to subscribers: latency, loss, order) and storm "
    "(drop and resume every subscriber). Only loopback targets unless --allow-remote. "
    "See docs/bench.md."
)

_LOAD = "Load"
_TARGET = "Target"
_OUTPUT = "Output"


def parse_header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise typer.BadParameter(f"{text!r}: give a header as 'Name: value'", param_hint="-H")
    return name.strip(), value.strip()


def bench(
    scenario: Annotated[Scenario, typer.Argument(help="What to measure.")],
    url: Annotated[str, typer.Argument(help="The server's WebSocket URL.")] = (
        "ws://127.0.0.1:8080/ws"
    ),
    connections: Annotated[
        int,
        typer.Option(
            "--connections",
            "-c",
            help="Clients (subscribers for channels, storm).",
            rich_help_panel=_LOAD,
        ),
    ] = 100,
    connect_rate: Annotated[
        float, typer.Option(help="New connections per second, in all.", rich_help_panel=_LOAD)
    ] = 1000.0,
    duration: Annotated[
        float,
        typer.Option(
            "--duration",
            "-d",
            help="Seconds of load (connect: ramp and hold).",
            rich_help_panel=_LOAD,
        ),
    ] = 10.0,
    max_connections: Annotated[
        int,
        typer.Option(help="Refuse a run that would open more connections.", rich_help_panel=_LOAD),
    ] = 10_000,
    processes: Annotated[
        int,
        typer.Option("--processes", "-p", help="Load-generating processes.", rich_help_panel=_LOAD),
    ] = 1,
    rate: Annotated[
        float,
        typer.Option(
            help="Broadcasts or publications per second, over all publishers.",
            rich_help_panel=_LOAD,
        ),
    ] = 100.0,
    publishers: Annotated[
        int,
        typer.Option(
            help="Publishers (broadcast: senders among the connections).", rich_help_panel=_LOAD
        ),
    ] = 1,
    channels: Annotated[
        int, typer.Option(help="Channels (channels, storm).", rich_help_panel=_LOAD)
    ] = 10,
    channel_prefix: Annotated[
        str,
        typer.Option(
            help="Channel names: PREFIX<run id>-<n> (a namespace the server allows).",
            rich_help_panel=_LOAD,
        ),
    ] = "bench:",
    window: Annotated[
        int, typer.Option(help="echo: requests in flight per connection.", rich_help_panel=_LOAD)
    ] = 1,
    size: Annotated[
        int,
        typer.Option(
            help="Bytes of padding per message (--raw: payload size).", rich_help_panel=_LOAD
        ),
    ] = 64,
    storm_at: Annotated[
        float | None,
        typer.Option(
            help="storm: seconds into the load (default: a third of it).", rich_help_panel=_LOAD
        ),
    ] = None,
    storm_jitter: Annotated[
        float,
        typer.Option(help="storm: spread reconnects over this many ms.", rich_help_panel=_LOAD),
    ] = 0.0,
    drain: Annotated[
        float,
        typer.Option(help="Seconds to wait for late acks and deliveries.", rich_help_panel=_LOAD),
    ] = 2.0,
    raw: Annotated[
        bool,
        typer.Option(
            help="Raw payloads, for plain echo servers (connect, echo).", rich_help_panel=_TARGET
        ),
    ] = False,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            "-H",
            help="A handshake header, 'Name: value' (repeatable).",
            rich_help_panel=_TARGET,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="A token, sent as --token-in says.",
            envvar="SWITCHBOARD_BENCH_TOKEN",
            rich_help_panel=_TARGET,
        ),
    ] = None,
    token_in: Annotated[
        TokenIn,
        typer.Option(
            help="header: 'Authorization: Bearer T'; query: '?token=T'; both.",
            rich_help_panel=_TARGET,
        ),
    ] = TokenIn.header,
    source_address: Annotated[
        list[str] | None,
        typer.Option(
            help="Local address to connect from (repeatable: used in turn, e.g. 127.0.0.2, "
            "127.0.0.3, for more than one address's ~28,000 ports).",
            rich_help_panel=_TARGET,
        ),
    ] = None,
    compression: Annotated[
        bool, typer.Option(help="Offer permessage-deflate.", rich_help_panel=_TARGET)
    ] = False,
    open_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds a handshake (or a subscribe) may take.", rich_help_panel=_TARGET
        ),
    ] = 10.0,
    allow_remote: Annotated[
        bool,
        typer.Option(
            help="Allow a target that is not loopback (a server you own).", rich_help_panel=_TARGET
        ),
    ] = False,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json", help="Print one JSON object instead of tables.", rich_help_panel=_OUTPUT
        ),
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option(help="Write latency over time to this .svg file.", rich_help_panel=_OUTPUT),
    ] = None,
    progress: Annotated[
        bool,
        typer.Option(
            help="The live display (on stderr, when it is a terminal).", rich_help_panel=_OUTPUT
        ),
    ] = True,
) -> None:
    plan = Plan(
        scenario=scenario,
        url=url,
        connections=connections,
        connect_rate=connect_rate,
        duration=duration,
        max_connections=max_connections,
        processes=processes,
        rate=rate,
        publishers=publishers,
        channels=channels,
        channel_prefix=channel_prefix,
        window=window,
        size=size,
        raw=raw,
        headers=tuple(parse_header(h) for h in header or ()),
        token=token,
        token_in=token_in,
        compression=compression,
        source_addresses=tuple(source_address or ()),
        storm_at=storm_at,
        storm_jitter=storm_jitter,
        drain=drain,
        open_timeout=open_timeout,
        allow_remote=allow_remote,
    )
    try:
        plan.check()
        if plot is not None and plot.suffix.lower() != ".svg":
            raise PlanError(f"--plot writes SVG: name the file *.svg, not {plot.name}")
    except (TargetRefused, PlanError) as exc:
        typer.echo(f"switchboard bench: {exc}", err=True)
        raise typer.Exit(2) from None
    # imported here: registering the command must not load the client side into `serve`
    from .plot import write_plot
    from .progress import Progress
    from .report import summary, tables
    from .runner import run_plan

    errors = Console(stderr=True)
    try:
        if progress and errors.is_terminal:
            with Progress(errors, scenario.value) as live:
                result = run_plan(plan, live.update)
        else:
            result = run_plan(plan)
    except BenchFailed as exc:
        typer.echo(f"switchboard bench: {exc}", err=True)
        raise typer.Exit(1) from None
    figures = summary(plan, result)
    if plot is not None:
        write_plot(plot, figures)
    if json_output:
        typer.echo(json.dumps(figures))
    else:
        Console(file=sys.stdout).print(tables(figures))


def register(cli: typer.Typer) -> None:
    """Add ``bench`` to ``cli`` (the ``switchboard`` command line)."""
    cli.command(help=HELP)(bench)
