"""Pods, their conditions and events, turned from API JSON into the servers' typed answers.

A person reading the bot's answer knows kubectl, so the pod status is computed the way
`kubectl get pods` computes its STATUS column (the last container's waiting or terminated
reason wins, init containers show as `Init:...`, a deleted pod is `Terminating`), and ages are
spelled the way kubectl spells them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tools.analyzers.kubernetes import ClusterSnapshot
from tools.analyzers.kubernetes.event_records import EventRecord
from tools.analyzers.kubernetes.fields import (
    JsonObj,
    condition,
    integer,
    items,
    mapping,
    path,
    string_map,
    text,
    time_at,
)
from tools.kubernetes.models import Condition, Container, Event, Owner, Pod, Resources, Termination

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def pod_view(pod: JsonObj, snapshot: ClusterSnapshot, now: datetime) -> Pod:
    """`snapshot` resolves the owner (ReplicaSet -> Deployment); it may hold only the pods."""
    containers = [
        *(_container(spec, pod, init=True) for spec in items(pod, "spec", "initContainers")),
        *(_container(spec, pod, init=False) for spec in items(pod, "spec", "containers")),
    ]
    regular = [container for container in containers if not container.init]
    owner = snapshot.owner_of(pod)
    created = time_at(pod, "metadata", "creationTimestamp")
    restarts = [container.last_termination.finished_at for container in containers if container.last_termination]
    return Pod(
        name=text(pod, "metadata", "name") or "",
        namespace=text(pod, "metadata", "namespace") or "",
        phase=text(pod, "status", "phase") or "Unknown",
        status=pod_status(pod),
        ready=f"{sum(container.ready for container in regular)}/{len(regular)}",
        restarts=sum(container.restarts for container in containers),
        last_restart_at=max((moment for moment in restarts if moment is not None), default=None),
        node=text(pod, "spec", "nodeName"),
        ip=text(pod, "status", "podIP"),
        created_at=created,
        age=age(created, now),
        owner=Owner(kind=owner.kind, name=owner.name) if owner else None,
        labels=string_map(pod, "metadata", "labels"),
        containers=containers,
    )


def pod_status(pod: JsonObj) -> str:
    """The STATUS column of `kubectl get pods`."""
    reason = text(pod, "status", "reason") or text(pod, "status", "phase") or "Unknown"
    init_specs = items(pod, "spec", "initContainers")
    initializing = False
    for index, status in enumerate(items(pod, "status", "initContainerStatuses")):
        terminated, waiting = mapping(status, "state", "terminated"), mapping(status, "state", "waiting")
        if terminated and integer(terminated, "exitCode") == 0:
            continue
        if terminated:
            reason = "Init:" + (text(terminated, "reason") or _exit_text(terminated))
        elif text(waiting, "reason") not in (None, "PodInitializing"):
            reason = f"Init:{text(waiting, 'reason')}"
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break
    if not initializing:
        running_and_ready = False
        for status in reversed(items(pod, "status", "containerStatuses")):
            terminated, waiting = mapping(status, "state", "terminated"), mapping(status, "state", "waiting")
            if text(waiting, "reason"):
                reason = text(waiting, "reason") or reason
            elif terminated:
                reason = text(terminated, "reason") or _exit_text(terminated)
            elif mapping(status, "state", "running") and status.get("ready") is True:
                running_and_ready = True
        if reason == "Completed" and running_and_ready:
            ready = condition(pod, "Ready")
            reason = "Running" if ready is not None and ready.get("status") == "True" else "NotReady"
    if path(pod, "metadata", "deletionTimestamp"):
        reason = "Unknown" if text(pod, "status", "reason") == "NodeLost" else "Terminating"
    return reason


def _exit_text(terminated: JsonObj) -> str:
    signal = integer(terminated, "signal")
    return f"Signal:{signal}" if signal else f"ExitCode:{integer(terminated, 'exitCode')}"


def _container(spec: JsonObj, pod: JsonObj, *, init: bool) -> Container:
    name = text(spec, "name") or ""
    field = "initContainerStatuses" if init else "containerStatuses"
    status = next((entry for entry in items(pod, "status", field) if entry.get("name") == name), {})
    state_name, state = next(
        (
            (key, mapping(status, "state", key))
            for key in ("running", "waiting", "terminated")
            if path(status, "state", key)
        ),
        ("waiting", {}),
    )
    last = mapping(status, "lastState", "terminated")
    resources = mapping(spec, "resources")
    return Container(
        name=name,
        image=text(status, "image") or text(spec, "image") or "",
        init=init,
        ready=status.get("ready") is True,
        restarts=integer(status, "restartCount"),
        state=state_name,
        reason=text(state, "reason"),
        message=text(state, "message"),
        started_at=time_at(state, "startedAt"),
        last_termination=_termination(last) if last else None,
        resources=Resources(limits=string_map(resources, "limits"), requests=string_map(resources, "requests")),
    )


def _termination(terminated: JsonObj) -> Termination:
    return Termination(
        reason=text(terminated, "reason"),
        exit_code=terminated.get("exitCode") if isinstance(terminated.get("exitCode"), int) else None,
        signal=terminated.get("signal") if isinstance(terminated.get("signal"), int) else None,
        message=text(terminated, "message"),
        started_at=time_at(terminated, "startedAt"),
        finished_at=time_at(terminated, "finishedAt"),
    )


def conditions_of(obj: JsonObj) -> list[Condition]:
    return [
        Condition(
            type=text(cond, "type") or "",
            status=text(cond, "status") or "Unknown",
            reason=text(cond, "reason"),
            message=text(cond, "message"),
            last_transition_time=time_at(cond, "lastTransitionTime"),
        )
        for cond in items(obj, "status", "conditions")
    ]


def event_view(event: JsonObj) -> Event:
    record = EventRecord.from_object(event)
    return Event(
        type=record.type,
        reason=record.reason,
        message=record.message,
        object=f"{record.kind}/{record.name}",
        namespace=record.namespace,
        count=record.count,
        first_seen=record.first,
        last_seen=record.last,
    )


def newest_first(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda event: event.last_seen or event.first_seen or _EPOCH, reverse=True)


def age(created: datetime | None, now: datetime) -> str:
    """kubectl's AGE: precise when recent, coarser as it grows (`45s`, `7m30s`, `3h12m`, `5d`, `2y30d`)."""
    if created is None:
        return ""
    seconds = max(int((now - created) / timedelta(seconds=1)), 0)
    minutes, hours = seconds // 60, seconds // 3600
    days = hours // 24
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return _two_units(minutes, "m", seconds % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return _two_units(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return _two_units(days, "d", hours % 24, "h")
    if days < 730:
        return f"{days}d"
    if days < 365 * 8:
        return _two_units(days // 365, "y", days % 365, "d")
    return f"{days // 365}y"


def _two_units(major: int, major_unit: str, minor: int, minor_unit: str) -> str:
    return f"{major}{major_unit}{minor}{minor_unit}" if minor else f"{major}{major_unit}"
