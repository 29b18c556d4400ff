"""JWKS keys: loading, key choice by kid and type, refetch on an unknown kid (real HTTP)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import jwt
import pytest
import websockets
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from websockets.exceptions import InvalidStatus

from switchboard.security.jwks import JwksKeys

from ..conftest import StartServer, recv_json, wait_until, ws_url
from .keys import ec_pair, rsa_pair, token


def jwk(public_pem: str, kid: str, kind: str = "RSA") -> dict[str, Any]:
    algorithm = RSAAlgorithm if kind == "RSA" else ECAlgorithm
    key = algorithm(algorithm.SHA256).prepare_key(public_pem)
    entry = dict(json.loads(algorithm.to_jwk(key)))
    entry["kid"] = kid
    return entry


def test_keys_are_chosen_by_kid_and_only_for_their_algorithms(tmp_path: Path) -> None:
    document = {"keys": [jwk(rsa_pair()[1], "r1"), jwk(ec_pair()[1], "e1", "EC"), {"kty": "?"}]}
    source = tmp_path / "jwks.json"
    source.write_text(json.dumps(document))
    keys = JwksKeys(str(source))
    assert asyncio.run(keys.fetch())
    assert len(keys) == 2  # the malformed entry is skipped
    assert keys.key_for("r1", "RS256") is not None
    assert keys.key_for("e1", "ES256") is not None
    assert keys.key_for("r1", "HS256") is None  # no HMAC with a public key
    assert keys.key_for("e1", "RS256") is None
    assert keys.key_for("nope", "RS256") is None
    source.write_text("[]")
    assert not asyncio.run(keys.fetch())  # not a JWKS: refused, old keys kept
    assert len(keys) == 2


class _Jwks(BaseHTTPRequestHandler):
    document: ClassVar[dict[str, Any]] = {"keys": []}
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = json.dumps(self.document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, type[_Jwks]]]:
    handler = type("Handler", (_Jwks,), {"document": {"keys": []}, "hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", handler
    server.shutdown()


async def test_jwks_url_with_rotation(
    start_server: StartServer,
    jwks_server: tuple[str, type[_Jwks]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url_of_jwks, handler = jwks_server
    handler.document = {"keys": [jwk(rsa_pair()[1], "k1")]}
    monkeypatch.setattr(JwksKeys, "MIN_REFETCH", 0.0)
    app = await start_server(jwks_url=url_of_jwks, jwks_refresh=3600)
    url = ws_url(app)
    signed = jwt.encode(
        {"sub": "kim", "exp": 2**31}, rsa_pair()[0], algorithm="RS256", headers={"kid": "k1"}
    )
    async with websockets.connect(f"{url}?token={signed}") as ws:
        assert (await recv_json(ws))["type"] == "welcome"
    # The issuer rotates to an EC key; the first token with the new kid triggers a refetch.
    handler.document = {"keys": [jwk(rsa_pair()[1], "k1"), jwk(ec_pair()[1], "k2", "EC")]}
    rotated = jwt.encode(
        {"sub": "kim", "exp": 2**31}, ec_pair()[0], algorithm="ES256", headers={"kid": "k2"}
    )
    hits = handler.hits
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(f"{url}?token={rotated}"):
            pass
    assert refused.value.response.body == b'{"error":"unknown signing key"}'
    keys = app._jwks  # the app's key cache
    assert keys is not None
    await wait_until(lambda: handler.hits > hits and len(keys) == 2)  # fetched, then loaded
    async with websockets.connect(f"{url}?token={rotated}") as ws:
        assert (await recv_json(ws))["type"] == "welcome"

    with pytest.raises(InvalidStatus):
        async with websockets.connect(f"{url}?token={token()}"):
            pass
