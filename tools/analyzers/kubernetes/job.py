"""Job analyzer: a Job that gave up (backoff limit, active deadline)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    describe_condition,
    finding,
    integer,
    is_recent,
    ref_of,
    require_aware,
    text,
    time_at,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, Severity

RECENT_FAILURE = timedelta(hours=24)
"""Finished Jobs linger until cleaned up; a failure older than a day is history, not an incident."""
DEFAULT_BACKOFF_LIMIT = 6


def analyze_job(job: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    now = require_aware(now)
    failed = condition(job, "Failed")
    if failed is None or failed.get("status") != "True":
        return []
    ref = ref_of(job)
    reason = text(failed, "reason") or "JobFailed"
    failed_at = time_at(failed, "lastTransitionTime")
    owner = snapshot.owner_of(job) or ref
    message = text(failed, "message") or reason
    return [
        finding(
            Severity.WARNING if is_recent(failed_at, now, RECENT_FAILURE) else Severity.INFO,
            reason,
            ref,
            f"Job {ref.namespace}/{ref.name} failed: {message} ({integer(job, 'status', 'failed')} failed pods)",
            [describe_condition(failed)],
            since=failed_at,
            details={
                "failed_pods": integer(job, "status", "failed"),
                "backoff_limit": integer(job, "spec", "backoffLimit", default=DEFAULT_BACKOFF_LIMIT),
                "owner": owner.model_dump(),
            },
        )
    ]
