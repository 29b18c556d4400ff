"""A small application on Switchboard: run it with ``switchboard serve examples.chat_app:app``.

Try it: connect to ws://127.0.0.1:8080/ws and send
``{"type":"chat.typing","id":1}`` or ``{"type":"whoami"}``.
"""

from __future__ import annotations

from switchboard import App, Connection, Envelope, Reject

app = App()
online: set[str] = set()


@app.on_connect
async def connect(conn: Connection) -> None:
    # A real app would check a token here (see docs); this one names guests by address.
    if len(online) >= 1000:
        raise Reject(1013, "chat is full, try again later")
    conn.user = f"guest-{conn.remote.rsplit(':', 1)[-1]}"
    conn.roles = frozenset({"member"})
    online.add(conn.id)


@app.route("chat.typing", roles={"member"})
def typing(conn: Connection, msg: Envelope) -> dict[str, str]:
    return {"user": str(conn.user), "status": "typing"}


@app.route("whoami")
async def whoami(conn: Connection, msg: Envelope) -> dict[str, object]:
    return {"connection": conn.id, "user": conn.user, "online": len(online)}


@app.on_disconnect
def gone(conn: Connection, close_code: int) -> None:
    online.discard(conn.id)


if __name__ == "__main__":
    app.run()
