"""Kubernetes events reduced to what analyzers quote: who, why, how often, since when.

Both event APIs reach us: core/v1 (`involvedObject`, `firstTimestamp`, `count`) and
events.k8s.io/v1 (`regarding`, `eventTime`, `series`); newer kubelets fill only the latter's
fields even on core/v1 events, so every field has a fallback.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    fmt_time,
    integer,
    mapping,
    parse_time,
    path,
    text,
    time_at,
)


class EventRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    name: str
    namespace: str | None
    field_path: str | None
    type: str
    reason: str
    message: str
    count: int
    first: datetime | None
    last: datetime | None

    @classmethod
    def from_object(cls, event: JsonObj) -> EventRecord:
        target = mapping(event, "involvedObject") or mapping(event, "regarding")
        first = (
            time_at(event, "firstTimestamp")
            or parse_time(path(event, "eventTime"))
            or time_at(event, "metadata", "creationTimestamp")
        )
        last = time_at(event, "lastTimestamp") or time_at(event, "series", "lastObservedTime") or first
        return cls(
            kind=text(target, "kind") or "",
            name=text(target, "name") or "",
            namespace=text(target, "namespace") or text(event, "metadata", "namespace"),
            field_path=text(target, "fieldPath"),
            type=text(event, "type") or "Normal",
            reason=text(event, "reason") or "",
            message=(text(event, "message") or text(event, "note") or "").strip(),
            count=max(integer(event, "count"), integer(event, "series", "count"), 1),
            first=first,
            last=last,
        )

    @property
    def is_warning(self) -> bool:
        return self.type == "Warning"

    def concerns_container(self, container: str) -> bool:
        """Pod events name their container in fieldPath (`spec.containers{api}`); pod-wide ones name none."""
        return self.field_path is None or self.field_path.endswith(f"{{{container}}}")

    def describe(self) -> str:
        times = ", ".join(
            part
            for part in (
                f"first {fmt_time(self.first)}" if self.first else "",
                f"last {fmt_time(self.last)}" if self.last and self.last != self.first else "",
            )
            if part
        )
        return f"event {self.reason} x{self.count}" + (f" ({times})" if times else "") + f": {self.message}"


def total_count(events: list[EventRecord]) -> int:
    return sum(event.count for event in events)


def first_seen(events: list[EventRecord]) -> datetime | None:
    known = [event.first for event in events if event.first is not None]
    return min(known) if known else None


def last_seen(events: list[EventRecord]) -> datetime | None:
    known = [event.last for event in events if event.last is not None]
    return max(known) if known else None
