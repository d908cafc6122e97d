"""Job analyzer: a Job that gave up (backoff limit, active deadline), and what its pods died of.

"BackoffLimitExceeded" says only that the pods kept failing. Why is in their termination
message: a batch container with `terminationMessagePolicy: FallbackToLogsOnError` gets the tail
of its log there, whose last line is the exception (`KeyError: 'customer_region'`). Quoting it
makes the finding say what a person would otherwise dig out of `kubectl logs`.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    controller_ref,
    describe_condition,
    finding,
    integer,
    is_recent,
    items,
    mapping,
    namespace_of,
    ref_of,
    require_aware,
    text,
    time_at,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, ObjectRef, Severity

RECENT_FAILURE = timedelta(hours=24)
"""Finished Jobs linger until cleaned up; a failure older than a day is history, not an incident."""
DEFAULT_BACKOFF_LIMIT = 6
MAX_CAUSE_CHARS = 200
_PY_FRAME = re.compile(r'^File "([^"]+)", line (\d+)')
"""The innermost frame of a Python traceback says where the exception was raised."""


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
    cause = pod_failure_cause(ref, snapshot)
    return [
        finding(
            Severity.WARNING if is_recent(failed_at, now, RECENT_FAILURE) else Severity.INFO,
            reason,
            ref,
            f"Job {ref.namespace}/{ref.name} failed: {message} ({integer(job, 'status', 'failed')} failed pods)"
            + (f"; its pods died with: {cause}" if cause else ""),
            [describe_condition(failed), f"failed pods' termination message ends: {cause}" if cause else ""],
            since=failed_at,
            details={
                "failed_pods": integer(job, "status", "failed"),
                "backoff_limit": integer(job, "spec", "backoffLimit", default=DEFAULT_BACKOFF_LIMIT),
                "owner": owner.model_dump(),
                "failure_cause": cause,
            },
        )
    ]


def pod_failure_cause(job: ObjectRef, snapshot: ClusterSnapshot) -> str | None:
    """The last line most of the Job's failed containers wrote to their termination message, if any did."""
    last_lines: Counter[str] = Counter()
    for pod in snapshot.pods:
        owner = controller_ref(pod)
        if namespace_of(pod) != job.namespace or text(owner, "kind") != "Job" or text(owner, "name") != job.name:
            continue
        for status in items(pod, "status", "containerStatuses"):
            exited = mapping(status, "state", "terminated") or mapping(status, "lastState", "terminated")
            lines = [line.strip() for line in (text(exited, "message") or "").splitlines() if line.strip()]
            if lines and integer(exited, "exitCode") != 0:
                frames = [match for line in lines if (match := _PY_FRAME.search(line))]
                where = f" (at {frames[-1].group(1)}:{frames[-1].group(2)})" if frames else ""
                last_lines[lines[-1][:MAX_CAUSE_CHARS] + where] += 1
    return last_lines.most_common(1)[0][0] if last_lines else None
