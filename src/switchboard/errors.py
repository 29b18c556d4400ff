"""Every exception Switchboard raises, in one tree, each with the codes a client will see.

::

    SwitchboardError                 error_code / close_code: what the client sees
    ├── ClientError                  the remote side's fault (a client or an API caller)
    │   ├── RequestError             this request fails: an ``error`` frame, the connection stays
    │   │   ├── EnvelopeError        the message could not be decoded or routed
    │   │   ├── BackendUnavailable   a backend call not done: ``UNAVAILABLE`` (backend/errors.py)
    │   │   └── BackendRefused       the HTTP backend answered 4xx: its code (backend/errors.py)
    │   ├── ProtocolViolation        a WebSocket rule was broken: the connection closes
    │   └── AuthError                no or a bad credential: HTTP 401/403, or close 4401/4403
    ├── Reject                       the application refuses a connection (``on_connect``)
    ├── BrokerUnavailable            the broker cannot be reached: ``UNAVAILABLE``, retryable
    ├── LifecycleError               a state change its table forbids: a bug, not a client's doing
    ├── ApiError                     a control-plane answer: HTTP status and code (admin/errors.py)
    ├── ErrorReply                   switchboard.client: the server answered with an error frame
    ├── ConnectionLost               switchboard.client: no answer, the connection dropped
    ├── SignatureError               verify_signature: a backend request badly signed or too old
    └── BenchError                   switchboard bench: a run refused or failed
        ├── TargetRefused            not a loopback target (and no --allow-remote)
        ├── PlanError                options that make no run
        └── BenchFailed              the load generators did not finish

``error_code`` is the ``code`` of the ``error`` frame a request gets (None: the connection
closes instead); ``close_code`` is the WebSocket close code, where the error closes the
connection. Errors of other libraries are translated where the layers meet: PyJWT's in
``security/auth.py`` (:class:`AuthError`), the broker client's in its broker module
(:class:`BrokerUnavailable`), so nothing above them catches a foreign exception.
"""

from __future__ import annotations

from typing import Any

from .protocol.codes import CloseCode, ErrorCode

__all__ = [
    "AuthError",
    "BenchError",
    "BenchFailed",
    "BrokerUnavailable",
    "ClientError",
    "ConnectionLost",
    "EnvelopeError",
    "ErrorReply",
    "LifecycleError",
    "PlanError",
    "ProtocolViolation",
    "Reject",
    "RequestError",
    "SwitchboardError",
    "TargetRefused",
]

RequestId = str | int | None


class SwitchboardError(Exception):
    """The root: what went wrong, and what the client is told."""

    #: The ``error`` frame's code a request gets; None when the connection closes instead.
    error_code: ErrorCode | None = ErrorCode.INTERNAL_ERROR
    #: The close code, when this error closes the connection.
    close_code: int | None = None


class ClientError(SwitchboardError):
    """The remote side sent something it must not: its fault, not the server's."""


class RequestError(ClientError):
    """This request cannot be done; the client gets ``code`` and ``message``, nothing closes."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = self.error_code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class EnvelopeError(RequestError):
    """A client message that cannot be routed; answered with an ``error`` frame."""

    def __init__(self, code: ErrorCode, message: str, request_id: RequestId = None) -> None:
        super().__init__(code, message)
        self.request_id = request_id


class ProtocolViolation(ClientError):
    """The peer broke a protocol rule; the connection must close with ``close_code``."""

    error_code = None
    close_code: CloseCode

    def __init__(self, close_code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.close_code = close_code
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason} (close {int(self.close_code)})"


class AuthError(ClientError):
    """A refused handshake: HTTP ``status`` or, in the in-band style, ``close_code``."""

    error_code = ErrorCode.UNAUTHORIZED
    close_code: CloseCode

    def __init__(self, missing: bool, reason: str) -> None:
        super().__init__(reason)
        self.missing = missing
        self.reason = reason
        self.close_code = CloseCode.NO_TOKEN if missing else CloseCode.INVALID_TOKEN

    @property
    def status(self) -> int:
        return 401 if self.missing else 403


class Reject(SwitchboardError):
    """Raise in ``on_connect`` to refuse a connection with a close code and reason."""

    error_code = None
    close_code: int

    def __init__(self, code: int = CloseCode.POLICY_VIOLATION, reason: str = "rejected") -> None:
        super().__init__(reason)
        self.code = self.close_code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"connection rejected with {self.code}: {self.reason}"


class BrokerUnavailable(SwitchboardError):
    """The broker cannot be reached; what was asked did not happen (the client may retry)."""

    error_code = ErrorCode.UNAVAILABLE


class LifecycleError(SwitchboardError):
    """A connection or node state change that ``core/lifecycle.py``'s tables do not allow:
    a bug in Switchboard, never a client's doing."""


class ErrorReply(SwitchboardError):
    """``switchboard.client``: the server answered a request with an ``error`` frame
    (``code``, e.g. ``FORBIDDEN``; the whole ``frame``)."""

    def __init__(self, frame: dict[str, Any]) -> None:
        self.code: str = str(frame.get("code", ""))
        self.frame = frame
        super().__init__(f"{self.code}: {frame.get('message', '')}")


class ConnectionLost(SwitchboardError):
    """``switchboard.client``: the connection dropped (or was not up) before the request
    was answered; it may or may not have been done."""


class BenchError(SwitchboardError):
    """``switchboard bench``: a run that was refused or failed (exit status 2)."""


class TargetRefused(BenchError, ValueError):
    """The target is not on loopback (127.0.0.0/8, ::1, localhost) and ``--allow-remote``
    was not given, or it is not a ws:// or wss:// URL."""


class PlanError(BenchError, ValueError):
    """The options make no run (a count that is not positive, more connections than the
    open-file limit allows, ...)."""


class BenchFailed(BenchError, RuntimeError):
    """The load generators failed or did not finish in time."""
