"""Building the node's parts from the settings: capacity under the open-file limit, the
descriptor shares, channel permissions, codecs, compression and the node itself."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

import pytest
from cryptography.fernet import Fernet

from switchboard.broker.base import HistoryOptions
from switchboard.broker.memory import MemoryBroker
from switchboard.config import NamespaceOptions, Settings
from switchboard.core.channels import ChannelOptions
from switchboard.core.connection import Connection
from switchboard.core.pipeline import Route
from switchboard.core.stats import Stats
from switchboard.errors import EnvelopeError
from switchboard.protocol.deflate import DeflateSettings
from switchboard.protocol.envelope import Envelope
from switchboard.wiring import (
    admin_connections,
    build_node,
    codecs,
    deflate,
    handshakes_in_flight,
    has_channel_permissions,
)

from .conftest import timeout
from .core.fakes import Client, next_loop_pass

#: Run with a lowered open-file limit (soft 1024, hard 2048), in a process of its own: a
#: hard limit once lowered cannot be raised again.
CAPACITY = """
import json, resource, sys
from switchboard.config import Settings
from switchboard.wiring import connection_capacity
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 2048))
answers = [connection_capacity(Settings(**json.loads(arg))) for arg in sys.argv[1:]]
print(json.dumps({"answers": answers, "after": resource.getrlimit(resource.RLIMIT_NOFILE)}))
"""


def test_capacity_is_the_open_file_limit_less_the_reserve() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip("the open-file hard limit is below the one this test sets")
    cases = [
        {"fd_reserve": 100},
        {"fd_reserve": 100, "max_connections": 500},
        {"fd_reserve": 100, "max_connections": 5000},
        {"fd_reserve": 2000},  # set: kept, however little it leaves
        {},  # the default 2,048 over a limit of 2,048: half the limit is kept usable
    ]
    result = subprocess.run(
        [sys.executable, "-c", CAPACITY, *(json.dumps(case) for case in cases)],
        capture_output=True,
        text=True,
        timeout=timeout(30),
        env={"PATH": ""},  # no SWITCHBOARD_* settings of the environment
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["after"] == [2048, 2048]  # the soft limit was raised to the hard one first
    assert found["answers"] == [
        [2048 - 100, 2048],  # max_connections 0: as many as the descriptors allow
        [500, 2048],  # set below the cap: kept
        [2048 - 100, 2048],  # set above it: lowered to it
        [48, 2048],
        [1024, 2048],  # not 1 connection, which the default reserve used to leave
    ]


@pytest.mark.parametrize(
    ("fd_reserve", "admin", "handshakes"),
    [(2048, 1024, 512), (100, 50, 25), (64, 32, 16)],
)
def test_the_reserve_is_shared_between_admin_connections_and_handshakes(
    fd_reserve: int, admin: int, handshakes: int
) -> None:
    s = Settings(fd_reserve=fd_reserve)
    assert (admin_connections(s), handshakes_in_flight(s)) == (admin, handshakes)


def test_the_shares_never_fall_below_sixteen() -> None:
    # Settings refuse an fd_reserve below 64; a caller building settings unvalidated still
    # gets a control plane and handshakes that can work.
    s = Settings.model_construct(fd_reserve=8)
    assert (admin_connections(s), handshakes_in_flight(s)) == (16, 16)


RESTRICTIONS: list[dict[str, Any]] = [
    {"subscribe_roles": ["member"]},
    {"publish_roles": ["editor"]},
    {"presence_roles": ["staff"]},
    {"user_limited": True},
    {"channel_token": True},
]


def test_channels_without_restrictions_need_no_permission_checks() -> None:
    assert not has_channel_permissions(Settings())
    open_room = NamespaceOptions(presence=True, join_leave=True, publish=False)
    assert not has_channel_permissions(Settings(namespaces={"room": open_room}))


@pytest.mark.parametrize("restriction", RESTRICTIONS)
def test_any_restriction_in_the_defaults_or_a_namespace_needs_permission_checks(
    restriction: dict[str, Any],
) -> None:
    restricted = NamespaceOptions(**restriction)
    assert has_channel_permissions(Settings(channel_defaults=restricted))
    namespaces = {"chat": NamespaceOptions(), "room": restricted}
    assert has_channel_permissions(Settings(namespaces=namespaces))


def test_the_codecs_are_the_built_in_ones_plus_fernet_with_keys() -> None:
    assert [c.name for c in codecs(Settings())] == ["v1.json", "v1.binary", "v2.proto"]
    key = Fernet.generate_key()
    offered = codecs(Settings(payload_keys=[key.decode()], payload_ttl=60))
    assert [c.name for c in offered] == ["v1.json", "v1.binary", "v2.proto", "v1.fernet"]
    fernet = offered[-1]
    message = b'{"type":"echo","data":1}'
    assert fernet.decode(Fernet(key).encrypt(message)).type == "echo"  # the key is the one set
    old = Fernet(key).encrypt_at_time(message, int(time.time()) - 120)
    with pytest.raises(EnvelopeError):  # older than payload_ttl
        fernet.decode(old)
    no_ttl = codecs(Settings(payload_keys=[key.decode()]))[-1]
    assert no_ttl.decode(old).type == "echo"


def test_deflate_is_off_or_follows_the_compression_settings() -> None:
    assert deflate(Settings(compression="off")) is None
    s = Settings(
        max_message_size=4096,
        compression_window_bits=10,
        compression_memory_level=3,
        compression_level=2,
        compression_threshold=100,
    )
    policy = deflate(s)
    assert policy is not None
    assert policy.settings == DeflateSettings(
        context_takeover=False, window_bits=10, memory_level=3, level=2, threshold=100
    )
    assert policy.max_message_size == 4096
    negotiated = policy.negotiate("permessage-deflate; client_max_window_bits")
    assert negotiated is not None
    assert "server_max_window_bits=10" in negotiated.header
    assert "server_no_context_takeover" in negotiated.header
    assert (negotiated.compressor.threshold, negotiated.compressor.shared) == (100, True)
    takeover = deflate(Settings(compression_context_takeover=True))
    assert takeover is not None
    kept = takeover.negotiate("permessage-deflate")
    assert kept is not None
    assert "no_context_takeover" not in kept.header
    assert not kept.compressor.shared


def no_history(namespace: str) -> ChannelOptions:
    return ChannelOptions(history=HistoryOptions(0, 0.0))


class Tracer:
    """Stage 3 of the pipeline, counting the messages it saw."""

    def __init__(self) -> None:
        self.seen = 0

    def message(self, conn: Connection, size: int, envelope: Envelope | None, route: Route) -> None:
        self.seen += 1
        if envelope is not None:
            route(conn, envelope)


@pytest.mark.parametrize(
    ("settings", "stages"),
    [
        ({}, ["metrics", "decode", "route"]),
        ({"metrics": False}, ["decode", "route"]),
        ({"message_rate": 5.0}, ["limits", "metrics", "decode", "route"]),
        ({"user_message_rate": 5.0, "metrics": False}, ["limits", "decode", "route"]),
        ({"raw_echo": True}, ["metrics", "raw_echo"]),
    ],
)
async def test_the_built_node_has_the_pipeline_stages_of_the_settings(
    settings: dict[str, Any], stages: list[str]
) -> None:
    node = build_node(Settings(**settings), MemoryBroker(), no_history, Stats(), None)
    assert node.pipeline.stages == stages


async def test_the_built_node_takes_its_tracer_stats_and_settings() -> None:
    s = Settings(
        node_id="edge-7",
        ping_interval=12.0,
        max_subscriptions=1,
        message_rate=1.0,
        message_burst=3,
    )
    stats, tracer = Stats(), Tracer()
    node = build_node(s, MemoryBroker(), no_history, stats, tracer)
    assert node.pipeline.stages == ["limits", "metrics", "decode", "tracing", "route"]
    assert node.stats is stats
    client = Client(node)
    client.send('{"type":"subscribe","channel":"a","id":1}')
    client.send('{"type":"subscribe","channel":"b","id":2}')  # past max_subscriptions
    client.send('{"type":"echo","id":3}')
    client.send('{"type":"echo","id":4}')  # past the burst of three
    await next_loop_pass()
    welcome, *replies = client.messages()
    assert welcome == {
        "type": "welcome",
        "connection_id": client.conn.id,
        "node": "edge-7",
        "heartbeat": 12.0,
    }
    assert [(m["type"], m.get("code")) for m in replies] == [
        ("ack", None),
        ("error", "FORBIDDEN"),
        ("echo_reply", None),
        ("error", "RATE_LIMIT_EXCEEDED"),
    ]
    assert tracer.seen == 3  # the refused message never reached stage 3
    assert node.received()["subscribe"] == 2  # counted in the stats given
    assert stats.rate_limited == {"connection": 1}
