"""``switchboard token``: a minted token is one the server accepts, as its user with its
roles; ``--decode`` reads one back and says whether the server's key signed it, never
printing the key."""

from __future__ import annotations

import json

import pytest
import websockets
from typer.testing import CliRunner

from switchboard.cli import cli
from switchboard.tokens import seconds

from .conftest import StartServer, recv_json, ws_url
from .security.keys import SECRET

ENV = {"SWITCHBOARD_JWT_SECRET": SECRET, "COLUMNS": "200"}


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["token", *args], env=env if env is not None else ENV)
    return result.exit_code, result.stdout


async def test_a_minted_token_is_accepted_as_its_user(start_server: StartServer) -> None:
    app = await start_server(jwt_secret=SECRET, allow_anonymous=False)
    code, out = run("--sub", "u1", "--role", "admin", "--ttl", "5m")
    assert code == 0
    async with websockets.connect(f"{ws_url(app)}?token={out.strip()}") as ws:
        assert (await recv_json(ws))["type"] == "welcome"
        conn = next(iter(app.node.registry.snapshot()))  # type: ignore[union-attr]
        assert conn.user == "u1" and conn.roles == frozenset({"admin"})


def test_decode_reads_the_claims_and_checks_the_signature() -> None:
    _, minted = run("--sub", "u2", "--claim", 'plan="pro"', "--claim", "seats=3")
    code, out = run("--decode", minted.strip())
    assert code == 0
    read = json.loads(out)
    assert read["claims"]["sub"] == "u2" and read["claims"]["seats"] == 3
    assert read["claims"]["plan"] == "pro"
    assert read["signature"] == "valid"
    assert SECRET not in out
    _, other = run("--decode", minted.strip(), env={"SWITCHBOARD_JWT_SECRET": "x" * 40})
    assert json.loads(other)["signature"].startswith("invalid")


def test_minting_needs_the_key_and_a_user() -> None:
    assert run("--sub", "u1", env={"COLUMNS": "200"})[0] == 2
    assert run()[0] == 2


@pytest.mark.parametrize(
    ("text", "value"), [("90", 90), ("90s", 90), ("30m", 1800), ("2d", 172800)]
)
def test_durations(text: str, value: float) -> None:
    assert seconds(text) == value
