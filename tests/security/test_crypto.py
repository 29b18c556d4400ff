"""``v1.fernet``: envelopes encrypted both ways, key rotation, tampering and a replay window."""

from __future__ import annotations

import time

import msgspec
import pytest
from cryptography.fernet import Fernet, InvalidToken

from switchboard.core.hub import frame_for
from switchboard.errors import EnvelopeError
from switchboard.protocol.codes import ErrorCode
from switchboard.protocol.envelope import Broadcast, EchoReply
from switchboard.protocol.frames import Opcode
from switchboard.protocol.wire import PLAIN_JSON
from switchboard.security.crypto import fernet_codec, validate_keys

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_what_a_client_encrypts_the_server_reads_and_the_other_way_round() -> None:
    codec = fernet_codec([NEW])
    client = Fernet(NEW.encode())
    envelope = codec.decode(client.encrypt(b'{"type":"echo","data":{"a":[1,2]},"id":"e1"}'))
    assert (envelope.type, envelope.id, envelope.value()) == ("echo", "e1", {"a": [1, 2]})
    reply = codec.encode(EchoReply(data=envelope.data, id=envelope.id))
    assert b"echo_reply" not in reply  # not readable on the way
    assert msgspec.json.decode(client.decrypt(reply)) == {
        "type": "echo_reply",
        "data": {"a": [1, 2]},
        "id": "e1",
    }
    assert codec.opcode == Opcode.BINARY and codec.name == "v1.fernet"


def test_rotation_reads_with_every_key_and_writes_with_the_first() -> None:
    codec = fernet_codec([NEW, OLD])
    from_old_client = Fernet(OLD.encode()).encrypt(b'{"type":"echo"}')
    assert codec.decode(from_old_client).type == "echo"
    written = codec.encode(EchoReply(data=msgspec.Raw(b"1")))
    assert msgspec.json.decode(Fernet(NEW.encode()).decrypt(written))["data"] == 1
    with pytest.raises(InvalidToken):  # old clients must move to the new key
        Fernet(OLD.encode()).decrypt(written)


def refusal(codec_keys: list[str], payload: bytes, ttl: int | None = None) -> EnvelopeError:
    with pytest.raises(EnvelopeError) as info:
        fernet_codec(codec_keys, ttl).decode(payload)
    return info.value


def test_a_wrong_key_or_tampering_is_an_invalid_message_not_a_crash() -> None:
    stranger = Fernet(Fernet.generate_key()).encrypt(b'{"type":"echo"}')
    assert refusal([NEW], stranger).code is ErrorCode.INVALID_MESSAGE_FORMAT
    genuine = bytearray(Fernet(NEW.encode()).encrypt(b'{"type":"echo"}'))
    genuine[40] ^= 1
    assert refusal([NEW], bytes(genuine)).code is ErrorCode.INVALID_MESSAGE_FORMAT
    assert refusal([NEW], b"plain text").code is ErrorCode.INVALID_MESSAGE_FORMAT


def test_a_token_older_than_the_ttl_is_refused() -> None:
    client = Fernet(NEW.encode())
    old = client.encrypt_at_time(b'{"type":"echo"}', int(time.time()) - 120)
    error = refusal([NEW], old, ttl=60)
    assert (error.code, error.message) == (
        ErrorCode.INVALID_MESSAGE_FORMAT,
        "payload could not be decrypted: wrong key, tampered, or expired",
    )
    assert fernet_codec([NEW]).decode(old).type == "echo"  # without a ttl: any age


def test_decrypted_text_that_is_not_json_gets_the_v1_json_error() -> None:
    error = refusal([NEW], Fernet(NEW.encode()).encrypt(b'{"type": '))
    assert error.code is ErrorCode.INVALID_JSON
    error = refusal([NEW], Fernet(NEW.encode()).encrypt(b'{"id": 4}'))
    assert (error.code, error.request_id) == (ErrorCode.INVALID_MESSAGE_FORMAT, 4)


def test_keys_are_validated_by_position_without_echoing_them() -> None:
    validate_keys([NEW, OLD])
    with pytest.raises(ValueError) as info:
        validate_keys([NEW, "not-a-key-at-all"])
    assert str(info.value) == "payload_keys[1] is not a Fernet key"
    with pytest.raises(ValueError, match="at least one key"):
        fernet_codec([])


def test_data_from_a_fernet_client_reaches_json_clients_as_valid_utf8() -> None:
    """Binary frames skip the listener's UTF-8 check: the codec must not pass on what the
    text clients' codec would never have let in."""
    codec = fernet_codec([NEW])
    sealed = Fernet(NEW.encode()).encrypt(b'{"type":"broadcast","data":"\xff\xfe"}')
    with pytest.raises(EnvelopeError) as refused:
        codec.decode(sealed)
    assert refused.value.code == "INVALID_MESSAGE_FORMAT"
    fine = Fernet(NEW.encode()).encrypt('{"type":"broadcast","data":"d\u00e9j\u00e0"}'.encode())
    envelope = codec.decode(fine)
    frame = frame_for(PLAIN_JSON, Broadcast(data=envelope.data), codec.data_format)
    assert "d\u00e9j\u00e0" in frame[2:].decode("utf-8")  # what a v1.json client reads
