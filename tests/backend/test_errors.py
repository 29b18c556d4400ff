"""A backend's answer as the error code or close code a client sees."""

from __future__ import annotations

import pytest

from switchboard.backend.errors import (
    BUSY,
    CIRCUIT_OPEN,
    FAILED,
    TIMEOUT,
    BackendRefused,
    BackendUnavailable,
)


@pytest.mark.parametrize(
    ("status", "code", "close_code"),
    [
        (400, "INVALID_MESSAGE_FORMAT", 1008),
        (401, "UNAUTHORIZED", 4401),
        (403, "FORBIDDEN", 4403),
        (404, "NOT_FOUND", 1008),
        (409, "FORBIDDEN", 1008),
        (413, "MESSAGE_TOO_LARGE", 1008),
        (422, "INVALID_MESSAGE_FORMAT", 1008),
        (429, "RATE_LIMIT_EXCEEDED", 1013),
    ],
)
def test_a_refusal_maps_its_status(status: int, code: str, close_code: int) -> None:
    refused = BackendRefused(status)
    assert (refused.code, refused.close_code) == (code, close_code)
    assert refused.message == f"refused by the backend ({status})"


@pytest.mark.parametrize(
    ("kind", "status", "close_code"),
    [(CIRCUIT_OPEN, None, 1013), (BUSY, None, 1013), (TIMEOUT, None, 1013),
     (FAILED, 503, 1013), (FAILED, 500, 1011), (FAILED, 302, 1011)],
)  # fmt: skip
def test_unavailable_is_retryable_and_closes_1013_unless_the_backend_broke(
    kind: str, status: int | None, close_code: int
) -> None:
    exc = BackendUnavailable(kind, status)
    assert exc.code == "UNAVAILABLE" and exc.close_code == close_code
    assert "http" not in exc.message
