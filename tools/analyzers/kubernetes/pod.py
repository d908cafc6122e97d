"""Pod analyzer: why a pod is not running, not serving, or keeps dying.

One finding per container problem (or one per pod for pod-wide states: evicted, unschedulable,
stuck pending). Every finding names the owning workload in `details["owner"]`, because the fix
(restart, roll back, raise a limit) is applied to the Deployment, not to one of its pods.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tools.analyzers.kubernetes.event_records import EventRecord, first_seen, last_seen, total_count
from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    describe_condition,
    earliest,
    finding,
    fmt_duration,
    fmt_time,
    integer,
    is_recent,
    items,
    mapping,
    path,
    quantity_bytes,
    ref_of,
    require_aware,
    text,
    time_at,
)
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot
from tools.findings import Finding, ObjectRef, Severity

CRASH_LOOP = "CrashLoopBackOff"
IMAGE_PULL_WAITS = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"})
CONFIG_ERROR = "CreateContainerConfigError"
STARTING_WAITS = frozenset({"ContainerCreating", "PodInitializing"})
PENDING_GRACE = timedelta(minutes=10)
"""Pulling a large image or attaching a volume takes minutes; only longer than this is stuck."""
NOT_READY_GRACE = timedelta(minutes=5)
"""Without probe-failure events, a container must stay unready this long before it counts."""
REPEATED_OOM = 2

_MISSING_OBJECT = re.compile(r'\b(secret|configmap)s? "([^"]+)" not found', re.IGNORECASE)
_MISSING_KEY = re.compile(r"couldn't find key (\S+) in (Secret|ConfigMap) (?:[^/\s]+/)?([^\s,;]+)", re.IGNORECASE)
_KIND_SPELLING = {"secret": "Secret", "configmap": "ConfigMap"}
_PREEMPTION = " preemption: "
"""The scheduler appends its preemption verdict; the reason a person acts on comes before it."""


@dataclass(frozen=True)
class _MissingReference:
    kind: str
    name: str
    key: str | None = None

    def __str__(self) -> str:
        if self.key:
            return f"key {self.key} missing from {self.kind} {self.name}"
        return f'{self.kind} "{self.name}" not found'


@dataclass(frozen=True)
class _Pod:
    """One pod with what every container check needs: its events, its owner, the clock."""

    obj: JsonObj
    snapshot: ClusterSnapshot
    ref: ObjectRef
    owner: ObjectRef | None
    events: list[EventRecord]
    now: datetime

    @property
    def name(self) -> str:
        return self.ref.name

    def label(self, container: str, *, init: bool) -> str:
        if init:
            return f"{self.name} (init container {container})"
        several = len(items(self.obj, "spec", "containers")) > 1
        return f"{self.name} (container {container})" if several else self.name

    def spec_of(self, container: str, *, init: bool) -> JsonObj:
        field = "initContainers" if init else "containers"
        return next((spec for spec in items(self.obj, "spec", field) if spec.get("name") == container), {})

    def warnings(self, container: str | None = None, *, reasons: tuple[str, ...] = ()) -> list[EventRecord]:
        """Warning events about the pod (or one container), the most repeated first."""
        chosen = [
            event
            for event in self.events
            if event.is_warning
            and (container is None or event.concerns_container(container))
            and (not reasons or event.reason in reasons)
        ]
        return sorted(chosen, key=lambda event: (-event.count, event.reason))

    def details(self, **extra: Any) -> dict[str, Any]:
        base: dict[str, Any] = {"phase": text(self.obj, "status", "phase"), "node": text(self.obj, "spec", "nodeName")}
        if self.owner is not None:
            base["owner"] = self.owner.model_dump()
        return {**base, **extra}


def analyze_pod(pod: JsonObj, snapshot: ClusterSnapshot, *, now: datetime) -> list[Finding]:
    now = require_aware(now)
    if path(pod, "metadata", "deletionTimestamp") or text(pod, "status", "phase") == "Succeeded":
        return []
    ref = ref_of(pod)
    context = _Pod(pod, snapshot, ref, snapshot.owner_of(pod), snapshot.events_for("Pod", ref.namespace, ref.name), now)
    if text(pod, "status", "reason") == "Evicted":
        return [_evicted(context)]
    unschedulable = _unschedulable(context)
    if unschedulable is not None:
        return [unschedulable]
    found = [
        result
        for field, init in (("initContainerStatuses", True), ("containerStatuses", False))
        for status in items(pod, "status", field)
        if (result := _container_finding(context, status, init=init)) is not None
    ]
    if not found and (stuck := _stuck_pending(context)) is not None:
        found.append(stuck)
    return found


def _container_finding(pod: _Pod, status: JsonObj, *, init: bool) -> Finding | None:
    container = text(status, "name") or ""
    waiting_reason = text(status, "state", "waiting", "reason")
    exited = mapping(status, "state", "terminated") or mapping(status, "lastState", "terminated")
    if text(exited, "reason") == "OOMKilled":
        return _oom_killed(pod, status, container, init=init)
    if waiting_reason == CRASH_LOOP:
        return _crash_loop(pod, status, container, init=init)
    if waiting_reason in IMAGE_PULL_WAITS:
        return _image_pull(pod, status, container, init=init)
    if waiting_reason == CONFIG_ERROR:
        return _config_error(pod, status, container, init=init)
    if waiting_reason and waiting_reason not in STARTING_WAITS:
        return _stuck_waiting(pod, status, container, init=init)
    if exited and integer(exited, "exitCode") != 0:
        return _non_zero_exit(pod, status, container, init=init)
    if not init and mapping(status, "state", "running"):
        return _readiness(pod, status, container)
    return None


def _crash_loop(pod: _Pod, status: JsonObj, container: str, *, init: bool) -> Finding:
    last = mapping(status, "lastState", "terminated")
    restarts = integer(status, "restartCount")
    exit_reason, exit_code = text(last, "reason") or "unknown", path(last, "exitCode")
    warnings = pod.warnings(container)
    backoffs = [event for event in warnings if event.reason == "BackOff"]
    exit_text = f"last exit: {exit_reason}, code {exit_code}" if last else "no recorded exit"
    return finding(
        Severity.CRITICAL,
        CRASH_LOOP,
        pod.ref,
        f"{pod.label(container, init=init)} is in CrashLoopBackOff ({restarts} restarts; {exit_text})",
        [
            _state_text("state.waiting", mapping(status, "state", "waiting")),
            _state_text("lastState.terminated", last),
            *(event.describe() for event in warnings[:3]),
        ],
        since=earliest(first_seen(backoffs), time_at(last, "finishedAt")),
        details=pod.details(
            container=container,
            restarts=restarts,
            exit_code=exit_code,
            last_termination_reason=text(last, "reason"),
            last_finished_at=text(last, "finishedAt"),
            back_off_events=total_count(backoffs),
        ),
    )


def _oom_killed(pod: _Pod, status: JsonObj, container: str, *, init: bool) -> Finding:
    exited = mapping(status, "state", "terminated") or mapping(status, "lastState", "terminated")
    restarts = integer(status, "restartCount")
    crash_looping = text(status, "state", "waiting", "reason") == CRASH_LOOP
    finished = time_at(exited, "finishedAt")
    recent = is_recent(finished, pod.now)
    if recent and (crash_looping or restarts >= REPEATED_OOM):
        severity = Severity.CRITICAL
    else:
        severity = Severity.WARNING if recent else Severity.INFO
    resources = mapping(pod.spec_of(container, init=init), "resources")
    limit = text(resources, "limits", "memory")
    warnings = pod.warnings(container)
    parts = [f"{restarts} restarts", f"memory limit {limit}" if limit else "no memory limit"]
    if finished:
        parts.append(f"last at {fmt_time(finished)}")
    state = " and is in CrashLoopBackOff" if crash_looping else ""
    return finding(
        severity,
        "OOMKilled",
        pod.ref,
        f"{pod.label(container, init=init)} was OOMKilled{state} ({'; '.join(parts)})",
        [
            _state_text(
                "state.terminated" if mapping(status, "state", "terminated") else "lastState.terminated", exited
            ),
            f"resources.limits.memory={limit}" if limit else "",
            *(event.describe() for event in warnings[:3]),
        ],
        since=earliest(first_seen([event for event in warnings if event.reason == "BackOff"]), finished),
        details=pod.details(
            container=container,
            restarts=restarts,
            exit_code=path(exited, "exitCode"),
            memory_limit=limit,
            memory_limit_bytes=quantity_bytes(limit),
            memory_request=text(resources, "requests", "memory"),
            last_finished_at=text(exited, "finishedAt"),
            crash_looping=crash_looping,
        ),
    )


def _image_pull(pod: _Pod, status: JsonObj, container: str, *, init: bool) -> Finding:
    waiting = mapping(status, "state", "waiting")
    image = text(status, "image") or text(pod.spec_of(container, init=init), "image")
    warnings = pod.warnings(container)
    return finding(
        Severity.CRITICAL,
        "ImagePullBackOff",
        pod.ref,
        f"{pod.label(container, init=init)} cannot pull image {image} ({text(waiting, 'reason')})",
        [_state_text("state.waiting", waiting), *(event.describe() for event in warnings[:3])],
        since=first_seen(warnings) or time_at(pod.obj, "status", "startTime"),
        details=pod.details(
            container=container, image=image, waiting_reason=text(waiting, "reason"), message=text(waiting, "message")
        ),
    )


def _config_error(pod: _Pod, status: JsonObj, container: str, *, init: bool) -> Finding:
    waiting = mapping(status, "state", "waiting")
    warnings = pod.warnings(container)
    messages = [text(waiting, "message") or "", *(event.message for event in warnings)]
    missing = _missing_from_messages(messages) or _missing_from_spec(pod, container, init=init)
    cause = str(missing) if missing else (text(waiting, "message") or "a referenced Secret or ConfigMap is missing")
    return finding(
        Severity.CRITICAL,
        CONFIG_ERROR,
        pod.ref,
        f"{pod.label(container, init=init)} cannot start its container: {cause}",
        [_state_text("state.waiting", waiting), *(event.describe() for event in warnings[:3])],
        since=first_seen(warnings) or time_at(pod.obj, "status", "startTime"),
        details=pod.details(
            container=container,
            message=text(waiting, "message"),
            missing_kind=missing.kind if missing else None,
            missing_name=missing.name if missing else None,
            missing_key=missing.key if missing else None,
        ),
    )


def _missing_from_messages(messages: list[str]) -> _MissingReference | None:
    """The kubelet names what is missing: `secret "db-creds" not found`, `couldn't find key K in ConfigMap ns/cm`."""
    for message in messages:
        if key_match := _MISSING_KEY.search(message):
            return _MissingReference(_KIND_SPELLING[key_match.group(2).lower()], key_match.group(3), key_match.group(1))
        if object_match := _MISSING_OBJECT.search(message):
            return _MissingReference(_KIND_SPELLING[object_match.group(1).lower()], object_match.group(2))
    return None


def _missing_from_spec(pod: _Pod, container: str, *, init: bool) -> _MissingReference | None:
    """When the message is generic, the first reference in the spec that the listed objects lack."""
    spec = pod.spec_of(container, init=init)
    for reference in _references(pod.obj, spec):
        if not pod.snapshot.listed(reference.kind):
            continue
        found = pod.snapshot.get(reference.kind, pod.ref.namespace, reference.name)
        if found is None:
            return _MissingReference(reference.kind, reference.name)
        data = {**mapping(found, "data"), **mapping(found, "binaryData")}
        if reference.kind == "ConfigMap" and reference.key and data and reference.key not in data:
            return reference
    return None


def _references(pod: JsonObj, container: JsonObj) -> list[_MissingReference]:
    """Required Secret and ConfigMap references of one container (env, envFrom) and of the pod's volumes."""
    found: list[_MissingReference] = []
    for env in items(container, "env"):
        for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
            source = mapping(env, "valueFrom", field)
            if source and source.get("optional") is not True and text(source, "name"):
                found.append(_MissingReference(kind, text(source, "name") or "", text(source, "key")))
    for env_from in items(container, "envFrom"):
        for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
            source = mapping(env_from, field)
            if source and source.get("optional") is not True and text(source, "name"):
                found.append(_MissingReference(kind, text(source, "name") or ""))
    for volume in items(pod, "spec", "volumes"):
        secret, config_map = mapping(volume, "secret"), mapping(volume, "configMap")
        if secret and secret.get("optional") is not True and text(secret, "secretName"):
            found.append(_MissingReference("Secret", text(secret, "secretName") or ""))
        if config_map and config_map.get("optional") is not True and text(config_map, "name"):
            found.append(_MissingReference("ConfigMap", text(config_map, "name") or ""))
    return found


