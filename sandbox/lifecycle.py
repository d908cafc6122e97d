"""The one lifecycle every sandbox endpoint shares: start, stop, and `async with` for both.

Tests and `sandbox up` rely on `async with` to stop an endpoint whatever happens inside, so the
pairing lives here once instead of in every endpoint.
"""

from __future__ import annotations

from typing import Self


class SandboxService:
    async def start(self) -> object:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
