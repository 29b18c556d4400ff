"""Idempotency keys of the management API's publishes: the same key answers the first result.

A publish that carries a key claims it in the broker (so every node of a cluster sees the
claim) before it publishes, then stores its answer there for :data:`IDEMPOTENCY_TTL`. A
retry with the key gets that answer, and nothing is published again; a retry while the first
is still running gets 409; the same key with another request (another channel or data) gets
422, as it would be a bug of the caller's to answer it with the first one's result. When the
publish fails the claim is dropped, so the retry publishes.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import msgspec
import structlog
from pydantic import BaseModel

from ..errors import BrokerUnavailable
from .errors import ApiError

if TYPE_CHECKING:
    from ..broker.base import Broker

log = structlog.get_logger("switchboard.admin")

#: Seconds a key answers its first result.
IDEMPOTENCY_TTL = 300.0
#: Seconds a claim lasts while its publish runs: a node that dies meanwhile holds it no longer.
PENDING_TTL = 30.0
#: What a claim holds while its publish runs.
_PENDING = b"-"

M = TypeVar("M", bound=BaseModel)


class _Kept(msgspec.Struct, frozen=True):
    """What a key holds once answered: the request's fingerprint and the answer (JSON)."""

    fingerprint: str
    answer: bytes


def fingerprint(operation: str, *parts: str | bytes) -> str:
    """A digest of what a request asks, to tell a retry from another request with the key."""
    digest = hashlib.sha256(operation.encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


async def once(
    broker: Broker, key: str, request: str, run: Callable[[], Awaitable[M]], model: type[M]
) -> tuple[M, bool]:
    """``run()``'s answer, or the answer the first request with ``key`` got; the flag says
    which (True: replayed). ``request`` is the request's :func:`fingerprint`."""
    name = f"idempotency:{key}"
    try:
        held = await broker.claim(name, _PENDING, PENDING_TTL)
    except NotImplementedError:
        raise ApiError(
            501, "this node's broker keeps no idempotency keys", "NOT_IMPLEMENTED"
        ) from None
    if held is not None:
        return _replayed(held, request, model), True
    try:
        answer = await run()
    except BaseException:
        with contextlib.suppress(BrokerUnavailable):  # then the claim lapses on its own
            await broker.settle(name, None, PENDING_TTL)
        raise
    kept = msgspec.msgpack.encode(_Kept(request, answer.model_dump_json().encode()))
    await broker.settle(name, kept, IDEMPOTENCY_TTL)
    return answer, False


def _replayed(held: bytes, request: str, model: type[M]) -> M:
    if held == _PENDING:
        raise ApiError(409, "a request with this Idempotency-Key is still running", "CONFLICT")
    kept = msgspec.msgpack.decode(held, type=_Kept)
    if kept.fingerprint != request:
        log.info("admin_idempotency_key_reused")
        raise ApiError(
            422,
            "this Idempotency-Key was used for another request in the last "
            f"{IDEMPOTENCY_TTL:.0f} s",
            "IDEMPOTENCY_KEY_REUSED",
        )
    return model.model_validate_json(kept.answer)
