"""The analyzers on the bundled worlds: each world's headline comes out of its cluster as recorded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.world import World, load_world
from tools.analyzers.kubernetes import ClusterSnapshot, analyze_cluster
from tools.analyzers.logs import analyze_log, log_findings
from tools.findings import Finding, ObjectRef, Severity

RECORDED = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def world_at_recording(name: str) -> World:
    """Every bundled world was recorded at 14:00 UTC; loading it "then" keeps its timestamps as written."""
    return load_world(name, now=RECORDED)


def findings_of(name: str) -> list[Finding]:
    world = world_at_recording(name)
    return analyze_cluster(ClusterSnapshot.from_objects(world.objects), now=world.now)


def about(found: list[Finding], reason: str) -> list[Finding]:
    return [finding for finding in found if finding.reason == reason]


def test_payment_outage_payment_service_pods_crash_loop() -> None:
    found = findings_of("payment-outage")
    crashes = about(found, "CrashLoopBackOff")
    assert {f.subject.name for f in crashes if f.subject} == {
        "payment-service-6f9d7c8b54-x7k2p",
        "payment-service-6f9d7c8b54-q9m4t",
    }
    assert all(f.severity is Severity.CRITICAL for f in crashes)
    assert {f.details["owner"]["name"] for f in crashes} == {"payment-service"}
    (worst,) = [f for f in crashes if f.details["restarts"] == 14]
    assert worst.details["owner"] == {"kind": "Deployment", "name": "payment-service", "namespace": "shop"}
    assert worst.summary == (
        "payment-service-6f9d7c8b54-x7k2p is in CrashLoopBackOff (14 restarts; last exit: Error, code 1)"
    )
    assert "event BackOff x268" in worst.evidence
    assert worst.since == datetime(2026, 11, 20, 13, 0, 53, tzinfo=UTC)
    assert found[0].severity is Severity.CRITICAL
    assert {str(f.subject) for f in found} == {
        "Deployment shop/payment-service",
        "Service shop/payment-service",
        "Pod shop/payment-service-6f9d7c8b54-x7k2p",
        "Pod shop/payment-service-6f9d7c8b54-q9m4t",
    }


def test_worker_memory_leak_workers_were_oomkilled_three_times() -> None:
    ooms = about(findings_of("worker-memory-leak"), "OOMKilled")
    assert len(ooms) == 2
    for oom in ooms:
        assert oom.severity is Severity.CRITICAL
        assert oom.details["restarts"] == 3
        assert oom.details["memory_limit"] == "512Mi"
        assert oom.details["exit_code"] == 137
        assert oom.details["owner"] == {"kind": "Deployment", "name": "worker", "namespace": "jobs"}
        assert "was OOMKilled (3 restarts; memory limit 512Mi" in oom.summary


def test_db_pool_exhaustion_one_orders_service_pod_fails_readiness() -> None:
    found = findings_of("db-pool-exhaustion")
    (failing,) = about(found, "ReadinessProbeFailed")
    assert failing.subject == ObjectRef(kind="Pod", name="orders-service-84c6d9f7b5-2xq7r", namespace="checkout")
    assert failing.details["owner"]["name"] == "orders-service"
    assert failing.details["probe_failures"] == 87
    assert not [f for f in found if f.severity is Severity.CRITICAL]


def test_healthy_world_has_nothing_to_worry_about() -> None:
    found = findings_of("healthy")
    assert [f for f in found if f.severity in (Severity.CRITICAL, Severity.WARNING)] == []


def test_cert_expiry_shows_the_failing_acme_challenge() -> None:
    found = findings_of("cert-expiry")
    assert [(f.severity, f.reason, f.subject.kind if f.subject else None) for f in found] == [
        (Severity.WARNING, "PresentError", "Challenge")
    ]
    assert "NXDOMAIN" in found[0].summary
    assert found[0].details["count"] == 1771


@pytest.mark.parametrize("pod", ["payment-service-6f9d7c8b54-x7k2p", "payment-service-6f9d7c8b54-q9m4t"])
def test_payment_outage_previous_log_tops_with_the_gateway_timeout(pod: str) -> None:
    world = world_at_recording("payment-outage")
    previous = world.logs[("shop", pod, "payment-service")].previous
    assert previous is not None
    summary = analyze_log(previous, source_name=f"{pod}/payment-service (previous)")
    top = summary.top_errors[0]
    assert top.template == "upstream gateway timed out after <n>s"
    assert top.count == 3
    assert summary.fatal_lines == 1
    reasons = {f.reason: f for f in log_findings(summary, ObjectRef(kind="Pod", name=pod, namespace="shop"))}
    assert reasons["LogErrors"].severity is Severity.CRITICAL
    assert 'top: "upstream gateway timed out after <n>s" x3 first at' in reasons["LogErrors"].summary
    assert set(reasons) == {"LogErrors", "Timeout"}


def test_x7k2p_previous_log_first_gateway_timeout_is_at_13_59_31() -> None:
    world = world_at_recording("payment-outage")
    previous = world.logs[("shop", "payment-service-6f9d7c8b54-x7k2p", "payment-service")].previous or ""
    top = analyze_log(previous, source_name="x7k2p").top_errors[0]
    assert top.first_seen == datetime(2026, 11, 20, 13, 59, 31, 121000, tzinfo=UTC)
    assert top.last_seen == datetime(2026, 11, 20, 13, 59, 32, 943000, tzinfo=UTC)
