"""Row <-> model mapping, derived from the pydantic models so a field cannot be forgotten in one query.

Columns are named after model fields except where a field name is an SQL keyword (``check``,
``key``, ``user``); selects alias those columns back, so rows validate straight into models.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Generic, TypeVar, get_origin

from pydantic import BaseModel

from store.models import AuditEvent, FindingRecord, Incident, ProposalEvent, StoredProposal, Turn
from store.session import Row, Session

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Table(Generic[M]):
    name: str
    model: type[M]
    renames: Mapping[str, str] = field(default_factory=dict)
    """model field -> column, for fields whose names SQL reserves"""

    @cached_property
    def _columns(self) -> dict[str, str]:
        return {name: self.renames.get(name, name) for name in self.model.model_fields}

    @cached_property
    def _json_fields(self) -> frozenset[str]:
        return frozenset(
            name for name, info in self.model.model_fields.items() if get_origin(info.annotation) in (dict, list)
        )

    @cached_property
    def select_list(self) -> str:
        """Every model field, aliased back to its field name where the column is renamed."""
        return ", ".join(
            column if column == name else f'{column} AS "{name}"' for name, column in self._columns.items()
        )

    def columns(self, exclude: Collection[str] = ()) -> list[str]:
        """Column names of every field not in ``exclude``."""
        return [column for name, column in self._columns.items() if name not in exclude]

    def insert_sql(self, exclude: Collection[str] = (), extra: Collection[str] = ()) -> str:
        """``INSERT INTO t (cols) VALUES (:cols)`` for every field not in ``exclude`` plus ``extra`` columns."""
        columns = [*self.columns(exclude), *extra]
        placeholders = ", ".join(f":{column}" for column in columns)
        return f"INSERT INTO {self.name} ({', '.join(columns)}) VALUES ({placeholders})"

    def assignments(self, exclude: Collection[str] = ()) -> str:
        """``col = :col, ...`` for an UPDATE of every field not in ``exclude``."""
        return ", ".join(f"{column} = :{column}" for column in self.columns(exclude))

    def params(self, record: M) -> dict[str, object]:
        """The record's values keyed by column name, the placeholder names ``insert_sql`` uses."""
        return {self._columns[name]: value for name, value in record.model_dump().items()}

    def from_row(self, row: Row, session: Session) -> M:
        return self.model.model_validate(
            {name: session.decode_json(value) if name in self._json_fields else value for name, value in row.items()}
        )


AUDIT = Table("audit_events", AuditEvent)
PROPOSALS = Table("proposals", StoredProposal)
PROPOSAL_EVENTS = Table("proposal_events", ProposalEvent)
INCIDENTS = Table("incidents", Incident)
FINDINGS = Table("check_findings", FindingRecord, {"check": "check_name", "key": "finding_key"})
TURNS = Table("conversation_turns", Turn, {"user": "user_id"})
