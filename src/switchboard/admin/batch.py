"""``POST /api/v1/batch``: several management commands in one request, each answered alone.

Each command names a method (the snake_case of an endpoint's operationId) and its ``params``
(what that endpoint's path, query and body carry, by name); it runs the same function the
endpoint does (``commands.py``). The answers come in the order of the commands, each its
result or its error: one failing command does not fail the others. ``parallel`` runs them at
once instead of one after the other (then their effects may happen in any order).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import structlog
from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictBool, ValidationError

from ..errors import BrokerUnavailable
from . import models
from .commands import translated
from .errors import ApiError, documented
from .params import Traceparent

if TYPE_CHECKING:
    from .commands import Commands

log = structlog.get_logger("switchboard.admin")

#: Commands one batch holds at most.
MAX_COMMANDS = 100

Method = Literal[
    "publish",
    "publish_many",
    "send_to_user",
    "send_to_connection",
    "disconnect_connection",
    "disconnect_user",
    "subscribe_user",
    "unsubscribe_user",
    "subscribe_connection",
    "unsubscribe_connection",
]


class Command(BaseModel):
    method: Method
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The method's parameters by name, as its endpoint takes them "
        '(e.g. publish: `{"channel": "room:1", "data": ...}`).',
    )


class BatchRequest(BaseModel):
    commands: list[Command] = Field(min_length=1, max_length=MAX_COMMANDS)
    parallel: StrictBool = Field(default=False, description="Run the commands at once.")


class CommandError(BaseModel):
    status: int = Field(description="The HTTP status the command's own endpoint answers.")
    code: str
    message: str


class CommandResult(BaseModel):
    result: dict[str, Any] | None = Field(
        default=None, description="What the command's endpoint answers; null on error."
    )
    error: CommandError | None = None


class BatchResponse(BaseModel):
    results: list[CommandResult] = Field(description="One per command, in their order.")


Runner = Callable[[Any, str | None], Awaitable[BaseModel]]


def _methods(commands: Commands) -> dict[str, tuple[type[BaseModel], Runner]]:
    return {
        "publish": (models.PublishParams, commands.publish),
        "publish_many": (models.PublishManyRequest, commands.publish_many),
        "send_to_user": (models.SendToUserParams, commands.send_to_user),
        "send_to_connection": (models.SendToConnectionParams, commands.send_to_connection),
        "disconnect_connection": (
            models.DisconnectConnectionParams,
            commands.disconnect_connection,
        ),
        "disconnect_user": (models.DisconnectUserParams, commands.disconnect_user),
        "subscribe_user": (models.UserChannelParams, commands.subscribe_user),
        "unsubscribe_user": (models.UserChannelParams, commands.unsubscribe_user),
        "subscribe_connection": (models.ConnectionChannelParams, commands.subscribe_connection),
        "unsubscribe_connection": (
            models.ConnectionChannelParams,
            commands.unsubscribe_connection,
        ),
    }


def add_batch_route(router: APIRouter, commands: Commands) -> None:
    """Add ``/batch`` to ``router``."""
    methods = _methods(commands)

    async def run(command: Command, traceparent: str | None) -> CommandResult:
        params_model, runner = methods[command.method]
        try:
            try:
                params = params_model.model_validate(command.params)
            except ValidationError as exc:
                raise ApiError(422, _problems(exc), "INVALID_REQUEST") from None
            with translated():
                result = await runner(params, traceparent)
        except ApiError as exc:
            return _failed(command, exc.status, exc.code, exc.message)
        except BrokerUnavailable as exc:
            return _failed(command, 503, "UNAVAILABLE", f"broker unavailable: {exc}")
        except Exception as exc:
            log.error("admin_batch_command_crashed", method=command.method, exc_info=exc)
            return _failed(command, 500, "INTERNAL_ERROR", "internal error")
        return CommandResult(result=result.model_dump(mode="json"))

    @router.post(
        "/batch",
        response_model=BatchResponse,
        summary="Run several commands",
        description=f"1 to {MAX_COMMANDS} commands, answered in order, each with its result "
        "or its error (the status, code and message its own endpoint would answer). The "
        "whole body is bounded like any other (max_message_size + 1 KiB).",
        responses=documented(413),
        tags=["batch"],
    )
    async def batch(body: BatchRequest, traceparent: Traceparent = None) -> BatchResponse:
        if body.parallel:
            results = await asyncio.gather(*(run(c, traceparent) for c in body.commands))
            return BatchResponse(results=list(results))
        return BatchResponse(results=[await run(c, traceparent) for c in body.commands])


def _failed(command: Command, status: int, code: str, message: str) -> CommandResult:
    log.info("admin_batch_command_failed", method=command.method, status=status, code=code)
    return CommandResult(error=CommandError(status=status, code=code, message=message))


def _problems(exc: ValidationError) -> str:
    """A validation error as the API's one-line message (``params.channel: ...``)."""
    return "; ".join(
        f"params.{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
    )
