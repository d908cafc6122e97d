"""CronJob analyzer: suspended schedules, and schedules whose latest runs keep failing."""

from __future__ import annotations

from datetime import datetime

from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    controller_ref,
    describe_condition,
    finding,
    flag,
    items,
    name_of,
    namespace_of,
    ref_of,
    require_aware,
    text,
    time_at,
)
from tools.analyzers.kubernetes.job import pod_failure_cause
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, ObjectRef, Severity


def analyze_cronjob(cronjob: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    require_aware(now)
    ref = ref_of(cronjob)
    if flag(cronjob, "spec", "suspend"):
        return [
            finding(
                Severity.INFO,
                "CronJobSuspended",
                ref,
                f"CronJob {ref.namespace}/{ref.name} is suspended: "
                f"its schedule {text(cronjob, 'spec', 'schedule')} does not run",
                ["spec.suspend=true", f"status.lastScheduleTime={text(cronjob, 'status', 'lastScheduleTime')}"],
                details={"schedule": text(cronjob, "spec", "schedule"), "owner": ref.model_dump()},
            )
        ]
    failing = _failure_streak(ref, snapshot)
    if not failing:
        return []
    newest, oldest = failing[0], failing[-1]
    newest_failure = condition(newest, "Failed")
    cause = pod_failure_cause(ref_of(newest), snapshot)
    return [
        finding(
            Severity.WARNING,
            "CronJobFailing",
            ref,
            f"CronJob {ref.namespace}/{ref.name}: the last {len(failing)} runs failed (latest {name_of(newest)}: "
            f"{text(newest_failure, 'reason') or 'Failed'})" + (f"; its pods died with: {cause}" if cause else ""),
            [
                f"job {name_of(newest)}: {describe_condition(newest_failure)}",
                f"status.lastSuccessfulTime={text(cronjob, 'status', 'lastSuccessfulTime')}",
                f"image {image}" if (image := _image(cronjob)) else "",
            ],
            since=time_at(condition(oldest, "Failed"), "lastTransitionTime") or time_at(oldest, "status", "startTime"),
            details={
                "consecutive_failures": len(failing),
                "failed_jobs": [name_of(job) for job in failing],
                "schedule": text(cronjob, "spec", "schedule"),
                "owner": ref.model_dump(),
                "failure_cause": cause,
            },
        )
    ]


def _image(cronjob: JsonObj) -> str:
    containers = items(cronjob, "spec", "jobTemplate", "spec", "template", "spec", "containers")
    return ", ".join(str(text(container, "image")) for container in containers if text(container, "image"))


def _failure_streak(cronjob: ObjectRef, snapshot: ClusterSnapshot) -> list[JsonObj]:
    """The CronJob's finished Jobs, newest first, up to (not including) the latest one that succeeded."""
    finished = [
        job
        for job in snapshot.jobs
        if namespace_of(job) == cronjob.namespace
        and text(controller_ref(job), "kind") == "CronJob"
        and text(controller_ref(job), "name") == cronjob.name
        and (_ended(job, "Complete") or _ended(job, "Failed"))
    ]
    finished.sort(key=lambda job: text(job, "metadata", "creationTimestamp") or "", reverse=True)
    streak: list[JsonObj] = []
    for job in finished:
        if not _ended(job, "Failed"):
            break
        streak.append(job)
    return streak


def _ended(job: JsonObj, kind: str) -> bool:
    cond = condition(job, kind)
    return cond is not None and cond.get("status") == "True"
