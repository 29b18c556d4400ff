"""``switchboard check-config``: the settings ``serve`` would run with, where each came from,
secrets masked.

Sources, in the order ``serve`` reads them: ``SWITCHBOARD_<NAME>`` environment variables,
then the TOML file (``--config``), then the default (``serve``'s flags would come first; this
command has none of them). A value that cannot be used fails as ``serve`` would, with the
same one-line-per-field message and exit status 2.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer
from pydantic import ValidationError

from .config import Settings, load_settings
from .config.errors import settings_errors

#: Settings shown as ``***`` when set: keys and passwords.
SECRETS = frozenset({"api_key", "jwt_secret", "payload_keys"})


def masked(name: str, value: Any) -> Any:
    """``value`` fit to print: secrets hidden, and a password in any URL (the broker's, the
    edge's upstream, a backend route's) too."""
    if value is None:
        return None
    if name in SECRETS:
        return "***"
    return _urls_masked(value)


def _urls_masked(value: Any) -> Any:
    if isinstance(value, str) and "://" in value:
        return ",".join(_without_password(url) for url in value.split(","))
    if isinstance(value, dict):
        return {key: _urls_masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_urls_masked(item) for item in value]
    return value


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def sources(config: Path | None) -> dict[str, str]:
    """Where each setting given anywhere came from (the others are defaults)."""
    found: dict[str, str] = {}
    if config is not None:
        with config.open("rb") as fh:
            for name in tomllib.load(fh):
                found[name] = str(config)
    for name in Settings.model_fields:
        variable = f"SWITCHBOARD_{name.upper()}"
        if variable in os.environ:
            found[name] = variable
    return found


def check_config(
    config: Annotated[Path | None, typer.Option("--config", help="TOML settings file.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    changed: Annotated[
        bool, typer.Option("--changed", help="Only the settings that are not defaults.")
    ] = False,
) -> None:
    """Print the effective settings and where each came from, secrets masked."""
    try:
        settings = load_settings(config)
    except ValidationError as exc:
        typer.echo(f"switchboard: invalid settings:\n{settings_errors(exc)}", err=True)
        raise typer.Exit(2) from None
    except (FileNotFoundError, ValueError, tomllib.TOMLDecodeError) as exc:
        typer.echo(f"switchboard: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from None
    origin = sources(config)
    rows = []
    for name in Settings.model_fields:
        source = origin.get(name, "default")
        if changed and source == "default":
            continue
        value = masked(name, settings.model_dump(mode="json")[name])
        rows.append({"setting": name, "value": value, "source": source})
    if json_output:
        typer.echo(json.dumps(rows, indent=1))
        return
    width = max((len(row["setting"]) for row in rows), default=0)
    for row in rows:
        value = json.dumps(row["value"])
        typer.echo(f"{row['setting']:<{width}}  {value}  ({row['source']})")
