"""Built-in routes: ``echo``, ``broadcast``, ``ping`` and the channel requests."""

from __future__ import annotations

from ..protocol.envelope import Broadcast, EchoReply, Envelope, Pong
from .channels import Channels
from .connection import Connection
from .hub import Hub
from .router import Handler, Router


def install_builtin_routes(router: Router, hub: Hub, channels: Channels) -> Handler:
    """Register the built-in routes on ``router``; each is an ordinary, replaceable route.
    Returns the built-in ``echo`` route."""

    send = hub.outbox.send

    def echo(conn: Connection, msg: Envelope) -> None:
        # The hottest route: one encode, one frame, one append (no helper layers, and no
        # counting: each call queues exactly one reply, so replies = calls, which the router
        # counts as received "echo" messages; see ``Node.sent``).
        wire = conn.wire
        send(conn, wire.frame_payload(wire.encode(EchoReply(data=msg.data, id=msg.id))))

    def broadcast(conn: Connection, msg: Envelope) -> None:
        hub.broadcast(Broadcast(data=msg.data), conn.wire.codec.data_format)
        hub.ack(conn, msg.id)

    def ping(conn: Connection, msg: Envelope) -> None:
        hub.send(conn, Pong(id=msg.id))

    router.add("echo", echo)
    router.add("broadcast", broadcast)
    router.add("ping", ping)
    router.add("send", channels.send)
    # These await the broker: serial routes keep each connection's replies in order.
    router.add_serial("subscribe", channels.subscribe)
    router.add_serial("unsubscribe", channels.unsubscribe)
    router.add_serial("publish", channels.publish)
    router.add_serial("presence", channels.presence)
    return echo
