from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Envelope(_message.Message):
    __slots__ = ("type", "id", "int_id", "data", "value", "channel", "to", "recover_from", "offset", "epoch", "recovered", "code", "message", "connection_id", "node", "heartbeat", "members", "member", "sender", "token", "traceparent", "skip_self")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INT_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    RECOVER_FROM_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    SKIP_SELF_FIELD_NUMBER: _ClassVar[int]
    type: str
    id: str
    int_id: int
    data: bytes
    value: _struct_pb2.Value
    channel: str
    to: Target
    recover_from: Position
    offset: int
    epoch: str
    recovered: bool
    code: str
    message: str
    connection_id: str
    node: str
    heartbeat: float
    members: _containers.RepeatedCompositeFieldContainer[Member]
    member: Member
    sender: Member
    token: str
    traceparent: str
    skip_self: bool
    def __init__(self, type: _Optional[str] = ..., id: _Optional[str] = ..., int_id: _Optional[int] = ..., data: _Optional[bytes] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., channel: _Optional[str] = ..., to: _Optional[_Union[Target, _Mapping]] = ..., recover_from: _Optional[_Union[Position, _Mapping]] = ..., offset: _Optional[int] = ..., epoch: _Optional[str] = ..., recovered: _Optional[bool] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., connection_id: _Optional[str] = ..., node: _Optional[str] = ..., heartbeat: _Optional[float] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., member: _Optional[_Union[Member, _Mapping]] = ..., sender: _Optional[_Union[Member, _Mapping]] = ..., token: _Optional[str] = ..., traceparent: _Optional[str] = ..., skip_self: _Optional[bool] = ...) -> None: ...

class Target(_message.Message):
    __slots__ = ("user", "connection")
    USER_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    user: str
    connection: str
    def __init__(self, user: _Optional[str] = ..., connection: _Optional[str] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ("offset", "epoch")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    offset: int
    epoch: str
    def __init__(self, offset: _Optional[int] = ..., epoch: _Optional[str] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("connection", "user")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    connection: str
    user: _struct_pb2.Value
    def __init__(self, connection: _Optional[str] = ..., user: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
