"""The ``switchboard`` command line (typer).

``switchboard serve`` has one flag per :class:`~switchboard.config.Settings` field (but the
tables of ``TOML_ONLY``), generated from the fields themselves (name, type, description,
default), so a new setting is a new flag with no second place to edit. A flag left out
changes nothing: the environment, the TOML file or the default decides.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import sys
import tomllib
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Optional, Union, get_args, get_origin

import typer
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from .app import App
from .checkconfig import check_config
from .config import TOML_ONLY, Settings, load_settings
from .config.edge import EdgeSettings
from .config.errors import settings_errors, toml_error
from .edge_command import EDGE_HELP, run_edge
from .errors import BrokerUnavailable
from .loadtest import register as register_bench
from .observability.logging import configure_logging
from .tokens import token

cli = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Switchboard WebSocket server.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(shown: bool) -> None:
    if shown:
        version()
        raise typer.Exit()


@cli.callback()
def _top(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Switchboard WebSocket server."""


#: ``switchboard serve --help`` panel of each setting, in the order the help lists them (the
#: flags are generated from the fields; a setting in no panel comes last, under "Other").
CLI_GROUPS: dict[str, str] = {
    **dict.fromkeys(("host", "port", "path", "node_id"), "Network"),
    **dict.fromkeys(
        (
            "broker",
            "broker_prefix",
            "broker_timeout",
            "registry_ttl",
            "advertise_url",
            "workers",
            "reuse_port",
            "agent_port",
            "route_endpoint",
        ),
        "Cluster",
    ),
    **dict.fromkeys(
        (
            "max_message_size",
            "max_connections",
            "max_subscriptions",
            "history_max_bytes",
            "fd_reserve",
            "handshake_timeout",
            "max_header_size",
            "read_buffer_size",
            "send_queue_limit",
            "write_high_water",
            "slow_consumer_policy",
        ),
        "Limits",
    ),
    **dict.fromkeys(
        (
            "ping_interval",
            "ping_timeout",
            "drain_timeout",
            "drain_grace",
            "drain_rate",
            "close_timeout",
        ),
        "Heartbeat and shutdown",
    ),
    **dict.fromkeys(
        ("log_level", "log_format", "audit_log", "log_file", "error_log_file", "raw_echo"),
        "Logging and modes",
    ),
    **dict.fromkeys(
        (
            "admin",
            "admin_host",
            "admin_port",
            "api_key",
            "admin_insecure",
            "admin_allowed_hosts",
            "metrics",
            "tracing",
            "otlp_endpoint",
            "dashboard_history",
            "warn_interval",
            "warn_memory_percent",
            "memory_limit",
            "warn_cpu_percent",
            "warn_cpu_seconds",
            "warn_outbox_bytes",
            "warn_loop_lag",
        ),
        "Control plane and observability",
    ),
    **dict.fromkeys(
        (
            "unsupported_subprotocol",
            "compression",
            "compression_context_takeover",
            "compression_window_bits",
            "compression_memory_level",
            "compression_level",
            "compression_threshold",
        ),
        "Subprotocols and compression",
    ),
    **dict.fromkeys(
        (
            "tls_cert",
            "tls_key",
            "jwt_secret",
            "jwt_public_key",
            "jwks_url",
            "jwks_refresh",
            "jwt_audience",
            "jwt_issuer",
            "jwt_leeway",
            "jwt_roles_claim",
            "auth_cookie",
            "jwt_replay_protection",
            "auth_style",
            "allow_anonymous",
            "message_rate",
            "message_burst",
            "user_message_rate",
            "user_message_burst",
            "max_connections_per_user",
            "flood_strikes",
            "flood_window",
            "channel_create_rate",
            "channel_create_burst",
            "payload_keys",
            "payload_ttl",
            "max_connections_per_address",
            "connection_rate_per_address",
            "connection_burst_per_address",
            "ban_after",
            "ban_window",
            "ban_duration",
            "trusted_proxies",
            "allowed_origin",
            "require_origin",
        ),
        "Security",
    ),
    **dict.fromkeys(EdgeSettings.model_fields, "Edge node (switchboard edge)"),
}


_SERVE_HELP = (
    "Serve WebSockets until SIGTERM/SIGINT, then drain gracefully and exit 0.\n\n"
    "Every option is also a key of the TOML file and a SWITCHBOARD_<NAME> environment variable "
    "(for example SWITCHBOARD_MAX_MESSAGE_SIZE); flags win over the environment, which wins "
    "over the file. Settings given to App(...) in code are replaced by these."
)


