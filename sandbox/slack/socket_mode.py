"""Slack's Socket Mode over a real websocket: hello, envelopes, acks, retries, disconnects.

The app's `AsyncSocketModeHandler` gets a `ws://127.0.0.1:PORT/link/?ticket=...` URL from
apps.connections.open and connects here exactly as it would to wss-primary.slack.com. What makes
a Slack app correct or not happens on this wire, so the hub behaves as Slack does:

- every envelope must be acked by `envelope_id` within the ack timeout (3 s by default);
- an Events API envelope that is not acked, or whose connection closes before its ack, is
  delivered again as a new envelope with `retry_attempt` + 1 (up to 3 retries): an app must
  deduplicate by `event_id`;
- slash commands and interactions are never redelivered; the user sees the failure instead;
- with several connections open (several replicas), envelopes are spread round-robin;
- `disconnect()` sends `{"type": "disconnect", ...}`, routes nothing more to that connection
  and closes it if the app does not; the app must reconnect through apps.connections.open, and
  what the old connection held unacked is redelivered on the new one.

Pings from the client are answered with pongs and the hub pings the client every `ping_interval`
seconds, as Slack's servers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import WSMsgType, web
from pydantic import BaseModel

from sandbox.slack.state import ChangeSignal, SlackStandInError

_log = logging.getLogger(__name__)

Json = dict[str, Any]
EnvelopeType = Literal["events_api", "slash_commands", "interactive"]
EnvelopeStatus = Literal["queued", "sent", "acked", "timed_out", "connection_closed"]
EnvelopeHook = Callable[["Envelope"], Awaitable[None]]

LINK_PATH = "/link/"
DEBUG_HOST = "applink-sandbox-1"


class Envelope(BaseModel):
    """One delivery attempt; a redelivery is a new envelope (new id) with the same payload."""

    envelope_id: str
    type: EnvelopeType
    payload: Json
    accepts_response_payload: bool
    retry_attempt: int = 0
    retry_reason: str = ""
    status: EnvelopeStatus = "queued"
    connection_id: str | None = None
    ack_payload: Json | None = None
    redelivered_as: str | None = None
    # An ack that came after Slack had given up on this attempt (the status keeps what happened).
    late_ack: bool = False

    @property
    def acked(self) -> bool:
        return self.status == "acked" or self.late_ack

    def wire(self) -> Json:
        """The envelope as Slack writes it on the socket; retry fields are for the Events API only."""
        data: Json = {
            "envelope_id": self.envelope_id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api":
            data |= {"retry_attempt": self.retry_attempt, "retry_reason": self.retry_reason}
        return data


class _Connection:
    def __init__(self, connection_id: str, socket: web.WebSocketResponse) -> None:
        self.id = connection_id
        self.socket = socket
        self.send_lock = asyncio.Lock()
        # Told to disconnect: no new envelopes go here while the app moves to a new connection.
        self.draining = False
        self.closed = asyncio.Event()

    async def send(self, data: Json) -> None:
        async with self.send_lock:
            await self.socket.send_str(json.dumps(data))


class SocketModeHub:
    """The Socket Mode side of the stand-in: issues websocket URLs and delivers envelopes."""

    def __init__(
        self,
        *,
        app_id: str,
        signal: ChangeSignal,
        ack_timeout: float = 3.0,
        max_retries: int = 3,
        ping_interval: float = 10.0,
        on_ack: EnvelopeHook,
        on_failure: EnvelopeHook,
    ) -> None:
        self._app_id = app_id
        self._signal = signal
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self._ping_interval = ping_interval
        self._on_ack = on_ack
        self._on_failure = on_failure
        self.envelopes: dict[str, Envelope] = {}
        self._tickets: set[str] = set()
        self._connections: dict[str, _Connection] = {}
        self._connection_numbers = itertools.count(1)
        self._round_robin = itertools.count()
        self._queue: deque[Envelope] = deque()
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    # -- connections -----------------------------------------------------------------------------

    def issue_url(self, host: str) -> str:
        """A single-use websocket URL, as apps.connections.open returns."""
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return f"ws://{host}{LINK_PATH}?ticket={ticket}&app_id={self._app_id}"

    @property
    def connection_ids(self) -> list[str]:
        return list(self._connections)

    async def handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if self._closing or ticket not in self._tickets:
            # Slack refuses a reused or made-up ticket before the websocket upgrade.
            return web.Response(status=401, text="invalid_ticket")
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse(autoping=True, heartbeat=self._ping_interval)
        await socket.prepare(request)
        connection = _Connection(f"conn-{next(self._connection_numbers)}", socket)
        self._connections[connection.id] = connection
        try:
            await connection.send(self._hello())
            await self._flush_queue()
            await self._signal.notify()
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    await self._receive(connection, message.data)
        finally:
            self._connections.pop(connection.id, None)
            connection.closed.set()
            await self._connection_closed(connection)
        return socket

    def _hello(self) -> Json:
        return {
            "type": "hello",
            "num_connections": len(self._connections),
            "debug_info": {
                "host": DEBUG_HOST,
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self._app_id},
        }

    async def disconnect(
        self, reason: str = "refresh_requested", connection_id: str | None = None, grace: float = 2.0
    ) -> None:
        """Tell one connection (default: all) to reconnect; close it if the app has not within `grace` seconds.

        Like Slack, the hub stops routing envelopes to a connection it has asked to go away; what
        that connection still holds unacked when it closes is redelivered on the new one.
        """
        if connection_id is not None and connection_id not in self._connections:
            raise SlackStandInError(f"no open Socket Mode connection {connection_id!r} (open: {self.connection_ids})")
        targets = [self._connections[connection_id]] if connection_id else list(self._connections.values())
        await asyncio.gather(*(self._retire(connection, reason, grace) for connection in targets))

    async def _retire(self, connection: _Connection, reason: str, grace: float) -> None:
        connection.draining = True
        with contextlib.suppress(ConnectionError):
            await connection.send({"type": "disconnect", "reason": reason, "debug_info": {"host": DEBUG_HOST}})
        try:
            await asyncio.wait_for(connection.closed.wait(), grace)
        except TimeoutError:
            await connection.socket.close()

    async def close(self) -> None:
        self._closing = True
        for timer in list(self._timers.values()):
            timer.cancel()
        for connection in list(self._connections.values()):
            await connection.socket.close()
        await asyncio.gather(*self._timers.values(), return_exceptions=True)
        self._timers.clear()

    # -- envelopes -------------------------------------------------------------------------------

    async def deliver(self, kind: EnvelopeType, payload: Json, *, accepts_response_payload: bool = False) -> Envelope:
        """Send a new envelope (or queue it until the app connects); returns it for ack tracking."""
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            type=kind,
            payload=payload,
            accepts_response_payload=accepts_response_payload,
        )
        await self._dispatch(envelope)
        return envelope

    async def _dispatch(self, envelope: Envelope) -> None:
        self.envelopes[envelope.envelope_id] = envelope
        connections = [connection for connection in self._connections.values() if not connection.draining]
        if not connections:
            envelope.status = "queued"
            self._queue.append(envelope)
            return
        connection = connections[next(self._round_robin) % len(connections)]
        envelope.status, envelope.connection_id = "sent", connection.id
        self._timers[envelope.envelope_id] = asyncio.create_task(self._expire(envelope))
        try:
            await connection.send(envelope.wire())
        except ConnectionError:
            # The socket died under us; its close handling redelivers what it held.
            _log.debug("envelope %s not written: connection %s is closing", envelope.envelope_id, connection.id)
        await self._signal.notify()

    async def _flush_queue(self) -> None:
        """Deliver what waited for a connection, in order (a draining connection leaves it queued)."""
        for _ in range(len(self._queue)):
            await self._dispatch(self._queue.popleft())

    async def _receive(self, connection: _Connection, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            _log.warning("connection %s sent a frame that is not JSON: %.200s", connection.id, raw)
            return
        envelope = self.envelopes.get(message.get("envelope_id", "")) if isinstance(message, dict) else None
        if envelope is None:
            _log.warning("connection %s acked an unknown envelope: %.200s", connection.id, raw)
            return
        if envelope.acked:
            return
        payload = message.get("payload")
        envelope.ack_payload = payload if isinstance(payload, dict) else None
        if envelope.status != "sent":
            envelope.late_ack = True
        else:
            envelope.status = "acked"
            timer = self._timers.pop(envelope.envelope_id, None)
            if timer is not None:
                timer.cancel()
            await self._on_ack(envelope)
        await self._signal.notify()

    async def _expire(self, envelope: Envelope) -> None:
        await asyncio.sleep(self.ack_timeout)
        self._timers.pop(envelope.envelope_id, None)
        if envelope.status == "sent":
            await self._fail(envelope, "timed_out")

    async def _connection_closed(self, connection: _Connection) -> None:
        if self._closing:
            return
        for envelope in list(self.envelopes.values()):
            if envelope.connection_id == connection.id and envelope.status == "sent":
                timer = self._timers.pop(envelope.envelope_id, None)
                if timer is not None:
                    timer.cancel()
                await self._fail(envelope, "connection_closed")
        await self._signal.notify()

    async def _fail(self, envelope: Envelope, status: EnvelopeStatus) -> None:
        """An unacked envelope: the Events API tries again, commands and clicks fail for the user."""
        envelope.status = status
        if envelope.type == "events_api" and envelope.retry_attempt < self.max_retries:
            retry = Envelope(
                envelope_id=str(uuid.uuid4()),
                type=envelope.type,
                payload=envelope.payload,
                accepts_response_payload=envelope.accepts_response_payload,
                retry_attempt=envelope.retry_attempt + 1,
                retry_reason="timeout",
            )
            envelope.redelivered_as = retry.envelope_id
            await self._dispatch(retry)
        elif not self._closing:
            await self._on_failure(envelope)
        await self._signal.notify()
