"""How the Redis broker reads what Redis holds: stream entries as publications, new epochs."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from ...protocol.codecs import DataFormat
from ..base import Publication, StreamPosition


def _is_new(last: StreamPosition | None, publication: Publication) -> bool:
    """Whether ``publication`` comes after ``last`` (another epoch always does)."""
    return last is None or last.epoch != publication.epoch or publication.offset > last.offset


#: Epochs this process hands out: a random prefix, then a counter (unique, without a system
#: call per publish: the script uses one only when the channel has none).
_epoch_prefix = secrets.token_urlsafe(4)
_epochs = itertools.count()


def _new_epoch() -> str:
    return f"{_epoch_prefix}{next(_epochs):x}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _kept(channel: str, epoch: str, entries: list[Any], now_ms: int) -> list[Publication]:
    """Stream entries as publications, those past their expiry left out."""
    kept = []
    for entry_id, fields in entries:
        values = dict(zip(fields[::2], fields[1::2], strict=True))
        if int(values[b"x"]) <= now_ms:
            continue
        offset = int(_text(entry_id).split("-", 1)[0])
        data_format = DataFormat(_text(values[b"f"]))
        kept.append(Publication(channel, offset, epoch, values[b"d"], data_format))
    return kept
