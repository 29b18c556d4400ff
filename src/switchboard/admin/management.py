"""The management API under ``/api/v1``: publish, send, inspect and close connections, stats.

Every endpoint needs the API key in the ``X-API-Key`` header. Connection endpoints answer
410 Gone for a connection that is not open (the shape of API Gateway's ``@connections``
API); errors use the one shape of ``admin/errors.py``. The routes live by concern in
``connections.py``, ``sending.py``, ``users.py``, ``channels.py``, ``batch.py`` and
``diagnostics.py``; what the sending and closing ones do is in ``commands.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Security

from .batch import add_batch_route
from .channels import add_channel_routes
from .commands import Commands
from .connections import add_connection_routes
from .diagnostics import add_diagnostics_routes
from .errors import ERROR_RESPONSES, ApiError
from .keys import key_header, key_refusal
from .sending import add_sending_routes
from .users import add_user_routes

if TYPE_CHECKING:
    from .view import NodeView


def management_router(view: NodeView) -> APIRouter:
    """The ``/api/v1`` routes, bound to ``view``."""

    def require_key(key: Annotated[str | None, Security(key_header)] = None) -> None:
        # ApiGuard refused a bad key before the body was read; this documents the scheme in
        # the OpenAPI spec and holds if the guard is ever left out.
        why = key_refusal(key, view.settings)
        if why is not None:
            raise ApiError(401, why)

    router = APIRouter(
        prefix="/api/v1", dependencies=[Depends(require_key)], responses=ERROR_RESPONSES
    )
    commands = Commands(view)
    # In this order: it is the order of the paths in the OpenAPI spec.
    add_connection_routes(router, view, commands)
    add_sending_routes(router, commands)
    add_user_routes(router, commands)
    add_channel_routes(router, view)
    add_batch_route(router, commands)
    add_diagnostics_routes(router, view)
    return router
