"""Calls to the backend over HTTP: signed, bounded, retried when idempotent, circuit-broken.

One pooled ``httpx.AsyncClient`` per node (made in the running loop at the first call).
A call is refused at once, without waiting, when its route's circuit is open or when
``concurrency`` calls are already in flight; otherwise it POSTs the event, reads at most
``max_answer_bytes`` of the answer, and returns ``(status, body)`` for any 2xx-4xx. A
timeout, a connection failure or a 5xx is a failure: retried (fresh signature, short
backoff) only for idempotent routes, then counted by the route's breaker and raised as
:class:`~switchboard.backend.errors.BackendUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from dataclasses import dataclass, field

import httpx
import structlog

from ..config.backend import BackendOptions
from ..core.repeats import RepeatFilter
from ..observability.throttle import Throttle
from ..version import __version__
from .breaker import Breaker, Circuit
from .errors import BAD_ANSWER, BUSY, CIRCUIT_OPEN, FAILED, TIMEOUT, UNREACHABLE, BackendUnavailable
from .signing import SIGNATURE_HEADER, sign

log = structlog.get_logger("switchboard.backend")

#: Seconds before the first retry; doubled for each one after it.
RETRY_BACKOFF = 0.05
OK = "ok"
REFUSED = "refused"


@dataclass(slots=True)
class RouteStats:
    """Counters of one route, read by the metrics collector."""

    breaker: Breaker
    #: Calls by outcome: ``ok``, ``refused`` (4xx), and the kinds of ``errors.py``.
    outcomes: dict[str, int] = field(default_factory=dict)
    #: Calls made (sent, whatever came of them) and the seconds they took in all.
    made: int = 0
    seconds: float = 0.0


class BackendClient:
    """POSTs events for each route; ``aclose()`` when the node stops."""

    def __init__(self, options: BackendOptions, *, warn_interval: float = 60.0) -> None:
        assert options.secret is not None  # the settings refuse routes without one
        # httpx logs every request, URL and all, at info: too much, and a URL may hold a
        # credential. Its warnings still come through.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self.options = options
        self._secret = options.secret.get_secret_value().encode()
        self.routes = {
            key: RouteStats(Breaker(options.failure_threshold, options.cooldown))
            for key in options.routes
        }
        #: Calls in flight now (never more than ``options.concurrency``).
        self.in_flight = 0
        self._http: httpx.AsyncClient | None = None
        self._closed = False
        self._opened_warning = {key: Throttle(warn_interval) for key in options.routes}
        #: Calls refused while a circuit is open: one warning per route per interval.
        self._refusals = RepeatFilter(warn_interval, _refusals_repeated)

    def _client(self) -> httpx.AsyncClient:
        if self._closed:  # the node stopped: no new pool
            raise BackendUnavailable(UNREACHABLE)
        if self._http is None:
            o = self.options
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(o.timeout),
                limits=httpx.Limits(
                    max_connections=o.concurrency, max_keepalive_connections=o.concurrency
                ),
                follow_redirects=False,
                headers={"User-Agent": f"switchboard/{__version__}"},
            )
        return self._http

    async def aclose(self) -> None:
        self._closed = True
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def call(
        self, route_key: str, body: bytes, request_id: str, *, idempotent: bool = False
    ) -> tuple[int, bytes]:
        """POST ``body`` (an encoded event) to ``route_key``'s endpoint; ``(status, answer)``
        for a 2xx-4xx, else :class:`BackendUnavailable`."""
        stats = self.routes[route_key]
        if self.in_flight >= self.options.concurrency:  # before the breaker: not a trial
            self._count(stats, BUSY)
            raise BackendUnavailable(BUSY)
        if not stats.breaker.allow():
            self._count(stats, CIRCUIT_OPEN)
            if self._refusals.allow(route_key):
                log.warning(
                    "backend_circuit_open_refused",
                    route=route_key,
                    retry_after_s=round(stats.breaker.retry_after(), 1),
                )
            raise BackendUnavailable(CIRCUIT_OPEN)
        self.in_flight += 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            status, answer = await self._attempts(route_key, body, request_id, idempotent)
        except BackendUnavailable as exc:
            self._count(stats, exc.kind)
            self._failed(route_key, stats, exc)
            raise
        except BaseException:  # cancelled mid-call: if it was the trial, the trial failed
            if stats.breaker.state is Circuit.HALF_OPEN:
                self._failed(route_key, stats, None)
            raise
        finally:
            self.in_flight -= 1
            stats.made += 1
            stats.seconds += loop.time() - started
        self._count(stats, OK if status < 400 else REFUSED)
        if stats.breaker.succeeded():
            log.info("backend_circuit_closed", route=route_key)
        return status, answer

    async def _attempts(
        self, route_key: str, body: bytes, request_id: str, idempotent: bool
    ) -> tuple[int, bytes]:
        url = self.options.routes[route_key].url
        attempts = 1 + (self.options.retries if idempotent else 0)
        delay = RETRY_BACKOFF
        for attempt in range(attempts):
            try:
                return await self._post(url, route_key, body, request_id)
            except BackendUnavailable as exc:
                if attempt + 1 >= attempts or exc.kind == BAD_ANSWER:
                    raise
                log.info(
                    "backend_retry",
                    route=route_key,
                    request_id=request_id,
                    attempt=attempt + 1,
                    error=exc.kind,
                    status=exc.status,
                )
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(
        self, url: str, route_key: str, body: bytes, request_id: str
    ) -> tuple[int, bytes]:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body),
            "X-Switchboard-Request-Id": request_id,
            "X-Switchboard-Route": route_key,
        }
        limit = self.options.max_answer_bytes
        try:
            async with self._client().stream("POST", url, content=body, headers=headers) as rsp:
                status = rsp.status_code
                if status >= 500 or status < 200 or 300 <= status < 400:
                    raise BackendUnavailable(FAILED, status)
                chunks: list[bytes] = []
                size = 0
                async for chunk in rsp.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise BackendUnavailable(BAD_ANSWER)
                    chunks.append(chunk)
                return status, b"".join(chunks)
        except httpx.TimeoutException:
            raise BackendUnavailable(TIMEOUT) from None
        except httpx.HTTPError:
            # Not the exception's text: it may hold the URL, and the URL a credential.
            raise BackendUnavailable(UNREACHABLE) from None

    def _failed(self, route_key: str, stats: RouteStats, exc: BackendUnavailable | None) -> None:
        if exc is not None and exc.kind == BAD_ANSWER:
            stats.breaker.succeeded()  # it is up and answering: no reason to stop calling it
            return
        if not stats.breaker.failed():
            return
        o = self.options

        def warn(suppressed: int) -> None:
            log.warning(
                "backend_circuit_opened",
                route=route_key,
                failures=stats.breaker.failures,
                error=None if exc is None else exc.kind,
                status=None if exc is None else exc.status,
                cooldown_s=o.cooldown,
                times_since_last_warning=suppressed,
            )

        self._opened_warning[route_key](warn)

    @staticmethod
    def _count(stats: RouteStats, outcome: str) -> None:
        stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1


def _refusals_repeated(route_key: Hashable, repeated: int) -> None:
    log.warning("backend_circuit_open_refused_repeated", route=route_key, repeated=repeated)
