"""An edge node's App with an ``echo`` processor of its own: ``benchmarks/edge.py`` runs
``switchboard edge edge_local:app --upstream ...`` from this folder to measure the edge's
local processing rate (every echo answered on the edge, none forwarded)."""

from __future__ import annotations

from typing import Any

from switchboard import App, Connection, Envelope

app = App()


@app.route("echo")
def echo(conn: Connection, msg: Envelope) -> Any:
    return msg.json()  # -> {"type": "echo_reply", "data": <the same>, "id": ...}
