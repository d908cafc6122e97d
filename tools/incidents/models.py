"""What the incidents server answers: runbooks found and read, incidents logged and listed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from store.models import Incident

IncidentSeverity = Literal["critical", "warning", "info"]
IncidentStatusName = Literal["open", "resolved"]


class Runbook(BaseModel):
    """One runbook file: its front matter and its markdown body."""

    title: str
    path: str = Field(description="the file, as the runbook directories were configured; get_runbook accepts it")
    tags: list[str] = Field(default_factory=list)
    matches: list[str] = Field(default_factory=list, description="symptom phrases this runbook is for")
    markdown: str = Field(description="the body after the front matter")


class RunbookHit(BaseModel):
    title: str
    path: str
    tags: list[str]
    snippet: str = Field(description="the best-matching passage, matched words in **bold**")
    score: float = Field(description="relevance (BM25, higher is better); only comparable within one search")


class RunbookHits(BaseModel):
    query: str
    hits: list[RunbookHit]


class IncidentRecord(BaseModel):
    id: str
    title: str
    service: str
    severity: str
    status: IncidentStatusName
    created_at: datetime
    updated_at: datetime
    channel: str | None = None
    thread_ts: str | None = None
    summary: str = ""

    @classmethod
    def of(cls, incident: Incident) -> IncidentRecord:
        return cls.model_validate(incident.model_dump(exclude={"detail"}))


class IncidentList(BaseModel):
    incidents: list[IncidentRecord]
