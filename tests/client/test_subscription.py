"""``Subscription`` on its own: what a server-made one keeps until the application gives it
an ``on_message``, the bound on that, and the publications it had already."""

from __future__ import annotations

from typing import Any

from switchboard.client import Subscription


def message(offset: int) -> dict[str, Any]:
    return {"type": "message", "channel": "room:1", "offset": offset, "data": offset}


def test_kept_messages_go_to_the_callback_in_order_and_past_the_bound_the_oldest_go() -> None:
    subscription = Subscription("room:1", server=True, held_max=2)
    for offset in (1, 2, 3):
        subscription.deliver(message(offset))
    assert subscription.dropped == 1 and subscription.offset == 3
    got: list[int] = []
    subscription.on_message = lambda frame: got.append(frame["offset"])
    assert got == [2, 3]
    subscription.deliver(message(4))
    assert got == [2, 3, 4]


def test_a_publication_it_had_already_is_not_passed_on_again() -> None:
    got: list[int] = []
    subscription = Subscription("room:1", lambda frame: got.append(frame["offset"]))
    for offset in (1, 2, 2, 1, 3):
        subscription.deliver(message(offset))
    assert got == [1, 2, 3]
