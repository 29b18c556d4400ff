"""Close codes and error codes that clients see, with whether to reconnect."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class CloseCode(IntEnum):
    """WebSocket close codes Switchboard sends (RFC 6455 section 7.4 plus our 4xxx range)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    TOO_MANY_CONNECTIONS = 4001
    HEARTBEAT_TIMEOUT = 4002
    SLOW_CONSUMER = 4008
    NO_TOKEN = 4401
    INVALID_TOKEN = 4403
    TOKEN_EXPIRED = 4410


#: Close codes after which a client should reconnect (with backoff); the others are terminal
#: until the client changes what it sends.
RECONNECT_CODES: frozenset[CloseCode] = frozenset(
    {
        CloseCode.GOING_AWAY,
        CloseCode.INTERNAL_ERROR,
        CloseCode.SERVICE_RESTART,
        CloseCode.TRY_AGAIN_LATER,
        CloseCode.HEARTBEAT_TIMEOUT,
        CloseCode.SLOW_CONSUMER,
        CloseCode.TOO_MANY_CONNECTIONS,
    }
)


class ErrorCode(StrEnum):
    """The `code` of an `error` frame; the connection stays open after any of these."""

    INVALID_JSON = "INVALID_JSON"
    INVALID_MESSAGE_FORMAT = "INVALID_MESSAGE_FORMAT"
    UNKNOWN_MESSAGE_TYPE = "UNKNOWN_MESSAGE_TYPE"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    NOT_FOUND = "NOT_FOUND"
    #: Retryable: the broker (or a backend) cannot be reached just now.
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
