"""The three checks through the runtime's real MCP toolbox, against bundled worlds' sandboxes."""

from __future__ import annotations

import pytest

from agents.catalog import Catalog
from agents.toolbox import Toolbox
from bot.check_once import CheckUnavailableError, run_check_once
from bot.session import command_runtime
from scheduled_checks import CHECK_NAMES, alerts_digest, workload_health
from scheduled_checks.registry import CHECKS
from scheduled_checks.routing import observe
from tools.findings import Severity


def test_the_registry_has_exactly_the_checks_the_config_accepts() -> None:
    assert set(CHECKS) == set(CHECK_NAMES)


async def test_workload_health_and_alerts_on_the_payment_outage() -> None:
    async with command_runtime(None, "payment-outage") as runtime:
        workloads = await workload_health.run(runtime.toolbox)
        alerts = await alerts_digest.run(runtime.toolbox)
        printed = await run_check_once("workload-health", runtime.toolbox)
        catalog = Catalog(runtime.sources.services)

    reasons = sorted((finding.reason, str(finding.subject)) for finding in workloads.findings)
    assert reasons == [
        ("CrashLoopBackOff", "Pod shop/payment-service-6f9d7c8b54-q9m4t"),
        ("CrashLoopBackOff", "Pod shop/payment-service-6f9d7c8b54-x7k2p"),
        ("DeploymentUnavailable", "Deployment shop/payment-service"),
    ], "log lines and Service endpoints are left to questions"
    assert printed.splitlines()[0].startswith("[critical] ")
    assert printed.endswith("objects analyzed, 3 findings")

    timeouts = next(finding for finding in alerts.findings if finding.reason == "PaymentGatewayTimeouts")
    assert timeouts.severity is Severity.CRITICAL
    assert timeouts.summary.startswith("PaymentGatewayTimeouts firing for payment-service")
    assert alerts.checked == f"{len(alerts.findings)} alerts firing"
    routed = observe(CHECKS["alerts-digest"], alerts, catalog, "#sre")
    assert {observation.channel for observation in routed} == {"#oncall-payments"}
    routed = observe(CHECKS["workload-health"], workloads, catalog, "#sre")
    assert {observation.question for observation in routed} == {"Why is payment-service failing?"}


async def test_a_healthy_world_has_nothing_to_report() -> None:
    async with command_runtime(None, "healthy") as runtime:
        for name in CHECK_NAMES:
            result = await CHECKS[name].run(runtime.toolbox)
            assert result.findings == [], name


async def test_a_check_without_its_source_says_what_to_configure() -> None:
    async with Toolbox({}) as toolbox:
        with pytest.raises(CheckUnavailableError) as caught:
            await run_check_once("alerts-digest", toolbox)
    assert str(caught.value) == "nothing to check: set prometheus.url"
