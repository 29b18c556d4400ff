"""Key pairs and token makers for the authentication tests (generated, never committed)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SECRET = "test-secret-that-is-long-enough-for-hs512-0123456789abcdef0123456789abcdef"


@cache
def rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _pem(key), _public_pem(key)


@cache
def ec_pair() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    return _pem(key), _public_pem(key)


def _pem(key: Any) -> str:
    return str(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    )


def _public_pem(key: Any) -> str:
    return str(
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def token(
    sub: str | None = "alice",
    *,
    key: str = SECRET,
    algorithm: str = "HS256",
    expires_in: float | None = 300,
    **claims: Any,
) -> str:
    """A signed JWT; ``sub``/``exp`` None leave the claim out."""
    payload: dict[str, Any] = dict(claims)
    if sub is not None:
        payload["sub"] = sub
    if expires_in is not None:
        payload["exp"] = int(time.time() + expires_in)
    return jwt.encode(payload, key, algorithm=algorithm)


def forged_none() -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': 'mallory', 'exp': 2**40})}."


def confused() -> str:
    """An HS256 token whose "secret" is the server's RSA public key (algorithm confusion)."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(b'{"sub":"mallory","exp":9999999999}').rstrip(b"=")

    signing_input = header + b"." + body
    mac = hmac.new(rsa_pair()[1].encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()
