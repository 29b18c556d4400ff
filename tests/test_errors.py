"""One exception tree: every error Switchboard raises is a SwitchboardError carrying the
codes a client sees, and the tree drawn in ``errors.py`` is the real one."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import websockets

import switchboard.errors as errors
from switchboard import App
from switchboard.admin.errors import ApiError
from switchboard.backend.errors import BackendRefused, BackendUnavailable
from switchboard.backend.signing import SignatureError
from switchboard.errors import (
    AuthError,
    BrokerUnavailable,
    ClientError,
    EnvelopeError,
    ProtocolViolation,
    Reject,
    RequestError,
    SwitchboardError,
)
from switchboard.protocol.codes import CloseCode, ErrorCode

from .broker.flaky import FlakyBroker
from .conftest import StartServer, recv_json, ws_url

PACKAGE = Path(errors.__file__).parent


def exception_classes() -> list[tuple[str, str]]:
    """(module path, class name) of every class in src/ that derives from an exception."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name.endswith("_pb2.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if (
                    any(
                        b.endswith(("Error", "Exception", "Unavailable", "Violation"))
                        for b in bases
                    )
                    or "Reject" in bases
                ):
                    found.append((str(path.relative_to(PACKAGE)), node.name))
    return found


def test_every_exception_of_the_package_is_in_the_tree() -> None:
    classes = exception_classes()
    assert ("errors.py", "RequestError") in classes  # the walk sees them
    outside = [(path, name) for path, name in classes if path != "errors.py"]
    assert outside == [
        ("admin/errors.py", "ApiError"),
        ("backend/errors.py", "BackendUnavailable"),
        ("backend/errors.py", "BackendRefused"),
        ("backend/signing.py", "SignatureError"),
    ]
    assert issubclass(ApiError, SwitchboardError)
    assert issubclass(SignatureError, SwitchboardError)
    assert issubclass(BackendUnavailable, RequestError)
    assert issubclass(BackendRefused, RequestError)


def test_the_drawing_names_every_class_and_only_real_ones() -> None:
    lines = (errors.__doc__ or "").split("::")[1].split("\n\n")[1].splitlines()
    drawn = {
        line.replace("│", " ").replace("├──", " ").replace("└──", " ").split()[0] for line in lines
    }
    outside = {"ApiError", "BackendUnavailable", "BackendRefused", "SignatureError"}
    assert drawn == {*errors.__all__, *outside}


def test_each_error_carries_what_the_client_sees() -> None:
    request = RequestError(ErrorCode.FORBIDDEN, "no")
    assert (request.error_code, request.close_code) == (ErrorCode.FORBIDDEN, None)
    envelope = EnvelopeError(ErrorCode.INVALID_JSON, "bad", 7)
    assert isinstance(envelope, RequestError) and envelope.request_id == 7
    violation = ProtocolViolation(CloseCode.INVALID_DATA, "not UTF-8")
    assert (violation.error_code, violation.close_code) == (None, 1007)
    assert isinstance(violation, ClientError)
    missing, wrong = AuthError(True, "no token"), AuthError(False, "expired")
    assert (missing.status, missing.close_code) == (401, CloseCode.NO_TOKEN)
    assert (wrong.status, wrong.close_code) == (403, CloseCode.INVALID_TOKEN)
    assert Reject(4000, "full").close_code == 4000
    assert BrokerUnavailable("down").error_code is ErrorCode.UNAVAILABLE
    assert not isinstance(BrokerUnavailable("down"), ClientError)  # not the client's fault


async def test_an_unreachable_broker_is_unavailable_for_that_request_only(
    start_server: StartServer,
) -> None:
    app = App()
    broker = app.broker = FlakyBroker()
    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)  # welcome
        broker.failing.add("publish")
        await ws.send(json.dumps({"type": "publish", "channel": "room:1", "data": 1, "id": 1}))
        error = await recv_json(ws)
        assert error["type"] == "error" and error["code"] == "UNAVAILABLE" and error["id"] == 1
        assert "connection refused" not in error["message"]  # internals stay in the log
        broker.failing.clear()
        await ws.send(json.dumps({"type": "publish", "channel": "room:1", "data": 2, "id": 2}))
        ack = await recv_json(ws)
        assert ack["type"] == "ack" and ack["offset"] == 1  # the failed one took no offset
