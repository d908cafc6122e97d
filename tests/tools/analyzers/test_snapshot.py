"""The snapshot: what was listed, who owns what, where events and endpoints are found."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.tools.analyzers.factories import NS, Obj, event, job, node, owner, pod, replicaset, secret, statefulset
from tools.analyzers.kubernetes import AnalyzerInputError, ClusterSnapshot, analyze_cluster
from tools.findings import ObjectRef

POD = "api-7d9f8b6c5d-x7k2p"


def owned_by(kind: str, name: str) -> Obj:
    found = pod("worker-0", replicaset=None, labels={"app": "worker"})
    found["metadata"]["ownerReferences"] = owner(kind, name)
    return found


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        pytest.param([pod()], ObjectRef(kind="Deployment", name="api", namespace=NS), id="replicaset name minus hash"),
        pytest.param(
            [pod(), replicaset(deployment_name="api-canary")],
            ObjectRef(kind="Deployment", name="api-canary", namespace=NS),
            id="listed replicaset's owner",
        ),
        pytest.param(
            [pod(), replicaset(deployment_name=None)],
            ObjectRef(kind="ReplicaSet", name="api-7d9f8b6c5d", namespace=NS),
            id="standalone replicaset",
        ),
        pytest.param(
            [pod(labels={"app": "api"})],
            ObjectRef(kind="ReplicaSet", name="api-7d9f8b6c5d", namespace=NS),
            id="no hash label, no replicaset: no guessing",
        ),
        pytest.param(
            [owned_by("StatefulSet", "postgres"), statefulset()],
            ObjectRef(kind="StatefulSet", name="postgres", namespace=NS),
            id="statefulset",
        ),
        pytest.param(
            [owned_by("Job", "report-1"), job("report-1", cronjob="nightly-report")],
            ObjectRef(kind="CronJob", name="nightly-report", namespace=NS),
            id="job of a cronjob",
        ),
        pytest.param([pod(replicaset=None)], None, id="bare pod"),
    ],
)
def test_owner_of_a_pod(objects: list[Obj], expected: ObjectRef | None) -> None:
    assert ClusterSnapshot.from_objects(objects).owner_of(objects[0]) == expected


def test_kinds_present_count_as_listed_and_an_empty_list_object_too() -> None:
    snapshot = ClusterSnapshot.from_objects(
        [pod(), {"apiVersion": "v1", "kind": "SecretList", "items": []}], listed_kinds=["ConfigMap"]
    )
    assert {"Pod", "Secret", "ConfigMap"} <= snapshot.listed_kinds
    assert not snapshot.listed("Service")


def test_list_items_get_their_kind_back() -> None:
    listed = {"apiVersion": "v1", "kind": "PodList", "items": [{"metadata": {"name": POD, "namespace": NS}}]}
    snapshot = ClusterSnapshot.from_objects([listed])
    assert snapshot.get("Pod", NS, POD) == {"metadata": {"name": POD, "namespace": NS}, "kind": "Pod"}


def test_secret_values_never_enter_the_snapshot() -> None:
    snapshot = ClusterSnapshot.from_objects([secret("db-creds")])
    assert "data" not in snapshot.secrets[0]
    assert snapshot.get("Secret", NS, "db-creds") is not None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        pytest.param(["not an object"], "object 1 is a str, not a Kubernetes object", id="not a mapping"),
        pytest.param([{"metadata": {"name": "x"}}], "object 1 has no kind", id="no kind"),
        pytest.param([pod(), {"kind": "Pod", "metadata": {}}], "object 2 (Pod) has no metadata.name", id="no name"),
    ],
)
def test_unreadable_objects_are_refused_with_one_clear_line(bad: list[Obj], message: str) -> None:
    with pytest.raises(AnalyzerInputError, match=re.escape(message)):
        ClusterSnapshot.from_objects(bad)


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(AnalyzerInputError, match="now must be timezone-aware"):
        analyze_cluster(ClusterSnapshot(), now=datetime(2026, 11, 20, 14, 0))


def test_node_events_are_found_whatever_namespace_they_were_recorded_in() -> None:
    oom = event("Node", "node-1", "OOMKilling", "Memory cgroup out of memory", namespace=None)
    snapshot = ClusterSnapshot.from_objects([node(), oom])
    assert [e.reason for e in snapshot.events_for("Node", None, "node-1")] == ["OOMKilling"]
    assert snapshot.events_for("Pod", NS, "node-1") == []
