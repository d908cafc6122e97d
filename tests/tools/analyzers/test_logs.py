"""The log analyzer: levels in every common format, grouping of similar lines, known failure patterns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tools.analyzers.logs import analyze_log, log_findings
from tools.findings import ObjectRef, Severity

POD = ObjectRef(kind="Pod", name="api-7d9f8b6c5d-x7k2p", namespace="shop")


@pytest.mark.parametrize(
    ("line", "level", "template"),
    [
        pytest.param(
            '2026-11-20T13:59:31.121Z\tERROR\tgateway/client.go:131\tupstream timed out after 30s\t{"op": "x"}',
            "error",
            "upstream timed out after <n>s",
            id="zap",
        ),
        pytest.param(
            "2026-11-20T13:40:20.207Z ERROR    orders.api: POST /v1/orders failed: PoolTimeout after 30.00 sec",
            "error",
            "orders.api: POST /v1/orders failed: PoolTimeout after <n> sec",
            id="python",
        ),
        pytest.param(
            '2026-11-20T13:57:17.512Z {"level":"error","msg":"request","error":"orders: timed out after 35000ms"}',
            "error",
            "request: orders: timed out after <n>ms",
            id="json",
        ),
        pytest.param(
            '2026-11-20T13:57:17Z level=warn msg="slow query" err="took 2.5s"',
            "warning",
            "slow query: took <n>s",
            id="logfmt",
        ),
        pytest.param(
            "E1120 13:59:32.123456       1 controller.go:88] sync failed for 10.42.0.7:8443",
            "error",
            "sync failed for <ip>",
            id="klog",
        ),
        pytest.param("2026-11-20T13:57:17Z [warn] disk 91% full", "warning", "disk <n>% full", id="bracketed"),
        pytest.param(
            "panic: runtime error: invalid memory address",
            "error",
            "panic: runtime error: invalid memory address",
            id="bare panic",
        ),
        pytest.param("ValueError: bad config", "error", "ValueError: bad config", id="bare exception"),
    ],
)
def test_levels_and_messages_in_common_formats(line: str, level: str, template: str) -> None:
    summary = analyze_log(line, source_name="api")
    groups = summary.top_errors if level == "error" else summary.top_warnings
    assert [group.template for group in groups] == [template]


def test_variable_parts_are_masked_so_similar_lines_group() -> None:
    text = "\n".join(
        [
            "2026-11-20T13:00:00Z ERROR job 4711"
            " for 1b4e28ba-2fa1-11d2-883f-0016d3cca427 from 10.0.0.7 failed (req 5e863033)",
            "2026-11-20T13:05:00Z ERROR job 4712"
            " for 6fa459ea-ee8a-3ca4-894e-db77e160355e from 10.0.0.9 failed (req 35494187)",
            "2026-11-20T13:10:00Z ERROR job 4713"
            " for 16fd2706-8baf-433b-82eb-8c7fada847da from 10.0.1.1 failed (req a1f6ceb6)",
            "2026-11-20T13:20:00Z ERROR cache key=report:2026-w47 missing",
        ]
    )
    summary = analyze_log(text, source_name="api")
    top = summary.top_errors[0]
    assert top.template == "job <n> for <uuid> from <ip> failed (req <hex>)"
    assert (top.count, top.first_seen, top.last_seen) == (
        3,
        datetime(2026, 11, 20, 13, 0, tzinfo=UTC),
        datetime(2026, 11, 20, 13, 10, tzinfo=UTC),
    )
    assert summary.top_errors[1].template == "cache key=<*> missing"


def test_counts_and_the_time_span_of_the_whole_log() -> None:
    text = "\n".join(
        [
            "2026-11-20T13:00:00.000000001Z 2026-11-20T13:00:00Z INFO starting",
            "2026-11-20T13:01:00Z WARNING slow",
            "2026-11-20T13:02:00Z ERROR broken",
            "2026-11-20T13:03:00Z FATAL exiting",
            "Traceback (most recent call last):",
            '  File "app.py", line 3, in <module>',
            "2026-11-20T13:04:00Z DEBUG bye",
        ]
    )
    summary = analyze_log(text, source_name="api")
    assert (summary.total_lines, summary.error_lines, summary.warning_lines, summary.fatal_lines) == (7, 3, 1, 1)
    assert summary.first_timestamp == datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
    assert summary.last_timestamp == datetime(2026, 11, 20, 13, 4, tzinfo=UTC)
    traceback = next(group for group in summary.top_errors if group.template.startswith("Traceback"))
    assert traceback.first_seen == datetime(2026, 11, 20, 13, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "pattern", "reason"),
    [
        ("ERROR dial tcp 198.51.100.24:8443: i/o timeout", "timeout", "Timeout"),
        ("ERROR context deadline exceeded", "timeout", "Timeout"),
        ("ERROR dial tcp 10.0.0.5:5432: connect: connection refused", "connection_refused", "ConnectionRefused"),
        ("ERROR java.lang.OutOfMemoryError: Java heap space", "out_of_memory", "OutOfMemory"),
        ("panic: runtime error: index out of range [3] with length 3", "panic_or_exception", "PanicOrException"),
        ("Traceback (most recent call last):", "panic_or_exception", "PanicOrException"),
        ("WARNING could not obtain connection from pool within 30s", "pool_exhausted", "ConnectionPoolExhausted"),
        ("ERROR FATAL: sorry, too many clients already", "pool_exhausted", "ConnectionPoolExhausted"),
        ("ERROR dial tcp: lookup payments.internal on 10.96.0.10:53: no such host", "dns_failure", "DNSFailure"),
        ('ERROR lookup failed {"lookup": "NXDOMAIN"}', "dns_failure", "DNSFailure"),
        (
            "ERROR dial tcp: lookup orders-db.shop.svc.cluster.local on 172.20.0.10:53: "
            "read udp 10.44.20.7:51234->172.20.0.10:53: i/o timeout",
            "dns_failure",
            "DNSFailure",
        ),
        ("ERROR dial tcp: lookup redis.cache on 10.96.0.10:53: server misbehaving", "dns_failure", "DNSFailure"),
        ("ERROR getaddrinfo EAI_AGAIN orders-db.shop.svc.cluster.local", "dns_failure", "DNSFailure"),
        ("ERROR x509: certificate has expired or is not yet valid", "tls_error", "TLSError"),
        ("ERROR open /data/app.db: permission denied", "permission_denied", "PermissionDenied"),
    ],
)
def test_known_failure_patterns(line: str, pattern: str, reason: str) -> None:
    summary = analyze_log(f"2026-11-20T13:59:00Z {line}", source_name="api")
    assert pattern in [hit.pattern for hit in summary.patterns]
    found = {f.reason: f for f in log_findings(summary, POD)}
    assert found[reason].severity is Severity.WARNING
    assert found[reason].source == "logs"
    assert found[reason].since == datetime(2026, 11, 20, 13, 59, tzinfo=UTC)


def test_a_timeout_that_is_not_a_lookup_is_not_a_dns_failure() -> None:
    summary = analyze_log("2026-11-20T13:59:00Z ERROR dial tcp 172.20.0.10:5432: i/o timeout", source_name="api")
    assert [hit.pattern for hit in summary.patterns] == ["timeout"]


def test_patterns_are_not_looked_for_in_info_lines() -> None:
    text = '2026-11-20T13:58:58Z INFO config loaded {"gateway.connect_timeout": "30s", "tls": "x509 bundle"}'
    summary = analyze_log(text, source_name="api")
    assert summary.patterns == []
    assert log_findings(summary, POD) == []


def test_a_healthy_log_yields_nothing() -> None:
    text = "\n".join(f"2026-11-20T13:5{i}:00Z level=info msg=request path=/ status=200" for i in range(10))
    summary = analyze_log(text, source_name="frontend")
    assert (summary.total_lines, summary.error_lines, summary.warning_lines) == (10, 0, 0)
    assert log_findings(summary, POD) == []


def test_error_findings_quote_the_top_lines_and_turn_critical_on_a_fatal() -> None:
    text = "\n".join(
        [
            "2026-11-20T13:59:31.121Z ERROR upstream gateway timed out after 30s",
            "2026-11-20T13:59:32.036Z ERROR upstream gateway timed out after 30s",
            "2026-11-20T13:59:32.951Z FATAL payment gateway unreachable, exiting",
        ]
    )
    summary = analyze_log(text, source_name="payment-service (previous)")
    errors = next(f for f in log_findings(summary, POD) if f.reason == "LogErrors")
    assert errors.severity is Severity.CRITICAL
    assert errors.subject == POD
    assert errors.summary == (
        "payment-service (previous): 3 error lines of 3, 1 fatal; "
        'top: "upstream gateway timed out after <n>s" x2 first at 2026-11-20T13:59:31.121Z'
    )
    assert errors.evidence.startswith(
        "x2 (first 2026-11-20T13:59:31.121Z, last 2026-11-20T13:59:32.036Z): ERROR upstream gateway timed out after 30s"
    )
    assert errors.since == datetime(2026, 11, 20, 13, 59, 31, 121000, tzinfo=UTC)


def test_top_limits_the_groups() -> None:
    text = "\n".join(f"2026-11-20T13:59:00Z ERROR failure kind-{chr(97 + i)}" for i in range(5))
    assert len(analyze_log(text, source_name="api", top=2).top_errors) == 2
