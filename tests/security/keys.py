"""Key pairs and token makers for the authentication tests (generated, never committed)."""

from __future__ import annotations

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
