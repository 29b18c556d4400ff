"""Signing the events Switchboard POSTs, and the check a backend runs on each of them.

The header is ``X-Switchboard-Signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is
HMAC-SHA256, keyed with the shared secret, over ``b"<t>." + body`` (the raw request body,
byte for byte). The timestamp inside the signed bytes makes an old request useless to
replay once it is older than the backend's tolerance. A header may carry several ``v1``
entries (one per secret while a secret is rotated); one match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from ..errors import SwitchboardError

#: The request header that carries the signature.
SIGNATURE_HEADER = "X-Switchboard-Signature"
#: Seconds by which a request's timestamp may differ from the backend's clock.
DEFAULT_TOLERANCE = 300


class SignatureError(SwitchboardError, ValueError):
    """A request whose signature does not check out; the message says why, never the key.
    (Raised in the backend that verifies, not by the server: no code a client sees.)"""

    error_code = None


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def signature(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``b"<timestamp>." + body``."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(_key(secret), signed, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, timestamp: int | None = None) -> str:
    """The value of the ``X-Switchboard-Signature`` header for ``body`` (now, by default)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},v1={signature(secret, stamp, body)}"


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> int:
    """Check a request from Switchboard; return its timestamp, or raise :class:`SignatureError`.

    ``header`` is the ``X-Switchboard-Signature`` value, ``body`` the raw request body (read
    it as bytes before parsing it: a re-encoded body does not match). ``tolerance``: how many
    seconds old (or ahead of this clock) the timestamp may be.
    """
    if not header:
        raise SignatureError("no signature header")
    stamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            try:
                stamp = int(value)
            except ValueError:
                raise SignatureError("the signature's timestamp is not a number") from None
        elif name == "v1" and value:
            candidates.append(value)
    if stamp is None or not candidates:
        raise SignatureError("the signature header needs t= and v1=")
    clock = time.time() if now is None else now
    if abs(clock - stamp) > tolerance:
        raise SignatureError("the signature's timestamp is outside the tolerance")
    expected = signature(secret, stamp, body)
    # Every candidate is compared, in constant time, whichever matches.
    if not any([hmac.compare_digest(expected, candidate) for candidate in candidates]):
        raise SignatureError("the signature does not match the body")
    return stamp
