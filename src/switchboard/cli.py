"""The ``switchboard`` command line (typer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from .app import App
from .config import load_settings
from .core.outbox import SlowConsumerPolicy
from .observability.logging import configure_logging

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="Switchboard WebSocket server.")

_NET = "Network"
_LIM = "Limits"
_HB = "Heartbeat and shutdown"
_OUT = "Logging and modes"


@cli.command()
def serve(
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML settings file.", rich_help_panel=_NET)
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: 0.0.0.0).", rich_help_panel=_NET),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="TCP port, 0 for any free one (default: 8080).", rich_help_panel=_NET),
    ] = None,
    path: Annotated[
        str | None, typer.Option(help="WebSocket URL path (default: /ws).", rich_help_panel=_NET)
    ] = None,
    node_id: Annotated[
        str | None,
        typer.Option(
            help="Node name in logs and welcome (default: hostname).", rich_help_panel=_NET
        ),
    ] = None,
    max_message_size: Annotated[
        int | None,
        typer.Option(
            help="Largest message in bytes, all fragments; more closes 1009 (default: 1048576).",
            rich_help_panel=_LIM,
        ),
    ] = None,
    max_connections: Annotated[
        int | None,
        typer.Option(
            help="Open connections before handshakes get 503 (default: 100000).",
            rich_help_panel=_LIM,
        ),
    ] = None,
    max_header_size: Annotated[
        int | None,
        typer.Option(
            help="Largest request headers in bytes; over it gets 431 (default: 8192).",
            rich_help_panel=_LIM,
        ),
    ] = None,
    handshake_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds to complete the HTTP upgrade (default: 5).", rich_help_panel=_LIM
        ),
    ] = None,
    read_buffer_size: Annotated[
        int | None,
        typer.Option(
            help="Initial read buffer per connection in bytes (default: 2048).",
            rich_help_panel=_LIM,
        ),
    ] = None,
    send_queue_limit: Annotated[
        int | None,
        typer.Option(
            help="Bytes queued for one slow client before the policy applies (default: 4194304).",
            rich_help_panel=_LIM,
        ),
    ] = None,
    write_high_water: Annotated[
        int | None,
        typer.Option(
            help="Socket buffer bytes above which frames wait in the queue (default: 262144).",
            rich_help_panel=_LIM,
        ),
    ] = None,
    slow_consumer_policy: Annotated[
        SlowConsumerPolicy | None,
        typer.Option(
            help="What to do with a slow client (default: disconnect).", rich_help_panel=_LIM
        ),
    ] = None,
    ping_interval: Annotated[
        float | None,
        typer.Option(
            help="Seconds between heartbeat pings, 0 disables (default: 30).", rich_help_panel=_HB
        ),
    ] = None,
    ping_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds to wait for a pong before closing 4002 (default: 20).",
            rich_help_panel=_HB,
        ),
    ] = None,
    close_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds to wait for the client's close frame (default: 5).", rich_help_panel=_HB
        ),
    ] = None,
    drain_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds to wait for clients on shutdown (default: 10).", rich_help_panel=_HB
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(help="debug, info, warning or error (default: info).", rich_help_panel=_OUT),
    ] = None,
    log_format: Annotated[
        str | None, typer.Option(help="json or console (default: json).", rich_help_panel=_OUT)
    ] = None,
    raw_echo: Annotated[
        bool | None,
        typer.Option(
            "--raw-echo/--no-raw-echo",
            help="Conformance mode: echo every message unchanged (default: off).",
            rich_help_panel=_OUT,
        ),
    ] = None,
) -> None:
    """Serve WebSockets until SIGTERM/SIGINT, then drain gracefully and exit 0.

    Every option is also a key of the TOML file and a SWITCHBOARD_<NAME> environment
    variable (for example SWITCHBOARD_MAX_MESSAGE_SIZE); flags win over the environment,
    which wins over the file.
    """
    flags = dict(locals())
    flags.pop("config")
    try:
        settings = load_settings(config, **flags)
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        typer.echo(f"switchboard: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_format, settings.node_id)
    App(settings).run()


@cli.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("switchboard"))


def main() -> None:
    cli()
