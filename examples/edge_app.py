"""The local processors of an edge node: run it with
``switchboard edge examples.edge_app:app --upstream ws://127.0.0.1:8080/ws --port 8081``.

``sensor_data`` and ``device_status`` are answered on the edge, near the devices; every
other message type (``echo``, the central's own routes) is forwarded to the central, and
channels (``subscribe``, ``publish``) are the central's, followed once per edge.

Try it: connect to ws://127.0.0.1:8081/ws and send
``{"type":"sensor_data","id":1,"data":{"sensor":"t-1","celsius":21.5}}``.
"""

from __future__ import annotations

from typing import Any

from switchboard import App, Connection, Envelope

app = App()
#: The last status each device reported to this edge.
devices: dict[str, str] = {}


@app.route("sensor_data")
def sensor_data(conn: Connection, msg: Envelope) -> dict[str, Any]:
    reading = msg.json()
    if not isinstance(reading, dict) or "sensor" not in reading:
        return {"status": "rejected", "reason": "data must be {'sensor': ..., ...}"}
    fahrenheit = None
    if isinstance(reading.get("celsius"), int | float):
        fahrenheit = round(reading["celsius"] * 9 / 5 + 32, 1)
    return {"status": "processed", "sensor": reading["sensor"], "fahrenheit": fahrenheit}


@app.route("device_status")
def device_status(conn: Connection, msg: Envelope) -> dict[str, Any]:
    report = msg.json()
    device, status = str(report.get("device", conn.id)), str(report.get("status", "unknown"))
    devices[device] = status
    return {"status": "processed", "device": device, "known_devices": len(devices)}
