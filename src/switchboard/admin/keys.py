"""The management API's key: the header it comes in, and whether a request's key lets it in."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from fastapi.security import APIKeyHeader

if TYPE_CHECKING:
    from ..config import Settings

API_KEY_HEADER = "X-API-Key"
key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="The api_key.")


def key_matches(given: str | None, expected: str | None, insecure: bool) -> bool:
    """Whether ``given`` is the configured key (constant time); with none configured, only
    ``insecure`` lets callers in."""
    if expected is None:
        return insecure
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def key_refusal(given: str | None, settings: Settings) -> str | None:
    """Why a management request with key ``given`` is refused (401), or None."""
    if key_matches(given, settings.api_key, settings.admin_insecure):
        return None
    if settings.api_key is None:
        return "the management API is off: set api_key"
    return f"missing or wrong API key in the {API_KEY_HEADER} header"
