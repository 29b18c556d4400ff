"""The control plane's FastAPI application: probes, ``/metrics``, ``/api/v1``, dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from ..core.lifecycle import NodeState
from .docs import install_docs
from .errors import install_error_handlers
from .guard import ApiGuard
from .hosts import HostCheck, HostPolicy
from .management import management_router
from .pages import install_pages

if TYPE_CHECKING:
    from .view import NodeView

_DESCRIPTION = """\
The control plane of one Switchboard node. `/health`, `/ready` and `/metrics` are open;
everything under `/api/v1` needs the `X-API-Key` header. Errors always look like
`{"error": {"code": "GONE", "message": "..."}}`. A request whose `Host` is not one of
`admin_allowed_hosts` gets 421 `MISDIRECTED_REQUEST` (`/health` and `/ready` excepted), and one
past the bound on requests in flight gets 503 `UNAVAILABLE` with `Retry-After`.
"""


def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI ``operationId``: its function's name in camelCase (``listConnections``),
    so a generated client's methods read well."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def create_admin_app(view: NodeView) -> FastAPI:
    """The FastAPI application serving the control plane of ``view``'s node.

    Raises ``ValueError`` when an ``admin_allowed_hosts`` entry is not a host name.
    """
    settings = view.settings
    hosts = HostPolicy(settings.admin_allowed_hosts, settings.admin_host)
    api = FastAPI(
        title="Switchboard control plane",
        version=view.version,
        description=_DESCRIPTION,
        docs_url=None,  # served by install_docs, without a CDN
        openapi_url="/openapi.json",
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(api)
    api.add_middleware(ApiGuard, settings=lambda: view.settings)
    # Added last, so outermost: a request for another host reaches nothing, not even the key
    # check (DNS rebinding, see hosts.py).
    api.add_middleware(HostCheck, policy=hosts)

    @api.get("/health", tags=["probes"], summary="Liveness: the process answers")
    async def check_health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get(
        "/ready",
        tags=["probes"],
        summary="Readiness: 503 while starting or draining",
        responses={503: {"description": "Not ready: starting or draining."}},
    )
    async def check_ready() -> Any:
        state = view.lifecycle.state
        if state is NodeState.READY:
            node = view.node
            if node is not None and not node.broker.healthy():
                # Still ready: the node serves its own connections; what crosses the broker
                # answers UNAVAILABLE until it is back.
                return {"status": "degraded", "broker": "unavailable"}
            return {"status": "ready"}
        status = "starting" if state is NodeState.STARTING else "draining"
        return JSONResponse({"status": status}, status_code=503)

    @api.get(
        "/metrics",
        tags=["probes"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def get_metrics() -> Response:
        registry = view.metrics_registry
        body = b"" if registry is None else generate_latest(registry)
        return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)

    api.include_router(management_router(view))
    install_pages(api, view)
    install_docs(api)
    return api
