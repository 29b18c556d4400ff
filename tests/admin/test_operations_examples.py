"""The management API's ``curl`` examples in docs/operations.md, run against a real server:
each answers the status it says (200 unless its comment names another)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from switchboard import App

from ..conftest import StartServer, timeout
from .conftest import KEY, connect

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
#: The connection id the examples use, replaced by a live connection's.
EXAMPLE_ID = "c-fgcWmkw_fI4gkNzn"


def examples() -> list[tuple[str, int]]:
    """Each ``curl`` line of the Management API section's first shell block, with the
    status it should get."""
    section = DOCS.read_text().split("### Management API", 1)[1].split("\n### ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    found = []
    for line in block.splitlines():
        if not line.startswith("curl "):
            continue
        command, _, comment = line.partition(" #")
        status = re.match(r"\s*(\d{3})\b", comment)
        found.append((command.strip(), int(status.group(1)) if status else 200))
    return found


async def test_every_management_example_answers_as_documented(start_server: StartServer) -> None:
    app = App()

    @app.on_connect
    def alice(conn: Any) -> None:
        conn.user = "alice"

    app = await start_server(app, api_key=KEY, channel_defaults={"presence": True})
    ws, conn_id = await connect(app)
    other, _ = await connect(app)  # alice's second connection, for the last example
    setup = (
        f"A=http://127.0.0.1:{app.admin_port}/api/v1\n"
        f'K="X-API-Key: {KEY}"\nJ="Content-Type: application/json"\n'
    )
    runs = [(c, s) for c, s in examples() if "diagnostics/allocations" not in c]  # 5 s each
    assert len(runs) >= 20
    for command, expected in runs:
        line = command.replace(EXAMPLE_ID, conn_id) + " -o /dev/null -w '%{http_code}'"
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", setup + line, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout(10))
        assert out.decode() == str(expected), command
    await ws.wait_closed()
    await other.wait_closed()
    assert (ws.close_code, other.close_code) == (4000, 4000)
