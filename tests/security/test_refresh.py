"""The in-band ``refresh`` route over a fake transport: a fresh token moves the expiry."""

from __future__ import annotations

import json
import time

from switchboard.core.node import Node
from switchboard.security.auth import Authenticator, AuthSettings
from switchboard.security.refresh import install_refresh

from ..conftest import timeout, wait_until
from ..core.fakes import Client, make_node, next_loop_pass
from .keys import SECRET, token


def node_with_refresh() -> Node:
    node = make_node()
    auth = Authenticator(AuthSettings(secret=SECRET))
    install_refresh(node.router, node.hub, node.expiry, auth, node.set_user)
    return node


async def refresh(client: Client, jwt: str | None, request_id: int) -> dict[str, object]:
    await next_loop_pass()  # the welcome, or the previous answer, is out
    client.transport.events.clear()
    message: dict[str, object] = {"type": "refresh", "id": request_id}
    if jwt is not None:
        message["token"] = jwt
    client.send(json.dumps(message))
    await next_loop_pass()
    (answer,) = client.messages()
    return answer


async def test_a_fresh_token_for_the_same_user_moves_the_expiry_and_the_roles() -> None:
    node = node_with_refresh()
    deadline = time.time() + timeout(0.1)
    renewed = Client(node, user="eve", expires_at=deadline)
    lapsing = Client(node, user="ann", expires_at=deadline + 0.02)
    fresh = token("eve", expires_in=300, roles=["admin"])
    assert await refresh(renewed, fresh, 1) == {"type": "ack", "id": 1}
    assert renewed.conn.roles == {"admin"}
    # Timers fire in deadline order: once the later one closed its connection, the old
    # deadline of the refreshed one has passed too.
    await wait_until(lambda: bool(lapsing.transport.closes))
    assert lapsing.transport.closes == [(4410, "token expired", False)]
    assert renewed.transport.closes == []


async def test_a_refused_refresh_changes_nothing() -> None:
    node = node_with_refresh()
    client = Client(
        node, user="eve", roles=frozenset({"member"}), expires_at=time.time() + timeout(0.1)
    )
    bad = await refresh(client, "garbage", 2)
    assert (bad["code"], bad["id"], bad["message"]) == ("UNAUTHORIZED", 2, "malformed token")
    other = await refresh(client, token("mallory", roles=["admin"]), 3)
    assert (other["code"], other["message"]) == ("FORBIDDEN", "the token is for another user")
    missing = await refresh(client, None, 4)
    assert missing["code"] == "INVALID_MESSAGE_FORMAT"
    assert client.conn.user == "eve" and client.conn.roles == {"member"}
    await wait_until(lambda: bool(client.transport.closes))  # the old expiry still stands
    assert client.transport.closes == [(4410, "token expired", False)]


async def test_an_anonymous_connection_takes_the_tokens_user() -> None:
    node = node_with_refresh()
    client = Client(node)
    assert await refresh(client, token("zoe", roles=["x"]), 5) == {"type": "ack", "id": 5}
    assert (client.conn.user, client.conn.roles) == ("zoe", frozenset({"x"}))
    assert len(node.expiry) == 1  # and the token's expiry


async def test_an_anonymous_connection_that_refreshes_into_a_user_is_reachable_as_that_user() -> (
    None
):
    node = node_with_refresh()
    anonymous = Client(node)
    assert (await refresh(anonymous, token("zoe", expires_in=300), 1))["type"] == "ack"
    assert [conn.id for conn in node.registry.of_user("zoe")] == [anonymous.conn.id]
