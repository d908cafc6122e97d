"""Typed shapes of a world folder's files (CONTRACT.md, section 3 and 4).

Unknown keys in `world.yaml` are tolerated (worlds written elsewhere may carry notes), but an
evaluation case with an unknown condition is rejected: silently ignoring a condition would let
a case pass that should fail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ServiceSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    namespace: str
    team: str
    channel: str
    repo: str
    database: str | None = None


class WorldMeta(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    description: str = ""
    recorded_at: datetime
    services: list[ServiceSpec] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)


class FilePatch(BaseModel):
    filename: str
    patch: str = ""


class PullRequest(BaseModel):
    repo: str
    number: int
    title: str
    author: str
    merged_at: datetime
    url: str = ""
    files: list[FilePatch] = Field(default_factory=list)
    body: str = ""


class Deploy(BaseModel):
    service: str
    namespace: str
    image: str
    at: datetime
    pull_request: int | None = None


class Changes(BaseModel):
    pull_requests: list[PullRequest] = Field(default_factory=list)
    deploys: list[Deploy] = Field(default_factory=list)


class TlsEndpoint(BaseModel):
    name: str
    host: str
    port: int = 443
    not_after: datetime
    issuer: str = "Sandbox CA"


class DnsRecord(BaseModel):
    name: str
    type: str
    value: str


class Endpoints(BaseModel):
    tls: list[TlsEndpoint] = Field(default_factory=list)
    dns: list[DnsRecord] = Field(default_factory=list)


Alternatives = str | list[str]


class Approve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str


class AfterApprove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    executed: bool | None = None
    must_mention: list[Alternatives] = Field(default_factory=list)
    must_not_mention: list[Alternatives] = Field(default_factory=list)


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    via: Literal["mention", "slash", "ask"] = "mention"
    channel: str | None = None
    user: str | None = None
    ask: str | None = None
    check: str | None = None
    must_mention: list[Alternatives] = Field(default_factory=list)
    must_not_mention: list[Alternatives] = Field(default_factory=list)
    proposals: list[dict[str, Any]] = Field(default_factory=list)
    forbidden_actions: list[str] = Field(default_factory=list)
    refused: bool | None = None
    approve: Approve | None = None
    after_approve: AfterApprove | None = None

    @model_validator(mode="after")
    def _asks_or_checks(self) -> Case:
        if (self.ask is None) == (self.check is None):
            raise ValueError("a case needs exactly one of 'ask' (a question) or 'check' (a scheduled check)")
        return self


class Expectations(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cases: list[Case] = Field(default_factory=list)
