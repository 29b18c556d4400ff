"""Settings: defaults < TOML file (``--config``) < ``SWITCHBOARD_*`` environment < CLI flags.

One :class:`Settings` object, validated by pydantic, composed of one class per concern:
``server`` (the WebSocket port), ``cluster`` (this node among others), ``security``,
``channels`` and ``observability``; ``settings`` composes them and loads the layers.
"""

from __future__ import annotations

from .channels import NamespaceOptions
from .settings import TOML_ONLY, Settings, load_settings

__all__ = ["TOML_ONLY", "NamespaceOptions", "Settings", "load_settings"]

# The public path, not the private module, names these classes (as httpx does): in reprs,
# pickles and the type names ``switchboard serve --help`` shows.
for _public in (NamespaceOptions, Settings):
    _public.__module__ = __name__
del _public
