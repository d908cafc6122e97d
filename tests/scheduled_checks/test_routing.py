"""Which team hears about a finding, and which findings count as the same one."""

from __future__ import annotations

from typing import Any

import pytest

from agents.catalog import Catalog, Service
from scheduled_checks.alerts_digest import alert_finding
from scheduled_checks.models import CheckResult
from scheduled_checks.registry import CHECKS, get_check
from scheduled_checks.routing import MAX_KEY, observe, owning_service
from tools.findings import Finding, ObjectRef, Severity
from tools.metrics.models import Alert

CATALOG = Catalog(
    [
        Service(name="payment-service", namespace="shop", team="payments", channel="#oncall-payments", repo="a/p"),
        Service(name="api-gateway", namespace="platform", team="platform", channel="#platform-alerts", repo="a/g"),
    ]
)
FALLBACK = "#sre"


def finding(subject: ObjectRef | None = None, **details: Any) -> Finding:
    return Finding(source="kubernetes", severity=Severity.WARNING, summary="x", subject=subject, details=details)


ROUTES = [
    ("an alert's service label", finding(service="payment-service"), "#oncall-payments"),
    ("an alert's team label", finding(team="platform"), "#platform-alerts"),
    (
        "the Deployment owning a crash-looping pod",
        finding(
            ObjectRef(kind="Pod", name="payment-service-6f9d-q9m4t", namespace="shop"),
            owner={"kind": "Deployment", "name": "payment-service", "namespace": "shop"},
        ),
        "#oncall-payments",
    ),
    (
        "the Ingress serving a certificate",
        finding(
            ObjectRef(kind="Certificate", name="api.example.com"),
            ingress={"kind": "Ingress", "name": "api-gateway", "namespace": "platform"},
        ),
        "#platform-alerts",
    ),
    (
        "an object named after its service",
        finding(ObjectRef(kind="Secret", name="api-gateway-tls", namespace="platform")),
        "#platform-alerts",
    ),
    (
        "the same name in another namespace",
        finding(ObjectRef(kind="Deployment", name="payment-service", namespace="staging")),
        FALLBACK,
    ),
    ("a node nobody owns", finding(ObjectRef(kind="Node", name="node-a")), FALLBACK),
]


@pytest.mark.parametrize(("case", "found", "channel"), ROUTES, ids=[row[0] for row in ROUTES])
def test_findings_go_to_the_owning_teams_channel(case: str, found: Finding, channel: str) -> None:
    service = owning_service(found, CATALOG)
    assert (service.channel if service else FALLBACK) == channel, case


def test_one_item_per_key_keeping_the_most_severe() -> None:
    pod = ObjectRef(kind="Pod", name="payment-service-1", namespace="shop")
    findings = [
        Finding(source="kubernetes", severity=Severity.WARNING, summary="w", reason="CrashLoopBackOff", subject=pod),
        Finding(source="kubernetes", severity=Severity.CRITICAL, summary="c", reason="CrashLoopBackOff", subject=pod),
    ]
    [item] = observe(get_check("workload-health"), CheckResult(findings=findings, checked=""), CATALOG, FALLBACK)
    assert (item.finding.summary, item.channel, item.owner) == ("c", "#oncall-payments", "payment-service")
    assert item.question == "Why is payment-service failing?"


def test_a_certificate_getting_worse_keeps_its_key() -> None:
    check = CHECKS["cert-expiry"]
    subject = ObjectRef(kind="Certificate", name="api.example.com")
    expiring = Finding(source="certificates", severity=Severity.WARNING, summary="", reason="CertificateExpiring")
    expiring = expiring.model_copy(update={"subject": subject})
    unrenewable = expiring.model_copy(update={"reason": "AcmeDnsRecordMissing", "severity": Severity.CRITICAL})
    mismatch = expiring.model_copy(update={"reason": "HostnameMismatch"})
    assert check.key(expiring) == check.key(unrenewable) != check.key(mismatch)


def test_an_alert_is_keyed_by_its_labels_but_not_its_severity() -> None:
    labels = {"alertname": "PaymentGatewayTimeouts", "namespace": "shop", "service": "payment-service"}
    warning = alert_finding(Alert(name="PaymentGatewayTimeouts", state="firing", severity="warning", labels=labels))
    critical = alert_finding(Alert(name="PaymentGatewayTimeouts", state="firing", severity="critical", labels=labels))
    other = alert_finding(
        Alert(name="PaymentGatewayTimeouts", state="firing", labels={**labels, "service": "orders-service"})
    )
    key = CHECKS["alerts-digest"].key
    assert key(warning) == key(critical) != key(other)
    assert (warning.severity, critical.severity, other.severity) == (Severity.WARNING, Severity.CRITICAL, Severity.INFO)
    assert owning_service(critical, CATALOG) == CATALOG.get("payment-service")


def test_a_huge_label_set_still_gives_a_short_stable_key() -> None:
    labels = {f"label{index}": "v" * 40 for index in range(20)}
    alert = alert_finding(Alert(name="Noisy", state="firing", labels=labels))
    result = CheckResult(findings=[alert], checked="")
    [first] = observe(CHECKS["alerts-digest"], result, CATALOG, FALLBACK)
    [again] = observe(CHECKS["alerts-digest"], result, CATALOG, FALLBACK)
    assert len(first.key) <= MAX_KEY and first.key == again.key and first.channel == FALLBACK
