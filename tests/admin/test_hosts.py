"""The control plane answers only its own host names: DNS rebinding gets 421."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from switchboard import App
from switchboard.admin.hosts import HostPolicy

from ..conftest import StartServer, timeout

KEY = "hosts-test-key-01234"
#: What a page on each name would send once the name is rebound to 127.0.0.1.
REBOUND = ["evil.example", "evil.example:9090", "localhost.evil.example", "127.0.0.1.nip.io"]
MALFORMED = ["", "::1", "[::1", "localhost:http", "a b", "[127.0.0.1]", "évil.example"]


async def fetch(app: App, path: str, host: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=timeout(5)) as client:
        url = f"http://127.0.0.1:{app.admin_port}{path}"
        return await client.get(url, headers={"Host": host, "X-API-Key": KEY})


def assert_misdirected(response: httpx.Response) -> None:
    assert response.status_code == 421, response.text
    assert response.json()["error"]["code"] == "MISDIRECTED_REQUEST"


@pytest.mark.parametrize("host", REBOUND)
async def test_a_rebound_name_reads_nothing(start_server: StartServer, host: str) -> None:
    app = await start_server(api_key=KEY)
    for path in ("/metrics", "/api/v1/stats", "/dashboard", "/dashboard/config.json", "/docs"):
        assert_misdirected(await fetch(app, path, host))
    # Liveness and readiness tell a page nothing and must not fail on a Host list.
    assert (await fetch(app, "/health", host)).json() == {"status": "ok"}
    assert (await fetch(app, "/ready", host)).status_code == 200


async def test_local_names_and_addresses_with_any_port_are_answered(
    start_server: StartServer,
) -> None:
    app = await start_server(api_key=KEY)
    port = app.admin_port
    for host in [
        "localhost",
        "localhost:9090",
        "LocalHost.:9090",
        f"127.0.0.1:{port}",
        f"[::1]:{port}",
        "[0:0::1]",
    ]:
        response = await fetch(app, "/api/v1/stats", host)
        assert response.status_code == 200, (host, response.text)
        assert (await fetch(app, "/metrics", host)).status_code == 200


async def test_a_request_without_a_host_is_answered(start_server: StartServer) -> None:
    app = await start_server()
    reader, writer = await asyncio.open_connection("127.0.0.1", app.admin_port)
    writer.write(b"GET /metrics HTTP/1.0\r\n\r\n")  # HTTP/1.0 health checkers send none
    answer = await asyncio.wait_for(reader.read(), timeout(5))
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200")


async def test_configured_names_replace_the_defaults(start_server: StartServer) -> None:
    app = await start_server(api_key=KEY, admin_allowed_hosts=["Switchboard.Internal", "[::1]"])
    assert (await fetch(app, "/metrics", "switchboard.internal:9090")).status_code == 200
    assert (await fetch(app, "/metrics", "[::1]:9090")).status_code == 200
    assert_misdirected(await fetch(app, "/metrics", "localhost"))
    assert_misdirected(await fetch(app, "/metrics", "evil.example"))


async def test_a_star_answers_every_host(start_server: StartServer) -> None:
    app = await start_server(api_key=KEY, admin_allowed_hosts=["*"])
    for host in ["evil.example", "localhost", "10.1.2.3:9090"]:
        assert (await fetch(app, "/api/v1/stats", host)).status_code == 200


def test_the_defaults_follow_admin_host() -> None:
    named = HostPolicy([], "admin.internal")
    assert named.allows("admin.internal:9090") and named.allows("localhost")
    assert not named.allows("10.1.2.3") and not named.allows("evil.example")
    # A wildcard bind is reached by pod IP (kubelet, Prometheus): IP literals are fine, a
    # DNS name still is not (rebinding needs one).
    for bind in ("0.0.0.0", "::"):
        wildcard = HostPolicy([], bind)
        assert wildcard.allows("10.1.2.3:9090") and wildcard.allows("[fd00::7]:9090")
        assert wildcard.allows("localhost") and not wildcard.allows("evil.example")
        assert not wildcard.allows("0.0.0.0.evil.example")
    # Listed names are the whole list, even with a wildcard bind.
    assert not HostPolicy(["switchboard.internal"], "0.0.0.0").allows("10.1.2.3")


@pytest.mark.parametrize("host", MALFORMED)
def test_a_malformed_host_is_refused(host: str) -> None:
    assert not HostPolicy([], "0.0.0.0").allows(host)


async def test_a_malformed_entry_fails_the_start(start_server: StartServer) -> None:
    with pytest.raises(ValueError, match="admin_allowed_hosts: 'not a host'"):
        await start_server(admin_allowed_hosts=["not a host"])
