"""Jobs, CronJobs and HorizontalPodAutoscalers."""

from __future__ import annotations

import pytest

from tests.tools.analyzers.factories import (
    NS,
    Expect,
    Obj,
    at,
    check,
    cond,
    cronjob,
    deployment,
    hpa,
    job,
    pod,
    run,
    status,
    terminated,
)
from tools.analyzers.kubernetes.cronjob import analyze_cronjob
from tools.analyzers.kubernetes.hpa import analyze_hpa
from tools.analyzers.kubernetes.job import analyze_job
from tools.findings import Severity

BACKOFF = "Job has reached the specified backoff limit"


def failed(since: float = 30, reason: str = "BackoffLimitExceeded", message: str = BACKOFF) -> Obj:
    return cond("Failed", "True", reason=reason, message=message, since=since)


def complete(since: float = 30) -> Obj:
    return cond("Complete", "True", since=since)


def run_of(name: str, created: str, finished: Obj) -> Obj:
    found = job(name, cronjob="nightly-report", conditions=[finished], failed=4 if finished["type"] == "Failed" else 0)
    found["metadata"]["creationTimestamp"] = created
    return found


TRACEBACK = """Traceback (most recent call last):
  File "/app/exports/nightly.py", line 62, in write_partition
    writer.writerow(to_record(row))
  File "/app/exports/records.py", line 36, in to_record
    "region": row["customer_region"],
KeyError: 'customer_region'
"""


def job_pod(job_name: str, suffix: str, *, code: int, message: str = "") -> Obj:
    """A pod of a Job (restartPolicy Never) whose container ended; `message` is its termination message."""
    ended = terminated("Error" if code else "Completed", code, finished=35)
    if message:
        ended["terminated"]["message"] = message
    found = pod(
        f"{job_name}-{suffix}",
        statuses=[status("export", ready=False, state=ended)],
        phase="Failed" if code else "Succeeded",
        replicaset=None,
        labels={"job-name": job_name},
    )
    found["metadata"]["ownerReferences"] = [
        {"kind": "Job", "name": job_name, "uid": f"uid-{job_name}", "controller": True}
    ]
    return found


JOBS: list[tuple[str, list[Obj], list[Expect]]] = [
    ("complete", [job("migrate", conditions=[complete()]), job_pod("migrate", "a1b2c", code=0)], []),
    (
        "backoff limit exceeded: the pods' termination messages say why",
        [
            job("export-1", conditions=[failed()], failed=3),
            job_pod("export-1", "aaaaa", code=1, message=TRACEBACK),
            job_pod("export-1", "bbbbb", code=1, message=TRACEBACK),
            job_pod("export-1", "ccccc", code=1, message="Killed\n"),
            job_pod("export-2", "ddddd", code=1, message="ValueError: another job's pod\n"),
        ],
        [
            Expect(
                "BackoffLimitExceeded",
                Severity.WARNING,
                summary=["its pods died with: KeyError: 'customer_region' (at /app/exports/records.py:36)"],
                evidence=["termination message ends: KeyError: 'customer_region'"],
            )
        ],
    ),
    ("still running", [job("migrate", failed=1)], []),
    (
        "backoff limit exceeded",
        [job("nightly-report-29412", conditions=[failed()], cronjob="nightly-report", failed=4), cronjob()],
        [
            Expect(
                "BackoffLimitExceeded",
                Severity.WARNING,
                summary=[f"Job shop/nightly-report-29412 failed: {BACKOFF} (4 failed pods)"],
                details={"backoff_limit": 3, "owner": {"kind": "CronJob", "name": "nightly-report", "namespace": NS}},
                since=at(30),
            )
        ],
    ),
    (
        "deadline exceeded",
        [
            job(
                "reindex",
                conditions=[failed(reason="DeadlineExceeded", message="Job was active longer than specified deadline")],
            )
        ],
        [
            Expect(
                "DeadlineExceeded",
                Severity.WARNING,
                details={"owner": {"kind": "Job", "name": "reindex", "namespace": NS}},
            )
        ],
    ),
    (
        "failed last week",
        [job("reindex", conditions=[failed(since=7 * 24 * 60)])],
        [Expect("BackoffLimitExceeded", Severity.INFO)],
    ),
]

