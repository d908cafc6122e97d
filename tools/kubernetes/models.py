"""What the Kubernetes tool servers answer: typed views of API objects, as kubectl would show them.

These are the servers' output schemas, so the agents (and a model reading them) get the same
shape every time: statuses spelled as kubectl spells them, times as UTC datetimes, and lists
capped with a `truncated` flag instead of unbounded output.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tools.analyzers.logs import LogSummary
from tools.findings import Finding, ObjectRef


class Owner(BaseModel):
    """The workload that recreates a pod: a Deployment (resolved through its ReplicaSet), StatefulSet, Job..."""

    kind: str
    name: str


class Termination(BaseModel):
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class Resources(BaseModel):
    limits: dict[str, str] = Field(default_factory=dict)
    requests: dict[str, str] = Field(default_factory=dict)


class Container(BaseModel):
    name: str
    image: str
    init: bool = False
    ready: bool = False
    restarts: int = 0
    state: str = Field(description="running, waiting or terminated")
    reason: str | None = Field(default=None, description="e.g. CrashLoopBackOff, OOMKilled, Completed")
    message: str | None = None
    started_at: datetime | None = None
    last_termination: Termination | None = Field(default=None, description="the previous instance's exit")
    resources: Resources = Field(default_factory=Resources)


class Pod(BaseModel):
    name: str
    namespace: str
    phase: str
    status: str = Field(description="as `kubectl get pods` shows it: Running, CrashLoopBackOff, OOMKilled, ...")
    ready: str = Field(description="ready containers / containers, e.g. 1/2")
    restarts: int
    last_restart_at: datetime | None = None
    node: str | None = None
    ip: str | None = None
    created_at: datetime | None = None
    age: str = ""
    owner: Owner | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    containers: list[Container] = Field(default_factory=list)


class PodList(BaseModel):
    namespace: str | None = Field(description="None: all namespaces")
    label_selector: str | None = None
    total: int
    truncated: bool = False
    pods: list[Pod]


class Condition(BaseModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: datetime | None = None


class Event(BaseModel):
    type: str
    reason: str
    message: str
    object: str = Field(description="Kind/name the event is about")
    namespace: str | None = None
    count: int = 1
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class EventList(BaseModel):
    namespace: str | None
    object_name: str | None = None
    warnings_only: bool = False
    total: int
    truncated: bool = False
    events: list[Event] = Field(description="most recent first")


class PodDetail(BaseModel):
    pod: Pod
    qos_class: str | None = None
    service_account: str | None = None
    start_time: datetime | None = None
    conditions: list[Condition] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list, description="events about this pod, most recent first")


class PodLogs(BaseModel):
    namespace: str
    pod: str
    container: str | None
    previous: bool
    lines: list[str]
    truncated: bool = Field(description="true when older lines were cut to stay within the line cap")
    summary: LogSummary
    findings: list[Finding] = Field(default_factory=list)


class Deployment(BaseModel):
    name: str
    namespace: str
    desired: int
    ready: int
    available: int
    updated: int
    unavailable: int
    images: list[str]
    revision: str | None = None
    paused: bool = False
    strategy: str | None = None
    selector: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    conditions: list[Condition] = Field(default_factory=list)
    created_at: datetime | None = None
    age: str = ""


class DeploymentList(BaseModel):
    namespace: str | None
    total: int
    deployments: list[Deployment]


class Node(BaseModel):
    name: str
    status: str = Field(description="as kubectl shows it, e.g. Ready, NotReady, Ready,SchedulingDisabled")
    roles: list[str] = Field(default_factory=list)
    unschedulable: bool = False
    kubelet_version: str | None = None
    internal_ip: str | None = None
    created_at: datetime | None = None
    age: str = ""
    taints: list[str] = Field(default_factory=list)
    problems: list[Condition] = Field(default_factory=list, description="conditions in their unhealthy state")
    capacity: dict[str, str] = Field(default_factory=dict)
    allocatable: dict[str, str] = Field(default_factory=dict)


class NodeList(BaseModel):
    total: int
    nodes: list[Node]


class RolloutPod(BaseModel):
    name: str
    ready: bool
    status: str
    restarts: int
    created_at: datetime | None = None


class RolloutStatus(BaseModel):
    namespace: str
    name: str
    generation: int
    observed_generation: int
    desired: int
    updated: int
    ready: int
    available: int
    total: int = Field(description="pods of every ReplicaSet of the deployment, old ones included")
    complete: bool = Field(description="every desired replica runs the current template and is available")
    message: str = Field(description="what `kubectl rollout status` would print")
    revision: str | None = None
    replicaset: str | None = Field(default=None, description="the ReplicaSet of the current template")
    images: list[str] = Field(default_factory=list)
    pods: list[RolloutPod] = Field(default_factory=list, description="pods of the current ReplicaSet")


class ClusterAnalysis(BaseModel):
    namespace: str | None = Field(description="None: all namespaces")
    analyzed_at: datetime
    findings: list[Finding] = Field(description="critical first")
    objects: dict[str, int] = Field(default_factory=dict, description="objects examined, by kind")
    skipped: dict[str, str] = Field(default_factory=dict, description="kinds that could not be listed, and why")


class ActionResult(BaseModel):
    """What a remediation call did (or, with dry_run, would do): the one answer every write tool gives."""

    action: str
    target: ObjectRef
    dry_run: bool
    ok: bool
    message: str = Field(description="one line for the thread, e.g. what changed from what to what")
    details: dict[str, Any] = Field(default_factory=dict)
