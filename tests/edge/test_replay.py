"""The one-off history read of ``edge/replay.py`` against a real central: what was missed,
nothing for another epoch, the central's error for a request it refuses."""

from __future__ import annotations

import pytest

from switchboard.broker.base import StreamPosition
from switchboard.edge.replay import replay
from switchboard.errors import ErrorReply

from ..conftest import timeout, ws_url
from .conftest import StartCentral


async def test_a_replay_reads_what_was_missed_and_nothing_after(
    start_central: StartCentral,
) -> None:
    central = await start_central()
    for n in range(1, 6):
        await central.publish("log", {"n": n})
    position = await central.broker.position("log")
    found = await replay(
        ws_url(central), None, "log", StreamPosition(2, position.epoch), timeout(5)
    )
    assert found.recovered is True
    assert found.position == position
    assert [(p.offset, p.data) for p in found.publications] == [
        (3, b'{"n":3}'),
        (4, b'{"n":4}'),
        (5, b'{"n":5}'),
    ]
    assert central.node is not None
    assert not central.node.channels.subscribers.get("log")  # it left: one-off


async def test_a_replay_from_another_epoch_recovers_nothing(start_central: StartCentral) -> None:
    central = await start_central()
    await central.publish("log", 1)
    found = await replay(ws_url(central), None, "log", StreamPosition(1, "gone"), timeout(5))
    assert found.recovered is False
    assert found.publications == []
    assert found.position.offset == 1


async def test_a_replay_the_central_refuses_raises_its_error(start_central: StartCentral) -> None:
    central = await start_central()
    with pytest.raises(ErrorReply) as refused:
        await replay(ws_url(central), None, "bad channel!", StreamPosition(0, "x"), timeout(5))
    assert refused.value.code == "INVALID_MESSAGE_FORMAT"
