"""analyze_cluster: every analyzer, ordered critical first; events about kinds nobody analyzes."""

from __future__ import annotations

from tests.tools.analyzers.factories import (
    NOW,
    deployment,
    event,
    node,
    pod,
    service,
    status,
    terminated,
    waiting,
)
from tools.analyzers.kubernetes import ANALYZERS, ClusterSnapshot, analyze_cluster
from tools.findings import ObjectRef, Severity

PRESENT_ERROR = "Error presenting challenge: _acme-challenge.api.example.com has no CNAME record (NXDOMAIN)"


def test_every_kind_of_the_spec_has_an_analyzer() -> None:
    assert set(ANALYZERS) == {
        "Pod",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "Service",
        "Ingress",
        "PersistentVolumeClaim",
        "Node",
        "Job",
        "CronJob",
        "HorizontalPodAutoscaler",
    }


def test_findings_come_critical_first_then_by_subject() -> None:
    crashing = pod(
        statuses=[status(ready=False, restarts=5, state=waiting("CrashLoopBackOff"), last=terminated("Error", 1))]
    )
    objects = [
        node("node-b", pressures={"MemoryPressure": "True"}),
        node("node-a", ready="False"),
        deployment(ready=1),
        crashing,
        service(),
    ]
    found = analyze_cluster(ClusterSnapshot.from_objects(objects), now=NOW)
    assert [(f.severity, str(f.subject), f.reason) for f in found] == [
        (Severity.CRITICAL, "Node node-a", "NodeNotReady"),
        (Severity.CRITICAL, "Pod shop/api-7d9f8b6c5d-x7k2p", "CrashLoopBackOff"),
        (Severity.WARNING, "Deployment shop/api", "DeploymentUnavailable"),
        (Severity.WARNING, "Node node-b", "MemoryPressure"),
    ]


def test_warning_events_about_other_kinds_become_findings() -> None:
    challenge = event("Challenge", "api-tls-1", "PresentError", PRESENT_ERROR, count=1771, first=9000, last=3)
    stale = event("Certificate", "old-tls", "Failed", "issuance failed", first=500, last=400)
    normal = event("Challenge", "api-tls-1", "Started", "Challenge scheduled for processing", type_="Normal")
    covered = event("Pod", "gone-pod", "BackOff", "Back-off restarting failed container")
    found = analyze_cluster(ClusterSnapshot.from_objects([challenge, stale, normal, covered]), now=NOW)
    assert [(f.severity, f.reason, f.subject) for f in found] == [
        (Severity.WARNING, "PresentError", ObjectRef(kind="Challenge", name="api-tls-1", namespace="shop")),
        (Severity.INFO, "Failed", ObjectRef(kind="Certificate", name="old-tls", namespace="shop")),
    ]
    assert "PresentError x1771 since 2026-11-14T08:00:00Z" in found[0].summary
    assert "NXDOMAIN" in found[0].evidence


def test_a_healthy_cluster_yields_nothing() -> None:
    objects = [node(), deployment(), pod(), service()]
    assert analyze_cluster(ClusterSnapshot.from_objects(objects), now=NOW) == []


def test_objects_with_nothing_but_kind_and_name_are_read_without_error() -> None:
    """The API omits empty fields; an object with no spec or status at all must not break analysis."""
    bare = [{"kind": kind, "metadata": {"name": "x", "namespace": "shop"}} for kind in [*ANALYZERS, "Event"]]
    found = analyze_cluster(ClusterSnapshot.from_objects(bare), now=NOW)
    assert [(f.reason, str(f.subject)) for f in found] == [
        ("DeploymentUnavailable", "Deployment shop/x"),
        ("StatefulSetUnavailable", "StatefulSet shop/x"),
    ]
