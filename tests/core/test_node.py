"""The node's connection lifecycle over a fake transport: open, messages, close, policies."""

from __future__ import annotations

import asyncio
import time

import msgspec

from switchboard.core.connection import Connection
from switchboard.core.hooks import MAX_BACKLOG
from switchboard.core.outbox import SlowConsumerPolicy
from switchboard.errors import Reject
from switchboard.protocol.codecs import MSGPACK
from switchboard.protocol.frames import Opcode
from switchboard.protocol.wire import Wire

from ..conftest import timeout, wait_until
from .fakes import Client, make_node, next_loop_pass


async def greeted(client: Client) -> None:
    """Let the welcome go out, then forget it: the test looks at what follows."""
    await next_loop_pass()
    assert client.messages()[0]["type"] == "welcome"
    client.transport.events.clear()


# --- open ------------------------------------------------------------------------------------


async def test_open_registers_the_connection_and_greets_it_once_the_pass_ends() -> None:
    node = make_node(ping_interval=7.5)
    client = Client(node)
    assert node.registry.get(client.conn.id) is client.conn
    assert client.transport.writes == []  # coalesced: nothing is written mid-pass
    await next_loop_pass()
    assert client.messages() == [
        {"type": "welcome", "connection_id": client.conn.id, "node": "node-test", "heartbeat": 7.5}
    ]
    assert node.connections_total == 1


async def test_each_connection_gets_its_own_id() -> None:
    node = make_node()
    ids = {Client(node).conn.id for _ in range(50)}
    assert len(ids) == 50
    assert len(node.registry) == 50


async def test_a_msgpack_connection_is_greeted_in_a_binary_frame() -> None:
    node = make_node()
    client = Client(node, Wire(MSGPACK))
    await next_loop_pass()
    (frame,) = client.transport.frames()
    assert frame.opcode == Opcode.BINARY
    assert msgspec.msgpack.decode(frame.payload)["connection_id"] == client.conn.id


# --- messages --------------------------------------------------------------------------------


async def test_echo_replies_with_the_clients_data_bytes_and_id() -> None:
    client = Client(make_node())
    await greeted(client)
    client.send('{"type":"echo","data":{"b": 1,  "a":[2.5, "x"]},"id":"r1"}')
    await next_loop_pass()
    assert client.messages() == [
        {"type": "echo_reply", "data": {"b": 1, "a": [2.5, "x"]}, "id": "r1"}
    ]
    # The reply carries the very bytes received (spacing and key order kept), not a re-encoding.
    assert b'{"b": 1,  "a":[2.5, "x"]}' in client.transport.writes[0]


async def test_replies_of_one_pass_leave_in_one_write_in_order() -> None:
    client = Client(make_node())
    await greeted(client)
    for n in range(5):
        client.send(f'{{"type":"echo","data":{n}}}')
    await next_loop_pass()
    assert len(client.transport.writes) == 1
    assert [m["data"] for m in client.messages()] == [0, 1, 2, 3, 4]


async def test_msgpack_echo_round_trips_in_binary_frames() -> None:
    client = Client(make_node(), Wire(MSGPACK))
    await greeted(client)
    client.send_message({"type": "echo", "data": {"k": b"\x00\xff", "n": -3}, "id": 9})
    await next_loop_pass()
    (frame,) = client.transport.frames()
    assert frame.opcode == Opcode.BINARY
    assert msgspec.msgpack.decode(frame.payload) == {
        "type": "echo_reply",
        "data": {"k": b"\x00\xff", "n": -3},
        "id": 9,
    }


async def test_invalid_json_is_an_error_frame_and_the_connection_stays() -> None:
    node = make_node()
    client = Client(node)
    await greeted(client)
    client.send('{"type": "echo", "data": ')
    await next_loop_pass()
    (error,) = client.messages()
    assert error["type"] == "error"
    assert error["code"] == "INVALID_JSON"
    assert client.transport.closes == []
    assert node.registry.get(client.conn.id) is client.conn
    client.send('{"type":"echo","data":"still here"}')
    await next_loop_pass()
    assert client.messages()[-1] == {"type": "echo_reply", "data": "still here"}