def _stuck_waiting(pod: _Pod, status: JsonObj, container: str, *, init: bool) -> Finding:
    """Any other waiting reason (RunContainerError, CreateContainerError, ...) is quoted as the kubelet gives it."""
    waiting = mapping(status, "state", "waiting")
    reason = text(waiting, "reason") or "Waiting"
    warnings = pod.warnings(container)
    return finding(
        Severity.WARNING,
        reason,
        pod.ref,
        f"{pod.label(container, init=init)} is waiting: {reason}"
        + (f" ({text(waiting, 'message')})" if text(waiting, "message") else ""),
        [_state_text("state.waiting", waiting), *(event.describe() for event in warnings[:3])],
        since=first_seen(warnings),
        details=pod.details(container=container, waiting_reason=reason, message=text(waiting, "message")),
    )


def _non_zero_exit(pod: _Pod, status: JsonObj, container: str, *, init: bool) -> Finding:
    current = mapping(status, "state", "terminated")
    exited = current or mapping(status, "lastState", "terminated")
    restarts = integer(status, "restartCount")
    finished = time_at(exited, "finishedAt")
    code, reason = integer(exited, "exitCode"), text(exited, "reason") or "Error"
    warnings = pod.warnings(container)
    restarted = f", restarted {restarts} times" if restarts else ""
    return finding(
        Severity.WARNING if is_recent(finished, pod.now) else Severity.INFO,
        "NonZeroExit",
        pod.ref,
        f"{pod.label(container, init=init)} exited with code {code} ({reason}){restarted}"
        + (f" at {fmt_time(finished)}" if finished else ""),
        [
            _state_text("state.terminated" if current else "lastState.terminated", exited),
            *(event.describe() for event in warnings[:3]),
        ],
        since=finished,
        details=pod.details(
            container=container,
            restarts=restarts,
            exit_code=code,
            termination_reason=reason,
            last_finished_at=text(exited, "finishedAt"),
        ),
    )


