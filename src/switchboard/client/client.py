"""An asyncio client for Switchboard: requests with awaited answers, subscriptions with
callbacks, and a connection that comes back by itself and resumes every channel.

::

    async with Client("ws://127.0.0.1:8080/ws", token=get_token) as client:
        await client.subscribe("room:1", on_message=print, on_unrecovered=resync)
        await client.publish("room:1", {"text": "hello"})

The rules it keeps (``docs/clients.md``):

- **Reconnect** after a close whose code says so (``protocol/codes.py``: 1001, 1011, 1012,
  1013, 4001, 4002, 4008, and a connection that just dropped), waiting the close reason's
  ``reconnect_after_ms`` when the server gave one (a drain does), else a full-jitter
  exponential backoff (a random wait up to ``backoff_base * 2**attempt``, at most
  ``backoff_max``). A token refused or expired (4401, 4403, 4410) is retried only when
  ``token`` is a function, which is asked for a fresh one at each attempt; other codes end
  the client (:attr:`Client.closed` is set, with the code).
- **Resume**: every subscription is made again with ``recover_from`` its last offset and
  epoch; the missed publications come after the ack, in order, once each. When the server
  cannot recover (history too short, another epoch) ``on_unrecovered`` is called with the
  ack: the subscription goes on live from there, and the application resyncs.
- **Server-made subscriptions**: an unasked ``subscribed`` frame (``app.subscribe``, a
  backend's ``$connect`` answer) becomes a :class:`Subscription` like the client's own,
  handed to the ``on_server_subscribe`` callbacks; its messages are kept until the
  application sets its ``on_message``. An ``unsubscribed`` frame ends a subscription
  (``on_server_unsubscribe``). After a reconnect they are resumed like the client's own; a
  ``subscribed`` for one being resumed is the same subscription, and when it starts past
  what the client has, the client fills the gap (unsubscribe, subscribe with
  ``recover_from``) so nothing is lost or repeated.
- **Requests** in flight when the connection drops fail with :class:`ConnectionLost`: the
  client never sends one twice behind the application's back.
- **Heartbeat**: the server pings; the ``websockets`` library answers, and pings the server
  too, so a dead connection is found within ``ping_timeout`` either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ..errors import ConnectionLost, ErrorReply
from ..protocol.codes import RECONNECT_CODES
from .codec import CODECS
from .corked import cork
from .reconnect import backoff, hint
from .subscription import Callback, Subscription, Unrecovered
from .subscriptions import Subscriptions

log = structlog.get_logger("switchboard.client")

Token = str | Callable[[], str | Awaitable[str]] | None
#: A dropped connection (no close frame): reconnect.
ABNORMAL = 1006
#: Refused tokens: reconnect only with a fresh one.
TOKEN_CODES = frozenset({4401, 4403, 4410})
#: Handshake answers worth another try (overloaded, draining, rate limited).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class Client:
    """One logical connection to a Switchboard server (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        token: Token = None,
        protocol: str = "v1.json",
        reconnect: bool = True,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        request_timeout: float = 10.0,
        ping_timeout: float = 20.0,
        held_messages: int = 1000,
        compression: str | None = "deflate",
    ) -> None:
        if protocol not in CODECS:
            raise ValueError(f"protocol must be one of {sorted(CODECS)}")
        self.url = url
        self.token = token
        self.protocol = protocol
        self.reconnect = reconnect
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.request_timeout = request_timeout
        self.ping_timeout = ping_timeout
        #: permessage-deflate offered to the server (``None``: off, as on a fast network).
        self.compression = compression
        #: Messages a server-made subscription keeps until it has an ``on_message``.
        self.held_messages = held_messages
        self._encode, self._decode = CODECS[protocol]
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future[dict[str, Any]], Callback | None]] = {}
        self._handlers: dict[str, list[Callback]] = {}
        self._channels = Subscriptions(self._request, self._call, self._spawn, held_messages)
        self._subscriptions = self._channels.by_channel
        self._runner: asyncio.Task[None] | None = None
        self._callbacks: set[asyncio.Future[Any]] = set()
        self._up = asyncio.Event()
        self._closing = False
        #: The welcome of the current connection.
        self.welcome: dict[str, Any] = {}
        #: Set when the client stopped for good, with the close code that ended it.
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        #: Connections made (the first one and every reconnect).
        self.connections = 0

    # --- life ----------------------------------------------------------------------------------

    async def connect(self) -> dict[str, Any]:
        """Connect (and keep reconnecting); returns the first welcome."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="switchboard-client")
        up = asyncio.ensure_future(self._up.wait())
        ended = asyncio.ensure_future(self.closed.wait())
        try:
            await asyncio.wait({up, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            up.cancel()
            ended.cancel()
        if not self._up.is_set():
            raise ConnectionLost(f"the server closed the connection ({self.close_code})")
        return self.welcome

    @property
    def connected(self) -> bool:
        """Whether a connection is up and its subscriptions were made again (what
        :meth:`connect` waits for)."""
        return self._up.is_set()

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self.closed.set()

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # --- requests --------------------------------------------------------------------------------

    async def request(self, message_type: str, **fields: Any) -> dict[str, Any]:
        """Send a request with an id; the frame that answers it (``ack``, ``<type>_reply``,
        ...), or :class:`ErrorReply` for an error frame."""
        return await self._request({"type": message_type, **fields})

    async def publish(self, channel: str, data: Any) -> dict[str, Any]:
        return await self.request("publish", channel=channel, data=data)

    async def broadcast(self, data: Any) -> dict[str, Any]:
        return await self.request("broadcast", data=data)

    async def send(
        self, data: Any, *, user: Any = None, connection: str | None = None
    ) -> dict[str, Any]:
        to = {"user": user} if connection is None else {"connection": connection}
        return await self.request("send", to=to, data=data)

    async def echo(self, data: Any) -> Any:
        return (await self.request("echo", data=data)).get("data")

    def on(self, message_type: str, callback: Callback) -> None:
        """Call ``callback`` with every ``message_type`` frame that answers no request
        (``broadcast``, ``direct``, ``join``, ``leave``, ...)."""
        self._handlers.setdefault(message_type, []).append(callback)

    def on_server_subscribe(
        self, callback: Callable[[Subscription], Any]
    ) -> Callable[[Subscription], Any]:
        """Call ``callback(subscription)`` for each subscription the server makes (an unasked
        ``subscribed`` for a channel the client does not follow yet), before any of its
        messages; set its ``on_message`` (and ``on_unrecovered``) there. Usable as a
        decorator."""
        self._channels.on_subscribe.append(callback)
        return callback

    def on_server_unsubscribe(
        self, callback: Callable[[Subscription, dict[str, Any]], Any]
    ) -> Callable[[Subscription, dict[str, Any]], Any]:
        """Call ``callback(subscription, frame)`` when a subscription ends without the
        client asking: the server's ``unsubscribed``, or the ``error`` that refused to
        resume a server-made one after a reconnect. Usable as a decorator."""
        self._channels.on_unsubscribe.append(callback)
        return callback

    @property
    def subscriptions(self) -> dict[str, Subscription]:
        """The channels followed now, the client's and the server's (a copy)."""
        return dict(self._subscriptions)

    async def subscribe(
        self,
        channel: str,
        on_message: Callback,
        on_unrecovered: Unrecovered | None = None,
    ) -> Subscription:
        """Follow ``channel``: ``on_message`` gets every ``message`` frame, in order, also
        across reconnects (see the module docstring). For a channel the server subscribed
        the client to already, that subscription takes the callbacks (no request)."""
        existing = self._subscriptions.get(channel)
        if existing is not None and existing.server:
            if on_unrecovered is not None:
                existing.on_unrecovered = on_unrecovered
            existing.on_message = on_message
            return existing
        subscription = self._channels.new(channel, on_message, on_unrecovered)
        self._subscriptions[channel] = subscription
        try:
            await self._channels.subscribe(subscription)
        except BaseException:
            self._subscriptions.pop(channel, None)
            raise
        return subscription

    async def unsubscribe(self, channel: str) -> None:
        subscription = self._subscriptions.pop(channel, None)
        if subscription is not None:
            subscription.active = False
        await self.request("unsubscribe", channel=channel)

    async def _request(
        self, message: dict[str, Any], on_answer: Callback | None = None
    ) -> dict[str, Any]:
        ws = self._ws
        if ws is None:
            raise ConnectionLost("not connected just now; try again")
        request_id = next(self._ids)
        message["id"] = request_id
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pending[request_id] = (answer, on_answer)
        # One timer, not wait_for's futures and callbacks: an edge has thousands in flight.
        expiry = loop.call_later(self.request_timeout, _expire, answer)
        try:
            await ws.send(self._encode(message))
            frame = await answer
        except ConnectionClosed:
            raise ConnectionLost("the connection dropped before the answer") from None
        finally:
            expiry.cancel()
            self._pending.pop(request_id, None)
        if frame.get("type") == "error":
            raise ErrorReply(frame)
        return frame

    # --- the connection ----------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                ws = await self._open()
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status not in RETRY_STATUSES and not callable(self.token):
                    self._end(status)
                    return
                await self._wait(None, attempt)
                attempt += 1
                continue
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed):
                await self._wait(None, attempt)
                attempt += 1
                continue
            attempt = 0
            await self._serve(ws)
            code = ws.close_code if ws.close_code is not None else ABNORMAL
            if self._closing:
                break
            if not self._reconnects(code):
                self._end(code)
                return
            await self._wait(hint(ws.close_reason), attempt)
            attempt += 1
        self.closed.set()

    async def _open(self) -> ClientConnection:
        headers = {}
        token = self.token
        if token is not None:
            value = token() if callable(token) else token
            if inspect.isawaitable(value):
                value = await value
            headers["Authorization"] = f"Bearer {value}"
        ws = await websockets.connect(
            self.url,
            subprotocols=[self.protocol],  # type: ignore[list-item]
            additional_headers=headers,
            open_timeout=10,
            ping_timeout=self.ping_timeout,
            max_size=None,
            compression=self.compression,
        )
        self.welcome = self._decode(await asyncio.wait_for(ws.recv(), 10))
        cork(ws)
        return ws

    async def _serve(self, ws: ClientConnection) -> None:
        """Read ``ws`` until it closes; subscriptions are made again first."""
        self._ws = ws
        self.connections += 1
        resuming = self._channels.connected()
        reader = asyncio.create_task(self._read(ws))
        try:
            for subscription in resuming:
                await self._channels.resume(subscription)
            self._up.set()
            await reader
        except (ConnectionLost, ConnectionClosed, TimeoutError, ErrorReply) as exc:
            log.info("client_resubscribe_failed", error=str(exc))
            await ws.close()
            await reader
        finally:
            self._ws = None
            self._up.clear()
            for answer, _ in self._pending.values():
                if not answer.done():
                    answer.set_exception(ConnectionLost("the connection dropped"))

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                self._dispatch(self._decode(raw))

    def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        pending = self._pending.get(frame["id"]) if "id" in frame else None
        if pending is not None:
            answer, on_answer = pending
            if on_answer is not None and kind != "error":
                on_answer(frame)
            if not answer.done():
                answer.set_result(frame)
            return
        if kind == "message":
            self._channels.message(frame)
            return
        if kind == "subscribed" and "channel" in frame:
            self._channels.subscribed(frame)
        elif kind == "unsubscribed" and "channel" in frame:
            self._channels.unsubscribed(frame)
        for callback in self._handlers.get(str(kind), ()):
            self._call(callback, frame)

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            outcome = callback(*args)
            if inspect.isawaitable(outcome):  # an async callback: its own task, kept
                self._spawn(outcome)
        except Exception:  # the application's bug must not stop the client
            log.exception("client_callback_failed")

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    def _reconnects(self, code: int) -> bool:
        if not self.reconnect:
            return False
        if code in TOKEN_CODES:
            return callable(self.token)
        return code == ABNORMAL or code in RECONNECT_CODES

    def _end(self, code: int) -> None:
        self.close_code = code
        self.closed.set()

    async def _wait(self, hint_ms: int | None, attempt: int) -> None:
        await asyncio.sleep(backoff(hint_ms, attempt, self.backoff_base, self.backoff_max))


def _expire(answer: asyncio.Future[dict[str, Any]]) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError("no answer within request_timeout"))
