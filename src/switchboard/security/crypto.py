"""``v1.fernet``: the JSON envelope encrypted with Fernet (AES-128-CBC + HMAC-SHA256).

A connection that negotiates ``v1.fernet`` sends and receives binary frames that are Fernet
tokens of the ``v1.json`` envelope. The server holds the keys (``payload_keys``): the first
encrypts, every one decrypts (``MultiFernet``), so keys rotate by putting the new key first
and dropping the old one once clients have moved. With ``payload_ttl`` a token older than
that many seconds is refused (a replay window).

Threat model, briefly: it keeps message contents from anything between the client and this
process that can read the stream (a TLS-terminating CDN or load balancer, a proxy's debug
logs, a packet capture behind the TLS terminator) and detects tampering. It does not hide
sizes, timing or who talks to whom, gives no forward secrecy (a leaked key opens every past
message recorded), and does not protect from the server itself, which decrypts everything.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ..errors import EnvelopeError
from ..protocol.codecs import Codec, DataFormat
from ..protocol.codes import ErrorCode
from ..protocol.envelope import Envelope, decode_envelope
from ..protocol.frames import Opcode

_json_envelope = msgspec.json.Decoder(Envelope)
_json_encode = msgspec.json.Encoder().encode


def fernet_codec(keys: Sequence[str], ttl: int | None = None) -> Codec:
    """The ``v1.fernet`` codec for ``keys`` (url-safe base64 Fernet keys, newest first)."""
    if not keys:
        raise ValueError("payload encryption needs at least one key")
    crypto = MultiFernet([Fernet(key.encode()) for key in keys])

    def plaintext(payload: bytes) -> bytes:
        try:
            return crypto.decrypt(payload, ttl=ttl)
        except InvalidToken:
            reason = "payload could not be decrypted: wrong key, tampered, or expired"
            raise EnvelopeError(ErrorCode.INVALID_MESSAGE_FORMAT, reason) from None

    def decode(payload: bytes) -> Envelope:
        clear = plaintext(payload)
        try:
            # Binary frames skip the listener's UTF-8 check, and raw JSON data is passed on
            # unread: text clients must never get what their own codec would have refused.
            clear.decode("utf-8")
        except UnicodeDecodeError:
            reason = "decrypted payload is not valid UTF-8 JSON"
            raise EnvelopeError(ErrorCode.INVALID_MESSAGE_FORMAT, reason) from None
        try:
            return _json_envelope.decode(clear)
        except msgspec.DecodeError:
            decode_envelope(clear)  # raises the same EnvelopeError v1.json would
            raise

    def explain(payload: bytes) -> EnvelopeError:
        return EnvelopeError(ErrorCode.INVALID_MESSAGE_FORMAT, "invalid encrypted envelope")

    def encode(message: object) -> bytes:
        return crypto.encrypt(_json_encode(message))

    return Codec(
        "v1.fernet",
        Opcode.BINARY.value,
        DataFormat.JSON,
        decode=decode,
        explain=explain,
        encode=encode,
    )


def validate_keys(keys: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the first key that is not a Fernet key."""
    for index, key in enumerate(keys):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ValueError(f"payload_keys[{index}] is not a Fernet key") from None
