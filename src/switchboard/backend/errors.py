"""What a backend call can end in, as the error frame or close code a client gets.

::

    RequestError (switchboard.errors)
    ├── BackendUnavailable   not done: circuit open, over the concurrency limit, timeout,
    │                        no connection, a 5xx or an unreadable answer; ``UNAVAILABLE``
    │                        (retryable), a refused ``$connect`` closes 1013 (1011 for a 500)
    └── BackendRefused       the backend answered 4xx: its code (403 -> ``FORBIDDEN``, ...),
                             a refused ``$connect`` closes 4401/4403/1008/1013

httpx's exceptions are translated here, in ``client.py``, so nothing above sees them.
Neither message ever holds the URL, a header or the secret.
"""

from __future__ import annotations

from ..errors import RequestError
from ..protocol.codes import CloseCode, ErrorCode

#: ``kind`` of a :class:`BackendUnavailable`, also the ``outcome`` label of the metrics.
CIRCUIT_OPEN = "circuit_open"
BUSY = "busy"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
FAILED = "failed"
BAD_ANSWER = "bad_answer"

_MESSAGES = {
    CIRCUIT_OPEN: "the backend is unavailable just now (circuit open); try again later",
    BUSY: "the backend is busy; try again",
    TIMEOUT: "the backend did not answer in time; try again",
    UNREACHABLE: "the backend cannot be reached just now; try again",
    FAILED: "the backend failed; try again",
    BAD_ANSWER: "the backend's answer could not be read",
}

#: A 4xx answer's status to the error code a message route answers with.
_REFUSAL_CODES = {
    400: ErrorCode.INVALID_MESSAGE_FORMAT,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    413: ErrorCode.MESSAGE_TOO_LARGE,
    422: ErrorCode.INVALID_MESSAGE_FORMAT,
    429: ErrorCode.RATE_LIMIT_EXCEEDED,
}
#: A 4xx answer's status to the close code of a refused ``$connect``.
_REFUSAL_CLOSES = {
    401: CloseCode.NO_TOKEN,
    403: CloseCode.INVALID_TOKEN,
    429: CloseCode.TRY_AGAIN_LATER,
}
#: 5xx answers that say "not now" rather than "broken": a refused ``$connect`` closes 1013.
_TRANSIENT = frozenset({502, 503, 504})


class BackendUnavailable(RequestError):
    """The backend call was not done; the client may retry (``UNAVAILABLE``)."""

    close_code: int

    def __init__(self, kind: str, status: int | None = None) -> None:
        super().__init__(ErrorCode.UNAVAILABLE, _MESSAGES[kind])
        self.kind = kind
        self.status = status
        self.close_code = (
            CloseCode.INTERNAL_ERROR
            if status is not None and status not in _TRANSIENT
            else CloseCode.TRY_AGAIN_LATER
        )


class BackendRefused(RequestError):
    """The backend answered 4xx: the request is refused, with a code from the status."""

    close_code: int

    def __init__(self, status: int, message: str | None = None, reason: str | None = None) -> None:
        code = _REFUSAL_CODES.get(status, ErrorCode.FORBIDDEN)
        super().__init__(code, message or f"refused by the backend ({status})")
        self.status = status
        self.close_code = _REFUSAL_CLOSES.get(status, CloseCode.POLICY_VIOLATION)
        #: The close frame's reason for a refused ``$connect``.
        self.reason = reason or message or "refused by the backend"
