"""Channel names: the documented alphabet and length, and namespaces."""

from __future__ import annotations

import pytest

from switchboard.protocol.channels import is_valid_channel, namespace_of


@pytest.mark.parametrize(
    "name",
    ["a", "room:42", "chat:dm#ann,bob", "feed/eu-west.1", "user@host", "k=v", "x" * 255],
)
def test_names_from_the_alphabet_up_to_255_characters_are_valid(name: str) -> None:
    assert is_valid_channel(name)


@pytest.mark.parametrize(
    "name",
    ["", "x" * 256, "room 1", "room\n", "röom", "a*", "a?b", "a\x00"],
)
def test_other_names_are_invalid(name: str) -> None:
    assert not is_valid_channel(name)


def test_a_trailing_newline_does_not_sneak_past_the_pattern() -> None:
    # ``re.match(...$)`` accepts "name\n"; the check must be a full match.
    assert not is_valid_channel("room:1\n")


@pytest.mark.parametrize(
    ("channel", "namespace"),
    [("room:42", "room"), ("lobby", ""), ("a:b:c", "a"), (":x", ""), ("chat:dm#a,b", "chat")],
)
def test_the_namespace_is_the_part_before_the_first_colon(channel: str, namespace: str) -> None:
    assert namespace_of(channel) == namespace
