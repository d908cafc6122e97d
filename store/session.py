"""A backend-neutral handle on one connection for one unit of work.

All store SQL is written once, with ``:name`` placeholders and portable statements; a backend's
Session only says how to run a statement and how timestamps and JSON travel to and from its driver.
That keeps the two backends down to their genuine dialect differences.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, ClassVar

Params = Mapping[str, object]
Row = dict[str, Any]


class Session(ABC):
    column_types: ClassVar[Mapping[str, str]]
    """DDL spellings for the portable type names used in migrations: ``timestamp``, ``json``, ``serial_pk``."""

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]:
        """Run one statement and return its rows as dicts (empty for statements without results)."""
        return await self._run(sql, {name: self._encode(value) for name, value in (params or {}).items()})

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Params | None = None) -> None:
        await self.fetch_all(sql, params)

    def _encode(self, value: object) -> object:
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"store: naive datetime {value.isoformat()} (use aware UTC datetimes)")
            return self._encode_timestamp(value.astimezone(UTC))
        if isinstance(value, dict | list):
            return self._encode_json(value)
        return value

    @abstractmethod
    async def _run(self, sql: str, params: Params) -> list[Row]:
        """Execute ``sql`` (``:name`` placeholders) with already-encoded parameters."""

    @abstractmethod
    def _encode_timestamp(self, value: datetime) -> object:
        """Driver value for an aware UTC datetime."""

    @abstractmethod
    def _encode_json(self, value: dict[str, Any] | list[Any]) -> object:
        """Driver value for a JSON column."""

    @abstractmethod
    def decode_json(self, value: Any) -> Any:
        """Python value of a JSON column as the driver returned it."""
