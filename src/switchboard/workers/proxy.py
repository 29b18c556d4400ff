"""The machine admin port's pass-through: a request it does not answer itself goes to a worker.

Method, path, query, headers (``X-API-Key`` and ``Authorization`` included) and body go
through as they came, streamed both ways, so the worker's own checks (the key, the body's
size, its Host list) decide, and the dashboard's event stream flows. Only hop-by-hop headers
stay behind, and ``Host`` becomes the worker's loopback address when ``admin_allowed_hosts``
is empty (the worker's own list is then its loopback names; the machine port checked the
client's Host against its own address already).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import structlog
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..admin.errors import error_response
from ..observability.throttle import Throttle
from .readiness import admin_url
from .worker import Worker

log = structlog.get_logger("switchboard.workers")

#: Headers of one hop (RFC 9110 7.6.1), never forwarded; ``host`` is set apart.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
#: Headers of the worker's answer the machine port sets itself.
OWN_HEADERS = HOP_BY_HOP | {"date", "server"}
#: Header of the answer naming the worker that gave it.
WORKER_HEADER = b"x-switchboard-worker"
#: ``worker_proxy_failed`` is logged at most once per this many seconds.
LOG_INTERVAL = 10.0

_log_failed = Throttle(LOG_INTERVAL)


def _failed(worker: Worker, stage: str, exc: Exception) -> None:
    _log_failed(
        lambda suppressed: log.warning(
            "worker_proxy_failed",
            worker=worker.index,
            stage=stage,
            error=type(exc).__name__,
            suppressed_since_last=suppressed,
        )
    )


async def forward(
    request: Request, client: httpx.AsyncClient, worker: Worker, keep_host: bool
) -> Response:
    """``request`` sent to ``worker``'s admin port; its answer, streamed back."""
    headers = [
        (k, v) for k, v in request.headers.raw if k.decode("latin-1").lower() not in HOP_BY_HOP
    ]
    host = request.headers.get("host") if keep_host else None
    headers.append((b"host", (host or f"127.0.0.1:{worker.admin_port}").encode("latin-1")))
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    target = httpx.URL(admin_url(worker, "/")).copy_with(raw_path=_raw_target(request))
    outgoing = client.build_request(
        request.method, target, headers=headers, content=request.stream() if has_body else None
    )
    try:
        answer = await client.send(outgoing, stream=True)
    except httpx.HTTPError as exc:
        _failed(worker, "request", exc)
        message = f"worker {worker.index} did not answer"
        return error_response(502, "UNAVAILABLE", message)
    response = StreamingResponse(
        _body(answer, worker),
        status_code=answer.status_code,
        background=BackgroundTask(answer.aclose),
    )
    response.raw_headers = [
        (k.lower(), v)
        for k, v in answer.headers.raw
        if k.decode("latin-1").lower() not in OWN_HEADERS
    ] + [(WORKER_HEADER, str(worker.index).encode())]
    return response


def _raw_target(request: Request) -> bytes:
    path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    return path + b"?" + query if query else path


async def _body(answer: httpx.Response, worker: Worker) -> AsyncIterator[bytes]:
    """The answer's bytes as they came (still compressed, if they were); a worker that stops
    mid-answer ends it early (the client sees a short body, as from the worker itself)."""
    try:
        async for chunk in answer.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        _failed(worker, "answer", exc)
    finally:  # also when the client went away (a closed dashboard): the worker's stream too
        await answer.aclose()
