"""An HPA pinned at its ceiling says how far its metric is beyond target: what sizing the fix needs."""

from __future__ import annotations

import pytest

from tests.tools.analyzers.factories import Expect, Obj, check, cond, deployment, hpa, run
from tools.analyzers.kubernetes.hpa import analyze_hpa
from tools.findings import Severity

LIMITED = cond(
    "ScalingLimited",
    "True",
    reason="TooManyReplicas",
    message="the desired replica count is more than the maximum replica count",
    since=18,
)


def scaling_on_cpu(obj: Obj, *, target: int, current: int) -> Obj:
    """An HPA scaling on CPU utilization, with its current reading, as the API returns one."""
    metric = {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}},
    }
    reading = {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}
    return {
        **obj,
        "spec": {**obj["spec"], "metrics": [metric]},
        "status": {**obj["status"], "currentMetrics": [reading]},
    }


CASES: list[tuple[str, list[Obj], list[Expect]]] = [
    ("healthy, below its ceiling and its target", [scaling_on_cpu(hpa(), target=70, current=52), deployment()], []),
    (
        "pinned at max with CPU far beyond target",
        [scaling_on_cpu(hpa(current=10, desired=10, conditions=[LIMITED]), target=70, current=187), deployment()],
        [
            Expect(
                "HPAAtMax",
                Severity.WARNING,
                summary=[
                    "pinned at its maximum of 10 replicas for Deployment api (cpu at 187% of request, target 70%)"
                ],
                evidence=["TooManyReplicas"],
            )
        ],
    ),
    (
        "pinned at max without a metric reading: the ceiling alone is said",
        [hpa(current=10, desired=10, conditions=[LIMITED]), deployment()],
        [Expect("HPAAtMax", Severity.WARNING, summary=["pinned at its maximum of 10 replicas for Deployment api"])],
    ),
    (
        "at max but under target, wanting fewer",
        [scaling_on_cpu(hpa(current=10, desired=8), target=70, current=55), deployment()],
        [],
    ),
]


@pytest.mark.parametrize(("objects", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hpa_pressure(objects: list[Obj], expected: list[Expect]) -> None:
    check(run(analyze_hpa, *objects), expected)


def test_the_ceiling_alone_has_no_empty_parentheses() -> None:
    (found,) = run(analyze_hpa, hpa(current=10, desired=10, conditions=[LIMITED]), deployment())
    assert found.summary.endswith("for Deployment api")
