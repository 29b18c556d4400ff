"""``cluster/announcer.py`` in process: the node's registry entry through its whole life."""

from __future__ import annotations

from switchboard import App

from ..conftest import StartServer


async def test_the_entry_follows_the_node_to_its_stop_without_failing(
    start_server: StartServer,
) -> None:
    app = await start_server()
    broker = app.broker
    (ready,) = await broker.nodes()
    assert ready.state == "ready" and ready.url.endswith(f":{app.port}/ws")
    await app.shutdown()  # draining, then stopped: announced after the ports closed
    (stopped,) = await broker.nodes()
    assert stopped.state == "stopped"
    assert stopped.url == ready.url and stopped.admin_url == ready.admin_url


def test_an_app_that_never_started_has_no_entry() -> None:
    assert App().announcer is None