def _readiness(pod: _Pod, status: JsonObj, container: str) -> Finding | None:
    probe_failures = [
        event for event in pod.warnings(container, reasons=("Unhealthy",)) if "Readiness" in event.message
    ]
    if status.get("ready") is True:
        return _readiness_flapping(pod, container, probe_failures)
    ready = condition(pod.obj, "Ready")
    unready_since = time_at(ready, "lastTransitionTime") if ready and ready.get("status") == "False" else None
    long_unready = unready_since is not None and pod.now - unready_since >= NOT_READY_GRACE
    if not probe_failures and not long_unready:
        return None
    failures = total_count(probe_failures)
    since = earliest(first_seen(probe_failures), unready_since)
    what = f"readiness probe failed {failures} times" if probe_failures else "readiness probe not passing"
    return finding(
        Severity.WARNING,
        "ReadinessProbeFailed",
        pod.ref,
        f"{pod.label(container, init=False)} is running but not ready: {what}"
        + (f" since {fmt_time(since)}" if since else ""),
        [
            f"containerStatuses[{container}].ready=false",
            describe_condition(ready),
            *(event.describe() for event in probe_failures[:2]),
        ],
        since=since,
        details=pod.details(
            container=container,
            restarts=integer(status, "restartCount"),
            probe_failures=failures,
            probe=mapping(pod.spec_of(container, init=False), "readinessProbe") or None,
        ),
    )


