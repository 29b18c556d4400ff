"""The one :class:`Settings`, composed of the settings of each concern, and how it is loaded.

Defaults < TOML file (``--config``) < ``SWITCHBOARD_*`` environment < CLI flags. Every field
is documented in ``docs/configuration.md`` and is a ``switchboard serve`` flag of the same
name with dashes (``max_message_size`` -> ``--max-message-size``). The keys stay flat: a
concern groups fields in the code, not in the file or the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .backend import BackendSettings
from .channels import ChannelSettings
from .cluster import ClusterSettings
from .edge import EdgeSettings
from .observability import ObservabilitySettings
from .security import SecuritySettings
from .server import ServerSettings

#: Settings that are tables, set in the TOML file (or as JSON in the environment), not flags.
TOML_ONLY = frozenset({"backend", "channel_defaults", "namespaces"})


# One base class per concern, each with its fields and their validators. pydantic takes the
# bases last first, fields and validators alike: the security checks still run before the
# server's, as when every field was in this class, and ``model_fields`` starts with
# observability's (the CLI orders its flags itself).
class Settings(
    ServerSettings,
    ClusterSettings,
    EdgeSettings,
    SecuritySettings,
    ChannelSettings,
    ObservabilitySettings,
    BackendSettings,
    BaseSettings,
):
    """Every knob of a Switchboard node."""

    model_config = SettingsConfigDict(
        env_prefix="SWITCHBOARD_", extra="forbid", validate_default=True
    )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from a TOML file, the environment and explicit overrides (CLI flags)."""

    class _Layered(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if config_file is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
            return tuple(sources)

    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")
    layered = _Layered(**{k: v for k, v in overrides.items() if v is not None})
    return Settings.model_validate(layered.model_dump())