CRONJOBS: list[tuple[str, list[Obj], list[Expect]]] = [
    ("healthy", [cronjob(), run_of("nightly-report-1", "2026-11-19T02:00:00Z", complete())], []),
    ("suspended", [cronjob(suspend=True)], [Expect("CronJobSuspended", Severity.INFO, summary=["is suspended"])]),
    (
        "the last two runs failed",
        [
            cronjob(),
            run_of("nightly-report-1", "2026-11-18T02:00:00Z", complete()),
            run_of("nightly-report-2", "2026-11-19T02:00:00Z", failed(since=1300)),
            run_of("nightly-report-3", "2026-11-20T02:00:00Z", failed(since=600)),
        ],
        [
            Expect(
                "CronJobFailing",
                Severity.WARNING,
                summary=["the last 2 runs failed (latest nightly-report-3: BackoffLimitExceeded)"],
                details={"consecutive_failures": 2, "failed_jobs": ["nightly-report-3", "nightly-report-2"]},
                since=at(1300),
            )
        ],
    ),
    (
        "the latest run's pods say why",
        [
            cronjob(),
            run_of("nightly-report-3", "2026-11-20T02:00:00Z", failed(since=600)),
            job_pod("nightly-report-3", "eeeee", code=1, message="connecting...\npsycopg.OperationalError: timeout\n"),
        ],
        [
            Expect(
                "CronJobFailing",
                Severity.WARNING,
                summary=["the last 1 runs failed", "its pods died with: psycopg.OperationalError: timeout"],
                details={"failure_cause": "psycopg.OperationalError: timeout"},
            )
        ],
    ),
    (
        "recovered",
        [
            cronjob(),
            run_of("nightly-report-2", "2026-11-19T02:00:00Z", failed(since=1300)),
            run_of("nightly-report-3", "2026-11-20T02:00:00Z", complete(since=600)),
        ],
        [],
    ),
]

LIMITED = cond(
    "ScalingLimited",
    "True",
    reason="TooManyReplicas",
    message="the desired replica count is more than the maximum replica count",
    since=18,
)


NO_SCALE = cond(
    "AbleToScale", "False", reason="FailedGetScale", message='deployments/scale.apps "api" not found', since=9
)

HPAS: list[tuple[str, list[Obj], list[Expect]]] = [
    ("healthy", [hpa(), deployment()], []),
    (
        "target missing",
        [hpa(target="api-v2"), deployment()],
        [
            Expect(
                "HPAMissingTarget",
                Severity.WARNING,
                summary=["scales Deployment api-v2, which does not exist"],
                details={"target": {"kind": "Deployment", "name": "api-v2", "namespace": NS}},
            )
        ],
    ),
    (
        "target kind not listed, the controller says it cannot get the scale",
        [hpa(conditions=[NO_SCALE])],
        [Expect("HPAMissingTarget", Severity.WARNING, evidence=["FailedGetScale"], since=at(9))],
    ),
    ("target kind not listed, nothing said", [hpa()], []),
    (
        "pinned at max",
        [hpa(current=10, desired=14, conditions=[LIMITED]), deployment()],
        [
            Expect(
                "HPAAtMax",
                Severity.WARNING,
                summary=["pinned at its maximum of 10 replicas for Deployment api"],
                evidence=["status.desiredReplicas=14", "TooManyReplicas"],
                details={"max_replicas": 10, "owner": {"kind": "Deployment", "name": "api", "namespace": NS}},
                since=at(18),
            )
        ],
    ),
    ("at max but wanting fewer", [hpa(current=10, desired=7), deployment()], []),
]


@pytest.mark.parametrize(("objects", "expected"), [c[1:] for c in JOBS], ids=[c[0] for c in JOBS])
def test_job(objects: list[Obj], expected: list[Expect]) -> None:
    check(run(analyze_job, *objects), expected)


@pytest.mark.parametrize(("objects", "expected"), [c[1:] for c in CRONJOBS], ids=[c[0] for c in CRONJOBS])
def test_cronjob(objects: list[Obj], expected: list[Expect]) -> None:
    check(run(analyze_cronjob, *objects), expected)


@pytest.mark.parametrize(("objects", "expected"), [c[1:] for c in HPAS], ids=[c[0] for c in HPAS])
def test_hpa(objects: list[Obj], expected: list[Expect]) -> None:
    check(run(analyze_hpa, *objects), expected)
