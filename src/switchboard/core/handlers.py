"""Built-in routes: ``echo``, ``broadcast`` and the application-level ``ping``."""

from __future__ import annotations

from ..protocol.envelope import Broadcast, EchoReply, Envelope, Pong, encode
from ..protocol.frames import text_frame
from .connection import Connection
from .hub import Hub
from .router import Router


def install_builtin_routes(router: Router, hub: Hub) -> None:
    """Register the built-in routes on ``router``; each is an ordinary, replaceable route."""

    send = hub.outbox.send

    def echo(conn: Connection, msg: Envelope) -> None:
        # The hottest route: one encode, one frame, one append (no helper layers).
        send(conn, text_frame(encode(EchoReply(data=msg.data, id=msg.id))))

    def broadcast(conn: Connection, msg: Envelope) -> None:
        hub.broadcast_json(encode(Broadcast(data=msg.data)))

    def ping(conn: Connection, msg: Envelope) -> None:
        hub.send_json(conn, encode(Pong(id=msg.id)))

    router.add("echo", echo)
    router.add("broadcast", broadcast)
    router.add("ping", ping)