def _readiness_flapping(pod: _Pod, container: str, probe_failures: list[EventRecord]) -> Finding | None:
    """Ready now, but the probe kept failing lately: the pod drops in and out of its Service."""
    if not probe_failures or not is_recent(last_seen(probe_failures), pod.now):
        return None
    failures = total_count(probe_failures)
    since = first_seen(probe_failures)
    return finding(
        Severity.INFO,
        "ReadinessProbeFlapping",
        pod.ref,
        f"{pod.label(container, init=False)} is ready, but its readiness probe failed {failures} times"
        + (f" since {fmt_time(since)}" if since else ""),
        [event.describe() for event in probe_failures[:2]],
        since=since,
        details=pod.details(container=container, probe_failures=failures),
    )


def _evicted(pod: _Pod) -> Finding:
    message = text(pod.obj, "status", "message") or "evicted"
    events = [event for event in pod.events if event.reason == "Evicted"]
    return finding(
        Severity.WARNING,
        "Evicted",
        pod.ref,
        f"{pod.name} was evicted: {message}",
        [f"status.reason=Evicted status.message={message!r}", *(event.describe() for event in events[:1])],
        since=first_seen(events),
        details=pod.details(message=message),
    )


def _unschedulable(pod: _Pod) -> Finding | None:
    scheduled = condition(pod.obj, "PodScheduled")
    failures = pod.warnings(reasons=("FailedScheduling",))
    refused = scheduled is not None and scheduled.get("status") == "False"
    unplaced = text(pod.obj, "status", "phase") == "Pending" and not text(pod.obj, "spec", "nodeName")
    if not refused and not (unplaced and failures):
        return None
    latest_failure = max(failures, key=lambda event: event.last or pod.now, default=None)
    message = text(scheduled, "message") or (latest_failure.message if latest_failure else "no node fits the pod")
    claims = _unbound_claims(pod)
    why = [message.split(_PREEMPTION)[0].strip(), *(str(claim) for claim in claims)]
    return finding(
        Severity.CRITICAL,
        "Unschedulable",
        pod.ref,
        f"{pod.name} is Pending and cannot be scheduled: {'; '.join(why)}",
        [describe_condition(scheduled), *(event.describe() for event in failures[:1])],
        since=earliest(time_at(scheduled, "lastTransitionTime"), first_seen(failures)),
        details=pod.details(
            message=message,
            scheduler_reason=text(scheduled, "reason"),
            unbound_claims=[claim.name for claim in claims],
        ),
    )


