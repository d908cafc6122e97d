"""What the metrics server answers: typed series, alerts, targets and service summaries.

Values that JSON cannot carry (NaN, +Inf from a division by zero) become None, so every answer
validates on the client side whatever the query computed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tools.analyzers.metrics import Assessment
from tools.findings import Finding


class Sample(BaseModel):
    labels: dict[str, str] = Field(default_factory=dict, description="metric name is under __name__")
    value: float | None = Field(description="None for NaN or infinity")
    timestamp: datetime


class QueryResult(BaseModel):
    promql: str
    at: datetime
    result_type: Literal["vector", "scalar", "string", "matrix"]
    total: int
    truncated: bool = False
    samples: list[Sample]


class Point(BaseModel):
    timestamp: datetime
    value: float | None


class RangeSeries(BaseModel):
    labels: dict[str, str] = Field(default_factory=dict)
    points: list[Point]


class RangeResult(BaseModel):
    promql: str
    start: datetime
    end: datetime
    step_seconds: float = Field(description="may be coarser than asked, to stay within the point cap")
    total: int
    truncated: bool = False
    series: list[RangeSeries]


class Alert(BaseModel):
    name: str
    state: str = Field(description="firing or pending")
    severity: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    active_at: datetime | None = None
    value: str | None = None


class AlertList(BaseModel):
    firing: int
    pending: int
    alerts: list[Alert] = Field(description="firing first, then by severity and name")


class Target(BaseModel):
    job: str | None = None
    instance: str | None = None
    health: str = Field(description="up, down or unknown")
    last_error: str | None = None
    last_scrape: datetime | None = None
    scrape_url: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class TargetList(BaseModel):
    source: Literal["targets", "up series"] = Field(
        description="`up series` when Prometheus scrapes nothing itself (remote-write, federation)"
    )
    up: int
    down: int
    targets: list[Target] = Field(description="down first")


class Signal(Assessment):
    """One health signal of a service, with the query behind it."""

    name: str = Field(description="error_rate, latency_p99, db_pool_utilization, memory_utilization, restarts")
    unit: str = Field(description="ratio, seconds or count")
    display: str = Field(description="the latest value as a person reads it, e.g. 23%, 1.2 s")
    promql: str


class ServiceSummary(BaseModel):
    service: str
    namespace: str | None
    at: datetime
    window_minutes: int
    signals: list[Signal]
    findings: list[Finding] = Field(description="critical first")
    metrics: list[str] = Field(default_factory=list, description="metric names found for the service")
    notes: list[str] = Field(default_factory=list, description="what could not be assessed, and why")
