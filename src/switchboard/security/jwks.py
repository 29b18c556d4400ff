"""Verification keys from a JWKS document (a URL or a file), cached and refreshed.

The document is fetched in a worker thread, never on the event loop: once at start-up and
then every ``refresh`` seconds, plus (at most once per ``MIN_REFETCH`` seconds) when a token
names a key id the cache does not know, which is how a rotated key is picked up early. A
failed fetch keeps the keys already known and is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import jwt
import structlog

log = structlog.get_logger("switchboard.security")

#: Algorithms each JWK key type may verify (no HMAC with a public key, no RSA with EC, ...).
ALGORITHMS_BY_KEY_TYPE = {
    "RSA": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    "EC": ("ES256", "ES384", "ES512"),
    "OKP": ("EdDSA",),
    "oct": ("HS256", "HS384", "HS512"),
}
MAX_DOCUMENT_BYTES = 1024 * 1024


class JwksKeys:
    """Key id -> key, from one JWKS source."""

    MIN_REFETCH = 30.0

    def __init__(self, source: str, refresh: float = 300.0) -> None:
        self.source = source
        self.refresh = refresh
        self._keys: dict[str, jwt.PyJWK] = {}
        self._last_fetch = float("-inf")
        self._task: asyncio.Task[None] | None = None
        #: Set to ask the refresh loop for an early fetch (exists while ``run`` runs).
        self._wanted: asyncio.Event | None = None

    def key_for(self, kid: str | None, algorithm: str) -> Any:
        """The key to verify ``algorithm`` with, or None (an unknown id asks for a refetch)."""
        jwk = self._keys.get(kid or "") if kid else _only(self._keys)
        if jwk is None:
            self._want_refetch()
            return None
        if algorithm not in ALGORITHMS_BY_KEY_TYPE.get(str(jwk.key_type), ()):
            return None
        return jwk.key

    def load(self, document: dict[str, Any]) -> int:
        """Replace the keys with those of ``document``; returns how many were usable."""
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            try:
                jwk = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
                log.warning("jwks_key_skipped", source=self.source, error=str(exc))
                continue
            keys[jwk.key_id or ""] = jwk
        self._keys = keys
        return len(keys)

    async def fetch(self) -> bool:
        """Fetch and load the document now (in a thread); False, keeping the old keys, on error."""
        self._last_fetch = time.monotonic()
        try:
            document = await asyncio.to_thread(_read, self.source)
            count = self.load(document)
        except (OSError, ValueError) as exc:
            log.error("jwks_fetch_failed", source=self.source, error=str(exc))
            return False
        log.info("jwks_loaded", source=self.source, keys=count)
        return True

    async def run(self) -> None:
        """Keep the keys fresh until cancelled."""
        wanted = self._wanted = asyncio.Event()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wanted.wait(), self.refresh)
            wanted.clear()
            await self.fetch()

    def start(self) -> None:
        self._task = asyncio.ensure_future(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _want_refetch(self) -> None:
        if self._wanted is not None and time.monotonic() - self._last_fetch >= self.MIN_REFETCH:
            self._last_fetch = time.monotonic()
            self._wanted.set()

    def __len__(self) -> int:
        return len(self._keys)


def _only(keys: dict[str, jwt.PyJWK]) -> jwt.PyJWK | None:
    """A token without ``kid`` may use the set's only key."""
    return next(iter(keys.values())) if len(keys) == 1 else None


def _read(source: str) -> dict[str, Any]:
    """The JWKS document at ``source``: an http(s) URL or a file path."""
    if source.startswith(("https://", "http://")):
        with urllib.request.urlopen(source, timeout=10) as response:
            body = response.read(MAX_DOCUMENT_BYTES + 1)
    else:
        body = Path(source).read_bytes()[: MAX_DOCUMENT_BYTES + 1]
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ValueError("JWKS document larger than 1 MiB")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("JWKS document is not a JSON object")
    return document
