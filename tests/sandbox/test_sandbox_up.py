"""`whisperer sandbox up` as a user runs it: a real process, its JSON line, real clients, clean exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kubernetes import client, config
from prometheus_api_client import PrometheusConnect

from tests.conftest import skip_or_fail

WHISPERER = Path(sys.executable).parent / "whisperer"


def _children_named(name: str, parent: int) -> list[int]:
    """Pids of processes called `name` whose ancestry includes `parent`."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("Name", "").strip() != name:
            continue
        pid = int(status.parent.name)
        ancestor = int(fields["PPid"])
        while ancestor > 1:
            if ancestor == parent:
                found.append(pid)
                break
            try:
                ancestor = int(Path(f"/proc/{ancestor}/stat").read_text().split(") ")[1].split()[1])
            except (OSError, IndexError):
                break
    return found


def _wait_gone(pids: list[int], timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)]
        time.sleep(0.05)
    return alive


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
    except (OSError, IndexError):
        return "Z"


@pytest.fixture(scope="module")
def sandbox_up() -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    import shutil

    if shutil.which("prometheus") is None:
        skip_or_fail("Debian's prometheus is not installed (make test installs it where apt is available)")
    process = subprocess.Popen(
        [str(WHISPERER), "sandbox", "up", "--world", "payment-outage"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        if not first:
            pytest.fail(f"sandbox up printed nothing; stderr: {process.stderr.read() if process.stderr else ''}")
        yield process, json.loads(first)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


def test_first_line_is_the_contract_json(sandbox_up: tuple[subprocess.Popen[str], dict[str, Any]]) -> None:
    _, endpoints = sandbox_up
    assert {"kubernetes", "prometheus", "database", "tls", "github"} <= set(endpoints)
    assert endpoints["kubernetes"].startswith("https://127.0.0.1:")
    assert endpoints["prometheus"].startswith("http://127.0.0.1:")
    assert endpoints["database"].startswith(("postgresql://", "sqlite:///"))


def test_official_client_sees_the_crash_looping_pod_and_its_previous_log(
    sandbox_up: tuple[subprocess.Popen[str], dict[str, Any]],
) -> None:
    _, endpoints = sandbox_up
    api = client.CoreV1Api(config.new_client_from_config(config_file=endpoints["kubeconfig"]))
    pods = api.list_namespaced_pod("shop", label_selector="app.kubernetes.io/name=payment-service").items
    waiting = [
        status.state.waiting.reason
        for pod in pods
        for status in pod.status.container_statuses
        if status.state.waiting is not None
    ]
    assert "CrashLoopBackOff" in waiting
    restarts = max(status.restart_count for pod in pods for status in pod.status.container_statuses)
    assert restarts == 14
    crashing = next(pod for pod in pods if pod.status.container_statuses[0].restart_count == 14)
    previous = api.read_namespaced_pod_log(crashing.metadata.name, "shop", previous=True)
    assert "timeout" in previous.lower()


def test_kubectl_sees_the_same_pod(sandbox_up: tuple[subprocess.Popen[str], dict[str, Any]]) -> None:
    _, endpoints = sandbox_up
    result = subprocess.run(
        ["kubectl", "--kubeconfig", endpoints["kubeconfig"], "get", "pods", "-n", "shop"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "CrashLoopBackOff" in result.stdout
    crashing = next(line.split()[0] for line in result.stdout.splitlines() if "CrashLoopBackOff" in line)
    logs = subprocess.run(
        ["kubectl", "--kubeconfig", endpoints["kubeconfig"], "logs", crashing, "-n", "shop", "--previous"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert logs.returncode == 0, logs.stderr
    assert "Payment gateway timeout" in logs.stdout


def test_promql_shows_the_error_rate_spike(sandbox_up: tuple[subprocess.Popen[str], dict[str, Any]]) -> None:
    _, endpoints = sandbox_up
    prometheus = PrometheusConnect(endpoints["prometheus"], disable_ssl=True)
    ratio = (
        'sum(rate(http_requests_total{service="payment-service",code=~"5.."}[5m]))'
        ' / sum(rate(http_requests_total{service="payment-service"}[5m]))'
    )
    now = prometheus.custom_query(ratio)
    before = prometheus.custom_query(ratio, params={"time": time.time() - 3600})
    assert 0.15 < float(now[0]["value"][1]) < 0.35
    assert float(before[0]["value"][1]) < 0.02
    firing = {alert["metric"]["alertname"] for alert in prometheus.get_current_metric_value("ALERTS")}
    assert firing, "no alert fires in the flagship world"


def test_database_holds_the_failed_orders(sandbox_up: tuple[subprocess.Popen[str], dict[str, Any]]) -> None:
    _, endpoints = sandbox_up
    if not endpoints["database"].startswith("postgresql://"):
        skip_or_fail("PostgreSQL unreachable; the sandbox fell back to SQLite")
    with psycopg.connect(endpoints["database"]) as connection:
        count = connection.execute("SELECT count(*) FROM orders WHERE status = 'failed'").fetchone()
    assert count == (5,)


def test_sigterm_stops_everything_it_started(sandbox_up: tuple[subprocess.Popen[str], dict[str, Any]]) -> None:
    process, _ = sandbox_up
    children = _children_named("prometheus", process.pid)
    assert children, "no prometheus child found"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert _wait_gone(children) == []


def test_killed_sandbox_leaves_no_prometheus_behind() -> None:
    import shutil

    if shutil.which("prometheus") is None:
        skip_or_fail("Debian's prometheus is not installed")
    process = subprocess.Popen(
        [str(WHISPERER), "sandbox", "up", "--world", "payment-outage"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline()
    children = _children_named("prometheus", process.pid)
    assert children
    process.kill()
    process.wait(timeout=10)
    assert _wait_gone(children) == []
