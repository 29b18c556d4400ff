"""Channel names: what is valid, and which namespace a channel belongs to.

A channel name is 1 to 255 characters from ``A-Z a-z 0-9 _ - . : @ # = / ,``. Its namespace
is the part before the first ``:`` (``room:42`` is in namespace ``room``); a name without
``:`` is in the default namespace ``""``.
"""

from __future__ import annotations

import re

MAX_CHANNEL_LENGTH = 255
_VALID = re.compile(rf"[A-Za-z0-9_\-.:@#=/,]{{1,{MAX_CHANNEL_LENGTH}}}")


def is_valid_channel(name: str) -> bool:
    return _VALID.fullmatch(name) is not None


def namespace_of(channel: str) -> str:
    """``room:42`` -> ``room``; ``lobby`` -> ``""``."""
    namespace, sep, _ = channel.partition(":")
    return namespace if sep else ""