async def test_valid_json_that_is_no_envelope_is_invalid_format_with_its_id() -> None:
    client = Client(make_node())
    await greeted(client)
    client.send('{"type": 5, "id": "q7"}')
    client.send("[1, 2]")
    await next_loop_pass()
    wrong_type, not_an_object = client.messages()
    assert (wrong_type["code"], wrong_type["id"]) == ("INVALID_MESSAGE_FORMAT", "q7")
    assert not_an_object["code"] == "INVALID_MESSAGE_FORMAT"
    assert "id" not in not_an_object
    assert client.transport.closes == []


async def test_unknown_type_and_wrong_frame_type_are_answered_not_closed() -> None:
    client = Client(make_node())
    await greeted(client)
    client.send('{"type":"dance","id":3}')
    client.send(b'{"type":"echo"}', Opcode.BINARY.value)  # binary on v1.json
    await next_loop_pass()
    unknown, wrong_opcode = client.messages()
    assert (unknown["code"], unknown["id"]) == ("UNKNOWN_MESSAGE_TYPE", 3)
    assert "dance" in unknown["message"]
    assert wrong_opcode["code"] == "INVALID_MESSAGE_FORMAT"
    assert client.transport.closes == []


async def test_a_client_ping_is_answered_with_a_pong_of_the_same_payload() -> None:
    client = Client(make_node())
    await greeted(client)
    client.ping(b"nonce-42")
    await next_loop_pass()
    (frame,) = client.transport.frames()
    assert (frame.opcode, frame.payload) == (Opcode.PONG, b"nonce-42")


async def test_raw_echo_mode_sends_messages_back_unchanged_without_a_welcome() -> None:
    client = Client(make_node(raw_echo=True))
    client.send(b"\x00\xffnot json", Opcode.BINARY.value)
    client.send("plain text")
    await next_loop_pass()
    frames = client.transport.frames()
    assert [(f.opcode, f.payload) for f in frames] == [
        (Opcode.BINARY, b"\x00\xffnot json"),
        (Opcode.TEXT, b"plain text"),
    ]


# --- close -----------------------------------------------------------------------------------


async def test_close_writes_what_was_queued_then_the_close_once() -> None:
    node = make_node()
    client = Client(node)
    await greeted(client)
    client.send('{"type":"echo","data":"last words"}')
    node.close(client.conn, 1000, "bye")
    node.close(client.conn, 1011, "again")  # a second close changes nothing
    client.send('{"type":"echo","data":"too late"}')
    await next_loop_pass()
    kinds = [event[0] for event in client.transport.events]
    assert kinds == ["write", "close"]
    assert client.messages() == [{"type": "echo_reply", "data": "last words"}]
    assert client.transport.closes == [(1000, "bye", False)]


async def test_closed_forgets_the_connection_and_drops_its_queue() -> None:
    node = make_node()
    client, other = Client(node), Client(node)
    await greeted(client)
    client.send('{"type":"echo","data":"never sent"}')
    client.gone(1001, "going", by="client")
    await next_loop_pass()
    assert node.registry.get(client.conn.id) is None
    assert list(node.registry) == [other.conn]
    assert client.transport.events == []
    assert node.stats.closed == {1001: 1}


async def test_close_all_closes_every_connection_with_the_code() -> None:
    node = make_node()
    clients = [Client(node) for _ in range(3)]
    assert node.close_all(1001, "server shutting down") == 3
    for client in clients:
        assert client.transport.closes == [(1001, "server shutting down", False)]
        # What was queued (the welcome) is written before the close frame.
        assert [event[0] for event in client.transport.events] == ["write", "close"]


async def test_wait_all_closed_returns_once_the_last_socket_is_gone() -> None:
    node = make_node()
    client = Client(node)
    assert not await node.wait_all_closed(timeout(0.01))
    waiting = asyncio.create_task(node.wait_all_closed(timeout(5)))
    await next_loop_pass()
    assert not waiting.done()
    client.gone()
    assert await asyncio.wait_for(waiting, timeout(5))


async def test_the_disconnect_hook_hears_each_accepted_connection_once() -> None:
    node = make_node()
    heard: list[tuple[str, int]] = []
    node.disconnect_hook = lambda conn, code: heard.append((conn.id, code))
    client = Client(node)
    client.gone(4002)
    assert heard == [(client.conn.id, 4002)]


# --- policies --------------------------------------------------------------------------------


def fill(client: Client, count: int, size: int) -> None:
    for n in range(count):
        client.send(f'{{"type":"echo","data":"{n:04d}{"x" * size}"}}')


