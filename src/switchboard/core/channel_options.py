"""The options of a channel's namespace that the core needs."""

from __future__ import annotations

import msgspec

from ..broker.base import HistoryOptions


class ChannelOptions(msgspec.Struct, frozen=True):
    """The per-namespace options the core needs (mirrors ``config.NamespaceOptions``)."""

    history: HistoryOptions
    publish: bool = True
    presence: bool = False
    join_leave: bool = False
