"""The management API's parameters: path patterns, the close code, trace context, cursor pages."""

from __future__ import annotations

import bisect
from typing import Annotated

from fastapi import Header, Path, Query
from starlette.convertors import Convertor, register_url_convertor

from .errors import ApiError

#: Close codes an operator may send: normal, going away, policy, and the application range.
CLOSE_CODES = "1000, 1001, 1008, 1011, 1012, 1013 or 3000-4999"
#: Channel names as the WebSocket protocol allows them (``protocol/channels.py``).
CHANNEL_PATTERN = r"^[A-Za-z0-9_\-.:@#=/,]{1,255}$"
CONNECTION_PATTERN = r"^c-[A-Za-z0-9_\-]{1,62}$"
#: Printable ASCII, no spaces: what a client library puts in an ``Idempotency-Key`` header.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"
Traceparent = Annotated[str | None, Header(description="W3C trace context of the caller.")]
ChannelName = Annotated[str, Path(pattern=CHANNEL_PATTERN, description="A channel name.")]
ConnectionId = Annotated[
    str, Path(pattern=CONNECTION_PATTERN, description="A connection id (c-...).")
]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="The same key within 5 minutes answers the first publication again "
        "instead of publishing twice.",
    ),
]


class _ConnectionIdConvertor(Convertor[str]):
    """Only ``c-...`` names a connection, so ``/connections/count`` is never one."""

    regex = r"c-[A-Za-z0-9_\-]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("connection_id", _ConnectionIdConvertor())
CloseCodeParam = Annotated[
    int,
    Query(
        ge=1000,
        le=4999,
        description=f"The close code: {CLOSE_CODES}.",
        json_schema_extra={
            "anyOf": [{"enum": [1000, 1001, 1008, 1011, 1012, 1013]}, {"minimum": 3000}]
        },
    ),
]


def checked_close_code(code: int) -> int:
    """``code`` when an operator may send it, else 422."""
    if code in {1000, 1001, 1008, 1011, 1012, 1013} or 3000 <= code <= 4999:
        return code
    raise ApiError(422, f"code must be {CLOSE_CODES}", "INVALID_REQUEST")


def page(keys: list[str], cursor: str | None, limit: int) -> tuple[list[str], str | None]:
    """Of sorted ``keys``, the ``limit`` after ``cursor``, and the next page's cursor (None
    on the last page). A cursor is a key, so a page stays right when items come and go."""
    start = 0 if cursor is None else bisect.bisect_right(keys, cursor)
    found = keys[start : start + limit]
    more = start + limit < len(keys)
    return found, found[-1] if more and found else None
