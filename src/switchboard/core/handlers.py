"""Built-in routes: ``echo``, ``broadcast``, ``send``, ``ping`` and the channel requests."""

from __future__ import annotations

from collections.abc import Callable

from ..protocol.envelope import EchoReply, Envelope, Pong
from .channels import Channels
from .connection import Connection
from .dispatches import Dispatches
from .hub import Hub
from .router import Router


def install_builtin_routes(
    router: Router,
    hub: Hub,
    channels: Channels,
    dispatches: Dispatches,
    *,
    count: bool = False,
) -> Callable[[], int]:
    """Register the built-in routes on ``router``; each is an ordinary, replaceable route.

    With ``count`` (metrics on) the ``echo`` route counts its own calls, which the returned
    function reads: each call queues exactly one reply, so calls are both the ``echo``
    messages received and the ``echo_reply`` messages sent.
    """
    send = hub.outbox.send
    calls = 0

    def echo(conn: Connection, msg: Envelope) -> None:
        # The hottest route: one encode, one frame, one append (no helper layers).
        wire = conn.wire
        send(conn, wire.frame_payload(wire.encode(EchoReply(data=msg.data, id=msg.id))))

    def counted_echo(conn: Connection, msg: Envelope) -> None:
        nonlocal calls
        calls += 1
        wire = conn.wire
        send(conn, wire.frame_payload(wire.encode(EchoReply(data=msg.data, id=msg.id))))

    def echo_calls() -> int:
        return calls

    def ping(conn: Connection, msg: Envelope) -> None:
        hub.send(conn, Pong(id=msg.id))

    if count:
        router.add("echo", counted_echo)
        router.counts_itself = counted_echo
    else:
        router.add("echo", echo)
    router.add("ping", ping)
    # These await the broker: serial routes keep each connection's replies in order; the
    # pipelined ones make one broker call, so several of a connection's may be in flight.
    router.add_serial("broadcast", dispatches.broadcast_request, pipelines=_always)
    router.add_serial("send", dispatches.send, pipelines=_always)
    router.add_serial("subscribe", channels.subscribe)
    router.add_serial("unsubscribe", channels.unsubscribe)
    router.add_serial("publish", channels.publish, pipelines=channels.publish_pipelines)
    router.add_serial("presence", channels.presence)
    return echo_calls


def _always(conn: Connection, msg: Envelope, ahead: int) -> bool:
    return True
