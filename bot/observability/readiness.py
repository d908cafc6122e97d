"""Whether this replica should get traffic: connected to Slack in Socket Mode, and its store answering.

Socket Mode reconnects on its own, so readiness asks the live connection each time instead of
remembering that it once connected.
"""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from store.base import Store


class Readiness:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._handler: AsyncSocketModeHandler | None = None

    def connected(self, handler: AsyncSocketModeHandler) -> None:
        """Called once the Socket Mode handler is open; from then on its connection is asked each time."""
        self._handler = handler

    async def problem(self) -> str | None:
        """None when ready, else the one-line reason."""
        if self._handler is None or not await self._handler.client.is_connected():
            return "Socket Mode is not connected"
        if not await self._store.health():
            return "the store does not answer"
        return None
