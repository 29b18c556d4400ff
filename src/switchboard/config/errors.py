"""Settings errors as one line per field: where the value came from, and why it is refused.

A line names the flag, the environment variable or the TOML file's key that gave the value
(the layer that won, see :mod:`.settings`), and suggests the closest setting for a key that
is none. It never repeats the value: a field may hold a secret (an API key, a Redis URL with
a password), and pydantic's messages are asked without their input.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .channels import NamespaceOptions
from .settings import TOML_ONLY, Settings

ENV_PREFIX = "SWITCHBOARD_"


def settings_errors(
    exc: ValidationError,
    config_file: Path | None = None,
    flags: Collection[str] = (),
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """One line per error of ``exc``; ``flags``: the settings the command line gave."""
    env = {name.upper() for name in (os.environ if environ is None else environ)}
    in_file = _toml_keys(config_file)
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [str(part) for part in error["loc"]]
        if not loc:  # a check across fields: no one place to point at
            lines.append(f"settings: {error['msg']}")
            continue
        name, where = loc[0], ".".join(loc)
        dashed = "--" + name.replace("_", "-")
        variable = ENV_PREFIX + name.upper()
        if name in flags:
            origin = dashed
        elif variable in env:
            origin = variable
        elif name in in_file and config_file is not None:
            origin = f"in {config_file}"
        elif name in TOML_ONLY:
            origin = f"the TOML file or {variable}"
        else:
            origin = f"{dashed}, {variable} or the TOML file"
        why = error["msg"]
        if error["type"] == "extra_forbidden":
            why = "not a setting" + _closest(loc)
        lines.append(f"{where} ({origin}): {why}")
    return lines


def toml_error(config_file: Path, exc: tomllib.TOMLDecodeError) -> str:
    """A file that is not TOML: its name and where it stops (the parser quotes no value)."""
    return f"{config_file} is not valid TOML: {exc}"


def _toml_keys(config_file: Path | None) -> set[str]:
    if config_file is None:
        return set()
    try:
        with config_file.open("rb") as file:
            return set(tomllib.load(file))
    except (OSError, tomllib.TOMLDecodeError):
        return set()


def _closest(loc: list[str]) -> str:
    """``"; did you mean `port`?"`` for ``prot``, from the keys allowed where it stands."""
    model: type[BaseModel] = Settings
    if len(loc) > 1 and loc[0] in TOML_ONLY:
        model = NamespaceOptions  # channel_defaults.<key> or namespaces.<name>.<key>
    known: list[Any] = list(model.model_fields)
    close = difflib.get_close_matches(loc[-1], known, n=1)
    return f"; did you mean `{close[0]}`?" if close else ""
