"""The upgrade handler without sockets: probes, refusals with their status, subprotocol choice.

Requests are picows ``WSUpgradeRequest`` objects built by hand, answered by an
``UpgradeHandler`` over a node from ``tests/core/fakes.py``.
"""

from __future__ import annotations

import json
from typing import Any

from multidict import CIMultiDict
from picows import WSUpgradeRequest, WSUpgradeResponseWithListener

from switchboard.core.lifecycle import NodeLifecycle, NodeState
from switchboard.core.node import Node
from switchboard.protocol.subprotocols import CODECS
from switchboard.security.auth import Authenticator, AuthSettings
from switchboard.security.gate import HandshakeGate
from switchboard.security.origin import OriginPolicy
from switchboard.transport.handshake import UpgradeHandler
from switchboard.transport.listener import Listener, ListenerLimits

from ..core.fakes import Client, make_node
from ..security.keys import SECRET, token

PEER = ("192.0.2.10", 40000)
UPGRADE = {
    "Host": "example.com",
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


def handler(node: Node | None = None, **options: Any) -> UpgradeHandler:
    settings: dict[str, Any] = {
        "path": "/ws",
        "max_connections": 100,
        "max_header_size": 4096,
        "limits": ListenerLimits(65536, 65536, 1.0),
        "codecs": CODECS,
        **options,
    }
    lifecycle = NodeLifecycle()
    lifecycle.enter(NodeState.READY)
    return UpgradeHandler(node or make_node(), lifecycle, **settings)


def request(path: str = "/ws", **headers: str) -> WSUpgradeRequest:
    req = WSUpgradeRequest()
    req.method, req.path, req.version = b"GET", path.encode(), b"HTTP/1.1"
    req.headers = CIMultiDict({**UPGRADE, **{k.replace("_", "-"): v for k, v in headers.items()}})
    return req


def answer(outcome: object) -> tuple[int, Any, CIMultiDict[str]]:
    """(status, decoded JSON body, headers) of an HTTP answer that is not an upgrade."""
    assert isinstance(outcome, WSUpgradeResponseWithListener) and outcome.listener is None
    body = json.loads(outcome.response.body) if outcome.response.body else None
    return int(outcome.response.status), body, outcome.response.headers


def upgraded(outcome: object) -> tuple[Listener, CIMultiDict[str]]:
    """The listener of an accepted upgrade, and the extra 101 headers (if any)."""
    if isinstance(outcome, Listener):
        return outcome, CIMultiDict()
    assert isinstance(outcome, WSUpgradeResponseWithListener)
    assert int(outcome.response.status) == 101
    assert isinstance(outcome.listener, Listener)
    return outcome.listener, outcome.response.headers


async def test_probes_answer_on_the_websocket_port() -> None:
    h = handler()
    assert answer(h(request("/health"), PEER))[:2] == (200, {"status": "ok"})
    assert answer(h(request("/ready"), PEER))[:2] == (200, {"status": "ready"})
    h.lifecycle.enter(NodeState.DRAINING)
    assert answer(h(request("/ready"), PEER))[:2] == (503, {"status": "draining"})
    assert answer(h(request("/health"), PEER))[0] == 200  # alive, just not taking new ones
    upgraded(h(request(), PEER))  # the drain's grace: still taken until the drain refuses
    h.lifecycle.refusing = True
    assert answer(h(request(), PEER))[:2] == (503, {"error": "server is shutting down"})


async def test_only_the_configured_path_upgrades_whatever_its_query() -> None:
    h = handler()
    assert answer(h(request("/other"), PEER))[:2] == (404, {"error": "not found"})
    listener, headers = upgraded(h(request("/ws?room=1"), PEER))
    assert listener.wire.codec.name == "v1.json"  # no subprotocol offered: v1.json
    assert "Sec-WebSocket-Protocol" not in headers
    again, _ = upgraded(h(request(), PEER))
    assert again.wire is listener.wire  # one shared wire: fan-out frames once


async def test_upgrade_headers_are_token_lists() -> None:
    h = handler()
    req = request(Connection="keep-alive, Upgrade", Upgrade="WebSocket")
    upgraded(h(req, PEER))
    assert (req.headers["Connection"], req.headers["Upgrade"]) == ("Upgrade", "websocket")
    status, body, _ = answer(h(request(Connection="keep-alive"), PEER))
    assert (status, body) == (400, {"error": "Connection header must include Upgrade"})
    assert answer(h(request(Upgrade="h2c"), PEER))[0] == 400


async def test_a_version_other_than_13_is_told_the_supported_one() -> None:
    h = handler()
    status, _, headers = answer(h(request(Sec_WebSocket_Version="8"), PEER))
    assert (status, headers["Sec-WebSocket-Version"]) == (426, "13")
    missing = request()
    del missing.headers["Sec-WebSocket-Version"]
    status, _, headers = answer(h(missing, PEER))
    assert (status, headers["Sec-WebSocket-Version"]) == (400, "13")


async def test_oversized_headers_get_431() -> None:
    h = handler(max_header_size=1024)
    assert answer(h(request(X_Junk="j" * 1100), PEER))[:2] == (
        431, {"error": "request headers too large"}
    )  # fmt: skip
    assert h.node.stats.handshake_rejected == {"headers_too_large": 1}


async def test_a_full_node_refuses_with_503_and_counts_it() -> None:
    node = make_node()
    h = handler(node, max_connections=2)
    upgraded(h(request(), PEER))  # not a connection until picows opens it
    Client(node), Client(node)
    assert answer(h(request(), PEER))[:2] == (503, {"error": "maximum connection limit reached"})
    assert node.stats.handshake_rejected == {"max_connections": 1}


async def test_the_clients_first_supported_subprotocol_is_selected() -> None:
    h = handler()
    listener, headers = upgraded(h(request(Sec_WebSocket_Protocol="v9, v1.binary, v1.json"), PEER))
    assert headers["Sec-WebSocket-Protocol"] == "v1.binary"
    assert listener.wire.codec.name == "v1.binary"
    again, _ = upgraded(h(request(Sec_WebSocket_Protocol="v1.binary"), PEER))
    assert again.wire is listener.wire  # one shared wire per codec: fan-out frames once


async def test_an_unsupported_subprotocol_is_refused_or_closed_in_band() -> None:
    status, body, _ = answer(handler()(request(Sec_WebSocket_Protocol="mqtt"), PEER))
    assert (status, body) == (400, {"error": "unsupported subprotocol; supported: "
                                             "v1.json, v1.binary, v2.proto"})  # fmt: skip
    h = handler(unsupported_subprotocol="close")
    listener, headers = upgraded(h(request(Sec_WebSocket_Protocol="mqtt"), PEER))
    assert "Sec-WebSocket-Protocol" not in headers
    assert listener.refusal is not None and listener.refusal.close_code == 1002


async def test_a_token_offered_as_a_subprotocol_is_never_selected() -> None:
    jwt = token("ann")
    gate = HandshakeGate(OriginPolicy(), Authenticator(AuthSettings(secret=SECRET)))
    h = handler(gate=gate)
    listener, headers = upgraded(h(request(Sec_WebSocket_Protocol=f"bearer.{jwt}"), PEER))
    assert listener.wire.codec.name == "v1.json"
    assert jwt not in str(headers)
    assert listener.identity.user == "ann"


async def test_gate_refusals_are_http_answers_unless_in_band() -> None:
    gate = HandshakeGate(OriginPolicy(), Authenticator(AuthSettings(secret=SECRET)))
    status, body, _ = answer(handler(gate=gate)(request(), PEER))
    assert (status, body) == (401, {"error": "authentication required"})
    in_band = HandshakeGate(
        OriginPolicy(), Authenticator(AuthSettings(secret=SECRET)), in_band=True
    )
    listener, _ = upgraded(handler(gate=in_band)(request(), PEER))
    assert listener.refusal is not None
    assert (listener.refusal.close_code, listener.refusal.reason) == (
        4401, "authentication required"
    )  # fmt: skip


async def test_an_unexpected_error_is_a_fixed_500_without_its_text() -> None:
    class Broken(HandshakeGate):
        def check(self, path: bytes, headers: Any, peer: str) -> Any:
            raise RuntimeError("secret internals")

    h = handler(gate=Broken(OriginPolicy(), None))
    status, body, _ = answer(h(request(), PEER))
    assert (status, body) == (500, {"error": "internal error"})
    assert h.node.stats.handshake_rejected == {"internal": 1}
