"""The pages' endpoints over HTTP: the stream's key header, the config the pages read, the
JavaScript client served from its one canonical file, and the files the package ships."""

from __future__ import annotations

import tomllib
from glob import glob
from pathlib import Path

import httpx

from switchboard import App
from switchboard.admin.pages import CLIENT_MODULE, STATIC

from ..conftest import StartServer
from .conftest import KEY, admin, assert_error

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "switchboard"
NPM_COPY = ROOT / "clients" / "js" / "switchboard.js"


async def first_event(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    async with client.stream("GET", "/dashboard/stream", headers=headers) as stream:
        assert stream.status_code == 200
        return await anext(stream.aiter_lines())


async def test_the_stream_takes_the_key_in_the_header(start_server: StartServer) -> None:
    app = await start_server(api_key=KEY)
    async with admin(app) as client:
        assert await first_event(client, {"X-API-Key": KEY}) == "event: history"
        refused = await client.get("/dashboard/stream", headers={"X-API-Key": "wrong-key-0123456"})
        assert_error(refused, 401, "UNAUTHORIZED")
        message = refused.json()["error"]["message"]
        assert "X-API-Key" in message and "wrong-key" not in message
        assert_error(await client.get("/dashboard/stream"), 401, "UNAUTHORIZED")
        # A wrong header is not rescued by a right ?key=, nor the reverse needed.
        both = await client.get(
            "/dashboard/stream", headers={"X-API-Key": "wrong"}, params={"key": KEY}
        )
        assert_error(both, 401, "UNAUTHORIZED")


async def test_the_config_says_whether_the_pages_must_ask_for_a_key(
    start_server: StartServer,
) -> None:
    keyed = await start_server(api_key=KEY)
    open_node = await start_server()
    for app, required in ((keyed, True), (open_node, False)):
        async with admin(app) as client:
            config = (await client.get("/dashboard/config.json")).json()
        assert config["key_required"] is required
        assert KEY not in str(config)


async def test_the_node_serves_the_js_client_and_the_pages(start_server: StartServer) -> None:
    app: App = await start_server(api_key=KEY)
    async with admin(app) as client:
        module = await client.get("/client/switchboard.js")
        assert module.status_code == 200
        assert module.headers["content-type"].startswith("text/javascript")
        assert module.text == CLIENT_MODULE.read_text()
        assert module.headers["access-control-allow-origin"] == "*"  # importable from apps
        assert "export class Client" in module.text
        page = await client.get("/dashboard/connections")
        assert page.status_code == 200 and "/dashboard/static/connections.js" in page.text
        demo = await client.get("/demo")
        assert "/dashboard/static/demo.js" in demo.text
        script = await client.get("/dashboard/static/demo.js")
        assert 'from "/client/switchboard.js"' in script.text
        uplot = await client.get("/dashboard/static/vendor/uPlot.iife.min.js")
        assert uplot.status_code == 200 and "uPlot" in uplot.text
        assert (await client.get("/dashboard/static/charts.js")).status_code == 404


def test_the_npm_package_copy_of_the_client_is_the_canonical_file() -> None:
    # clients/js ships a copy (npm cannot reach outside its folder; `npm pack` refreshes
    # it with its prepack script): it must never drift from the one the node serves.
    assert NPM_COPY.read_bytes() == CLIENT_MODULE.read_bytes(), (
        "clients/js/switchboard.js differs from src/switchboard/admin/dashboard/client/"
        "switchboard.js: edit the latter and copy it (cd clients/js && npm run prepack)"
    )


def test_the_wheel_ships_every_dashboard_file() -> None:
    # setuptools expands package-data globs with glob(recursive=True) from the package's
    # folder and keeps files: a file no pattern matches is left out of the wheel.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["switchboard"]
    shipped = {
        Path(found).resolve()
        for pattern in patterns
        for found in glob(str(PACKAGE / pattern), recursive=True)
    }
    files = {p.resolve() for p in STATIC.rglob("*") if p.is_file()}
    left_out = {str(p.relative_to(PACKAGE)) for p in files - shipped}
    assert left_out == set(), (
        f"not in [tool.setuptools.package-data]: {sorted(left_out)}; add 'admin/dashboard/**/*'"
    )
    assert CLIENT_MODULE.resolve() in shipped
