"""Settings of the WebSocket port: the documented defaults and the values refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from switchboard.config import Settings, load_settings


def test_defaults_are_the_documented_ones() -> None:
    s = Settings()
    assert (s.host, s.port, s.path) == ("0.0.0.0", 8080, "/ws")
    assert s.max_message_size == 1024 * 1024
    assert (s.ping_interval, s.ping_timeout) == (30.0, 20.0)
    assert s.raw_echo is False


@pytest.mark.parametrize(
    "bad",
    [{"port": 70000}, {"path": "ws"}, {"max_message_size": 10}, {"send_queue_limit": 65536}],
)
def test_invalid_values_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        load_settings(**bad)