@dataclass(frozen=True)
class _UnboundClaim:
    name: str
    phase: str
    cause: str | None

    def __str__(self) -> str:
        return f"PersistentVolumeClaim {self.name} is {self.phase}" + (f": {self.cause}" if self.cause else "")


def _unbound_claims(pod: _Pod) -> list[_UnboundClaim]:
    """The pod's claims that are not Bound, with the provisioner's complaint: the scheduler only says "unbound"."""
    if not pod.snapshot.listed("PersistentVolumeClaim"):
        return []
    found = []
    for volume in items(pod.obj, "spec", "volumes"):
        name = text(volume, "persistentVolumeClaim", "claimName")
        if not name:
            continue
        claim = pod.snapshot.get("PersistentVolumeClaim", pod.ref.namespace, name)
        phase = "missing" if claim is None else text(claim, "status", "phase") or "Pending"
        if phase == "Bound":
            continue
        complaints = [
            event
            for event in pod.snapshot.events_for("PersistentVolumeClaim", pod.ref.namespace, name)
            if event.is_warning
        ]
        latest = max(complaints, key=lambda event: event.last or pod.now, default=None)
        found.append(_UnboundClaim(name, phase, latest.message if latest else None))
    return found


def _stuck_pending(pod: _Pod) -> Finding | None:
    created = time_at(pod.obj, "metadata", "creationTimestamp")
    if text(pod.obj, "status", "phase") != "Pending" or created is None or pod.now - created < PENDING_GRACE:
        return None
    warnings = pod.warnings()
    cause = f": {warnings[0].reason}: {warnings[0].message}" if warnings else ""
    return finding(
        Severity.WARNING,
        "PodPending",
        pod.ref,
        f"{pod.name} has been Pending for {fmt_duration(pod.now - created)}{cause}",
        [f"status.phase=Pending since creation at {fmt_time(created)}", *(event.describe() for event in warnings[:2])],
        since=created,
        details=pod.details(),
    )


def _state_text(label: str, state: JsonObj) -> str:
    if not state:
        return ""
    fields = []
    for key in ("reason", "exitCode", "signal", "message", "startedAt", "finishedAt"):
        value = state.get(key)
        if value is not None and value != "":
            fields.append(f"{key}={value!r}" if key == "message" else f"{key}={value}")
    return f"{label}: {' '.join(fields)}"