def serve(run: Callable[[App], None] = App.run, **flags: Any) -> None:
    """Load settings from the flags, environment and file; ``run`` the server."""
    config = flags.pop("config")
    target = flags.pop("target")
    try:
        settings = load_settings(config, **flags)
    except ValidationError as exc:
        given = [name for name, value in flags.items() if value is not None]
        lines = "".join(f"\n  {line}" for line in settings_errors(exc, config, given))
        typer.echo(f"switchboard: invalid settings:{lines}", err=True)
        raise typer.Exit(2) from None
    except tomllib.TOMLDecodeError as exc:
        typer.echo(f"switchboard: invalid settings: {toml_error(config, exc)}", err=True)
        raise typer.Exit(2) from None
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"switchboard: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from None
    if settings.workers != 1:  # the supervisor of the worker processes (workers/)
        from .workers import supervise

        raise typer.Exit(supervise(settings, sys.argv[1:]))
    app = load_app(target) if target else App()
    app.settings = settings
    configure_logging(
        settings.log_level,
        settings.log_format,
        settings.node_id,
        settings.audit_log,
        log_file=settings.log_file,
        error_log_file=settings.error_log_file,
    )
    try:
        run(app)
    except BrokerUnavailable as exc:
        typer.echo(f"switchboard: cannot start: the broker is unavailable ({exc})", err=True)
        raise typer.Exit(1) from None


def load_app(target: str) -> App:
    """Import ``module:attribute`` (attribute defaults to ``app``) from the working directory."""
    module_name, _, attribute = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found = getattr(importlib.import_module(module_name), attribute or "app")
    except (ImportError, AttributeError) as exc:
        typer.echo(f"switchboard: cannot load {target!r}: {exc}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(found, App):
        typer.echo(f"switchboard: {target!r} is a {type(found).__name__}, not an App", err=True)
        raise typer.Exit(2)
    return found


def _flag_parameter(name: str, field: FieldInfo) -> inspect.Parameter:
    annotation: Any = field.annotation
    choices = ""
    if get_origin(annotation) is Literal:
        choices = ", ".join(str(c) for c in get_args(annotation))
        annotation = str
    elif get_origin(annotation) in (Union, UnionType) and type(None) not in get_args(annotation):
        annotation = str  # a number or a word (`workers`: 2 or auto): the settings parse it
    flag = "--" + name.replace("_", "-")
    decls = [f"{flag}/--no-{flag[2:]}"] if annotation is bool else [flag]
    default = (
        "host name-process id"
        if name == "node_id"
        else _shown(field.get_default(call_default_factory=True, validated_data={}))
    )
    text = field.description or ""
    if choices:
        text += f" One of: {choices}."
    option = typer.Option(
        *decls,
        help=f"{text} (default: {default})",
        rich_help_panel=CLI_GROUPS.get(name, "Other"),
        show_default=False,
    )
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[Optional[annotation], option],  # noqa: UP045 - typer needs it
    )


def _flag_names() -> list[str]:
    """Every setting but the TOML-only tables, in the order of the help: panel by panel, then
    the ones in none."""
    rest = (name for name in Settings.model_fields if name not in CLI_GROUPS)
    return [name for name in (*CLI_GROUPS, *rest) if name not in TOML_ONLY]


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_shown(item) for item in value) or "none"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


_target_argument = inspect.Parameter(
    "target",
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    default=None,
    annotation=Annotated[
        Optional[str],  # noqa: UP045 - typer needs it
        typer.Argument(
            help="The App to serve, as module:attribute (myapp:app). Default: the built-in server.",
            show_default=False,
        ),
    ],
)
_config_flag = inspect.Parameter(
    "config",
    inspect.Parameter.KEYWORD_ONLY,
    default=None,
    annotation=Annotated[
        Optional[Path],  # noqa: UP045 - typer needs it
        typer.Option(
            "--config",
            help="TOML settings file: every setting below as a key, and the tables "
            f"{' and '.join(sorted(TOML_ONLY))}, which have no flag.",
            rich_help_panel="Settings file",
        ),
    ],
)
serve.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        _target_argument,
        _config_flag,
        *(_flag_parameter(n, Settings.model_fields[n]) for n in _flag_names()),
    ]
)
cli.command(help=_SERVE_HELP)(serve)


def edge(**flags: Any) -> None:
    serve(run_edge, **flags)


edge.__signature__ = serve.__signature__  # type: ignore[attr-defined]
cli.command(help=EDGE_HELP)(edge)


@cli.command()
def nodes(
    broker: Annotated[
        str,
        typer.Option(help="The cluster's broker, as given to serve.", envvar="SWITCHBOARD_BROKER"),
    ],
    broker_prefix: Annotated[
        str, typer.Option(help="Its key prefix.", envvar="SWITCHBOARD_BROKER_PREFIX")
    ] = "sb:",
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Print the nodes of a cluster: the node registry in its Redis."""
    from .cluster.listing import as_json, read_nodes, table

    try:
        found = asyncio.run(read_nodes(broker, broker_prefix))
    except (BrokerUnavailable, ValueError) as exc:
        typer.echo(f"switchboard: cannot read the nodes: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(as_json(found) if json_output else table(found))


@cli.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("switchboard"))


register_bench(cli)
cli.command()(token)
cli.command("check-config")(check_config)


def main() -> None:
    cli()
