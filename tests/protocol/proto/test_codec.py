"""The v2.proto codec without a socket, and the committed generated module against its .proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from switchboard.protocol.codes import ErrorCode
from switchboard.protocol.envelope import (
    Ack,
    ChannelMessage,
    Direct,
    EnvelopeError,
    Member,
    PresenceReply,
    Welcome,
)
from switchboard.protocol.proto import envelope_pb2 as pb
from switchboard.protocol.proto.codec import PROTO

SRC = Path(__file__).resolve().parents[3] / "src"
PROTO_FILE = "switchboard/protocol/proto/envelope.proto"


def test_generated_module_matches_the_proto(tmp_path: Path) -> None:
    """`make proto` output is committed: regenerating it must change nothing."""
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{SRC}", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", str(SRC / PROTO_FILE)],
        check=True,
        timeout=60,
    )  # fmt: skip
    # Compare the serialized descriptor (what the module is), not the protoc version banner.
    fresh = _descriptor_line(tmp_path / "switchboard/protocol/proto/envelope_pb2.py")
    committed = _descriptor_line(SRC / "switchboard/protocol/proto/envelope_pb2.py")
    assert fresh == committed, "run `make proto` and commit the result"


def _descriptor_line(path: Path) -> str:
    (line,) = [line for line in path.read_text().splitlines() if "AddSerializedFile" in line]
    return line


def test_client_envelope_decodes_with_bytes_or_value_data() -> None:
    raw = pb.Envelope(type="publish", int_id=7, channel="room:1", data=b"\x00\xff")
    envelope = PROTO.decode(raw.SerializeToString())
    assert (envelope.type, envelope.id, envelope.channel) == ("publish", 7, "room:1")
    assert envelope.value() == b"\x00\xff"
    structured = pb.Envelope(type="echo", id="r1")
    structured.value.struct_value.update({"n": 2, "list": [1, "x", True, None], "f": 1.5})
    decoded = PROTO.decode(structured.SerializeToString())
    assert decoded.id == "r1"
    assert decoded.value() == {"n": 2, "list": [1, "x", True, None], "f": 1.5}
    subscribe = pb.Envelope(type="subscribe", channel="c")
    subscribe.recover_from.offset = 4
    subscribe.recover_from.epoch = "e1"
    assert PROTO.decode(subscribe.SerializeToString()).recover_from is not None
    send = pb.Envelope(type="send", to=pb.Target(user="u1"))
    target = PROTO.decode(send.SerializeToString()).to
    assert target is not None and (target.user, target.connection) == ("u1", None)


@pytest.mark.parametrize(
    ("payload", "request_id"),
    [(b"\xff\xff\xff", None), (pb.Envelope(id="keep").SerializeToString(), "keep")],
    ids=["not-protobuf", "no-type"],
)
def test_bad_input_is_an_envelope_error(payload: bytes, request_id: str | None) -> None:
    with pytest.raises(EnvelopeError) as refused:
        PROTO.decode(payload)
    assert refused.value.code is ErrorCode.INVALID_MESSAGE_FORMAT
    assert refused.value.request_id == request_id


def parse(message: object) -> pb.Envelope:
    out = pb.Envelope()
    out.ParseFromString(PROTO.encode(message))
    return out


def test_every_kind_of_server_message_encodes() -> None:
    welcome = parse(Welcome(connection_id="c-1", node="n", heartbeat=30.0))
    assert (welcome.type, welcome.connection_id, welcome.heartbeat) == ("welcome", "c-1", 30.0)
    ack = parse(Ack(id=5, channel="c", offset=0, epoch="e", recovered=False))
    assert (ack.int_id, ack.HasField("offset"), ack.offset, ack.recovered) == (5, True, 0, False)
    message = parse(
        ChannelMessage(channel="c", offset=3, data=msgspec.Raw(msgspec.msgpack.encode([1, "a"])))
    )
    assert message.WhichOneof("payload") == "value"
    assert [v.number_value for v in message.value.list_value.values][:1] == [1.0]
    blob = parse(
        Direct(sender=Member("c-2", "ann"), data=msgspec.Raw(msgspec.msgpack.encode(b"\x01")))
    )
    assert (blob.data, blob.sender.connection, blob.sender.user.string_value) == (
        b"\x01",
        "c-2",
        "ann",
    )
    presence = parse(
        PresenceReply(channel="c", members=[Member("c-1"), Member("c-2", "bo")], id="p")
    )
    assert [m.connection for m in presence.members] == ["c-1", "c-2"]
    reply = parse({"type": "sum_reply", "data": {"total": 6}, "id": "r"})
    assert (reply.type, reply.id, reply.value.struct_value.fields["total"].number_value) == (
        "sum_reply",
        "r",
        6.0,
    )


def test_values_protobuf_cannot_hold_are_still_encoded() -> None:
    huge = parse({"type": "big_reply", "data": {"n": 10**400, "b": b"\x01"}})
    fields = huge.value.struct_value.fields
    assert fields["n"].string_value == str(10**400)  # beyond a double: as text
    assert fields["b"].string_value == "AQ=="  # bytes inside a value: base64, as in JSON
