"""Which channel a finding belongs in: its owning team's, from the service catalog.

A finding names what it is about in a few ways (an alert's `service` or `team` label, the
workload owning a pod, the Ingress serving a certificate, its subject); the first that the
catalog recognises decides. What no team owns goes to the check's channel, or the default one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from agents.catalog import Catalog, Service
from scheduled_checks.models import CheckResult, Observation
from scheduled_checks.registry import ScheduledCheck
from tools.findings import Finding, ObjectRef

# The key travels in button values and store rows; a long label set is shortened, not refused.
MAX_KEY = 200


def owning_service(finding: Finding, catalog: Catalog) -> Service | None:
    details = finding.details
    named = details.get("service")
    if isinstance(named, str) and (service := catalog.get(named)) is not None:
        return service
    for ref in (_ref(details.get("owner")), _ref(details.get("ingress")), finding.subject):
        if ref is not None and (service := catalog.owning(ref.namespace, ref.name)) is not None:
            return service
    team = details.get("team")
    return next((service for service in catalog.services if service.team == team), None)


def observe(check: ScheduledCheck, result: CheckResult, catalog: Catalog, fallback_channel: str) -> list[Observation]:
    """The run's findings keyed, routed and given their question; one per key, the most severe kept."""
    kept: dict[str, Observation] = {}
    for finding in result.findings:
        service = owning_service(finding, catalog)
        name = service.name if service else None
        observation = Observation(
            key=bounded_key(check.key(finding)),
            finding=finding,
            channel=service.channel if service else fallback_channel,
            owner=name,
            question=check.question(finding, name),
        )
        seen = kept.get(observation.key)
        if seen is None or finding.severity.rank < seen.finding.severity.rank:
            kept[observation.key] = observation
    return list(kept.values())


def bounded_key(key: str) -> str:
    if len(key) <= MAX_KEY:
        return key
    return f"{key[: MAX_KEY - 17]}#{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _ref(value: Any) -> ObjectRef | None:
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return ObjectRef(kind=str(value.get("kind") or ""), name=value["name"], namespace=value.get("namespace"))
    return None