async def test_a_slow_consumer_is_failed_with_4008_and_its_queue_freed() -> None:
    node = make_node(send_queue_limit=2000)
    client = Client(node)
    await greeted(client)
    node.outbox.pause(client.conn)  # the socket's buffer is above its high-water mark
    fill(client, 10, 300)
    assert client.transport.closes == [(4008, "slow consumer: send queue full", True)]
    assert client.conn.closing and client.conn.pending is None
    node.outbox.resume(client.conn)
    await next_loop_pass()
    assert client.transport.writes == []  # what waited was dropped, not written late
    assert node.outbox.slow_consumers == 1


async def test_drop_oldest_keeps_the_newest_frames_and_the_connection() -> None:
    node = make_node(send_queue_limit=2000, slow_consumer_policy=SlowConsumerPolicy.DROP_OLDEST)
    client = Client(node)
    await greeted(client)
    node.outbox.pause(client.conn)
    fill(client, 10, 300)
    assert client.transport.closes == []
    assert client.conn.pending_bytes <= 2000
    node.outbox.resume(client.conn)
    await next_loop_pass()
    kept = [int(m["data"][:4]) for m in client.messages()]
    assert kept and kept == list(range(10 - len(kept), 10))  # a suffix: the oldest went
    assert len(kept) < 10


async def test_a_rejecting_connect_hook_closes_with_its_code_and_never_greets() -> None:
    node = make_node()
    heard: list[int] = []
    node.disconnect_hook = lambda conn, code: heard.append(code)

    def refuse(conn: Connection) -> None:
        raise Reject(4000, "not today")

    node.connect_hook = refuse
    client = Client(node)
    await next_loop_pass()
    assert client.transport.closes == [(4000, "not today", False)]
    assert client.messages() == []
    client.gone(4000)
    assert heard == []  # never accepted: nothing to say goodbye to


async def test_a_failing_connect_hook_closes_1011_without_its_text() -> None:
    node = make_node()

    def broken(conn: Connection) -> None:
        raise RuntimeError("database password is hunter2")

    node.connect_hook = broken
    client = Client(node)
    assert client.transport.closes == [(1011, "internal error", False)]


async def test_messages_wait_for_an_async_connect_hook_then_follow_the_welcome() -> None:
    node = make_node()
    decided = asyncio.Event()

    async def slow_accept(conn: Connection) -> None:
        await decided.wait()
        conn.user = "ann"

    node.connect_hook = slow_accept
    client = Client(node)
    for n in range(3):
        client.send(f'{{"type":"echo","data":{n}}}')
    await next_loop_pass()
    assert client.transport.writes == []  # not greeted, nothing answered yet
    decided.set()
    await wait_until(lambda: len(client.messages()) == 4)
    welcome, *echoes = client.messages()
    assert welcome["type"] == "welcome"
    assert [m["data"] for m in echoes] == [0, 1, 2]
    assert client.conn.user == "ann"


async def test_too_many_messages_before_accept_close_1008() -> None:
    node = make_node()
    never = asyncio.Event()

    async def undecided(conn: Connection) -> None:
        await never.wait()

    node.connect_hook = undecided
    client = Client(node)
    for _ in range(MAX_BACKLOG):
        client.send('{"type":"echo"}')
    assert client.transport.closes == []
    client.send('{"type":"echo"}')
    assert client.transport.closes == [(1008, "too many messages before accept", False)]


async def test_an_expired_token_closes_4410() -> None:
    node = make_node()
    client = Client(node, user="eve", expires_at=time.time() - 1)
    await wait_until(lambda: bool(client.transport.closes))
    assert client.transport.closes == [(4410, "token expired", False)]


async def test_a_connection_gone_before_its_token_expires_is_not_closed_again() -> None:
    node = make_node()
    expires_at = time.time() + timeout(0.05)
    left = Client(node, user="a", expires_at=expires_at)
    stays = Client(node, user="b", expires_at=expires_at + 0.02)
    left.gone()
    assert len(node.expiry) == 1  # its timer went with it (a token may last for hours)
    # Timers fire in deadline order: once the later one has closed its connection, the
    # earlier one would have fired too, had it not been cancelled.
    await wait_until(lambda: bool(stays.transport.closes))
    assert left.transport.closes == []
