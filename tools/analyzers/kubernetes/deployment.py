"""Deployment analyzer: too few ready replicas, or a rollout that stopped progressing."""

from __future__ import annotations

from datetime import datetime

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    describe_condition,
    finding,
    path,
    ref_of,
    require_aware,
    text,
    time_at,
)
from tools.analyzers.kubernetes.replicas import replica_shortfall
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, Severity

_REVISION = "deployment.kubernetes.io/revision"


def analyze_deployment(deployment: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    require_aware(now)
    found = [replica_shortfall(deployment, snapshot, reason="DeploymentUnavailable"), _deadline_exceeded(deployment)]
    return [result for result in found if result is not None]


def _deadline_exceeded(deployment: JsonObj) -> Finding | None:
    progressing = condition(deployment, "Progressing")
    if progressing is None or progressing.get("reason") != "ProgressDeadlineExceeded":
        return None
    ref = ref_of(deployment)
    message = text(progressing, "message") or "the rollout exceeded its progress deadline"
    return finding(
        Severity.WARNING,
        "ProgressDeadlineExceeded",
        ref,
        f"Deployment {ref.namespace}/{ref.name} rollout is stuck: {message}",
        [describe_condition(progressing)],
        since=time_at(progressing, "lastTransitionTime"),
        details={
            "revision": text(deployment, "metadata", "annotations", _REVISION),
            "progress_deadline_seconds": path(deployment, "spec", "progressDeadlineSeconds"),
            "owner": ref.model_dump(),
        },
    )
