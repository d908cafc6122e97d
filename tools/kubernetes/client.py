"""One Kubernetes API connection for the tool servers: the official client, raw API JSON out.

The servers hand objects to the analyzers, which read the API's own JSON; decoding into the
client's model classes and back would cost time and lose fields, so requests go through the
client's ApiClient (its configuration, TLS, credentials and token refresh) and come back as
JSON. The ApiClient is blocking and built once per backend: every call runs in a worker thread,
and the kubeconfig is read once, not per call.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client as kube_client
from kubernetes import config as kube_config
from kubernetes.config.config_exception import ConfigException

from guardrails.secret_patterns import scrub_secrets
from tools.health import Health
from tools.tool_errors import ToolFailure

JsonObj = dict[str, Any]

STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
_TIMEOUT = (5.0, 30.0)
"""Connect and read timeouts: a slow API server must fail a tool call, not hang the answer."""
_RETRIES = 1
_OBJECT_REPR = re.compile(r"<[^<>]*object at 0x[0-9a-f]+>:?\s*")


@dataclass(frozen=True)
class KubeKind:
    """Where one kind lives in the API; enough to build its URLs."""

    kind: str
    group_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        root = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        scope = f"/namespaces/{quote(namespace, safe='')}" if self.namespaced and namespace else ""
        tail = f"/{quote(name, safe='')}" if name else ""
        return f"{root}{scope}/{self.plural}{tail}" + (f"/{subresource}" if subresource else "")


KINDS: dict[str, KubeKind] = {
    kind.kind: kind
    for kind in (
        KubeKind("Pod", "v1", "pods"),
        KubeKind("Service", "v1", "services"),
        KubeKind("Endpoints", "v1", "endpoints"),
        KubeKind("Secret", "v1", "secrets"),
        KubeKind("ConfigMap", "v1", "configmaps"),
        KubeKind("PersistentVolumeClaim", "v1", "persistentvolumeclaims"),
        KubeKind("Event", "v1", "events"),
        KubeKind("Node", "v1", "nodes", namespaced=False),
        KubeKind("Namespace", "v1", "namespaces", namespaced=False),
        KubeKind("Deployment", "apps/v1", "deployments"),
        KubeKind("ReplicaSet", "apps/v1", "replicasets"),
        KubeKind("StatefulSet", "apps/v1", "statefulsets"),
        KubeKind("DaemonSet", "apps/v1", "daemonsets"),
        KubeKind("Job", "batch/v1", "jobs"),
        KubeKind("CronJob", "batch/v1", "cronjobs"),
        KubeKind("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers"),
        KubeKind("Ingress", "networking.k8s.io/v1", "ingresses"),
    )
}


class KubeError(ToolFailure):
    """A failed API call; a tool that lets it escape answers with its one line (never a traceback)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def not_served(self) -> bool:
        """The server has no such resource (404 on a collection) or may not show it to us (403)."""
        return self.status in (403, 404)


class KubeUnreachable(KubeError):
    """No answer from the API server at all (refused, timed out, TLS failure)."""


class KubeBackend:
    """The API server one tool server talks to, with the identity its kubeconfig (or pod) gives."""

    def __init__(self, api_client: kube_client.ApiClient, *, source: str = "kubernetes") -> None:
        self._api = api_client
        self.source = source

    @classmethod
    def from_kubeconfig(cls, path: str, context: str | None = None) -> KubeBackend:
        configuration = kube_client.Configuration()
        try:
            kube_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context, client_configuration=configuration
            )
        except (ConfigException, OSError, ValueError) as exc:
            raise KubeError(f"cannot load kubeconfig {path}: {_one_line(str(exc))}") from None
        return cls(_api_client(configuration))

    @classmethod
    def in_cluster(cls) -> KubeBackend:
        configuration = kube_client.Configuration()
        try:
            kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except ConfigException as exc:
            raise KubeError(f"not running in a cluster: {_one_line(str(exc))}") from None
        return cls(_api_client(configuration))

    @property
    def host(self) -> str:
        return str(self._api.configuration.host)

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]

    async def version(self) -> tuple[JsonObj, float]:
        """The server's /version and how long it took to answer, in milliseconds."""
        started = time.perf_counter()
        answer = await self.request("GET", "/version")
        return answer, (time.perf_counter() - started) * 1000

    async def list_objects(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[JsonObj]:
        """Objects of one kind (all namespaces when `namespace` is None), each with its `kind` set."""
        query = [("labelSelector", label_selector), ("fieldSelector", field_selector)]
        listed = await self.request("GET", KINDS[kind].path(namespace), query=query)
        return [{**item, "kind": item.get("kind") or kind} for item in listed.get("items") or []]

    async def get(self, kind: str, namespace: str | None, name: str) -> JsonObj:
        found = await self.request("GET", KINDS[kind].path(namespace, name))
        return {**found, "kind": found.get("kind") or kind}

    async def log(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        previous: bool = False,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
    ) -> str:
        """The log text with anything shaped like a credential scrubbed: it goes into prompts and threads."""
        query = [
            ("container", container),
            ("previous", "true" if previous else None),
            ("tailLines", tail_lines),
            ("sinceSeconds", since_seconds),
        ]
        text = await self.request("GET", KINDS["Pod"].path(namespace, pod, "log"), query=query, raw=True)
        return scrub_secrets(str(text))[0]

    async def patch(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        body: JsonObj | list[JsonObj],
        *,
        dry_run: bool,
        subresource: str | None = None,
        content_type: str = STRATEGIC_MERGE_PATCH,
    ) -> JsonObj:
        query = [("dryRun", "All" if dry_run else None)]
        path = KINDS[kind].path(namespace, name, subresource)
        patched: JsonObj = await self.request("PATCH", path, query=query, body=body, content_type=content_type)
        return patched

    async def delete(self, kind: str, namespace: str | None, name: str, *, dry_run: bool) -> JsonObj:
        query = [("dryRun", "All" if dry_run else None)]
        deleted: JsonObj = await self.request("DELETE", KINDS[kind].path(namespace, name), query=query)
        return deleted

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Iterable[tuple[str, Any]] = (),
        body: JsonObj | list[JsonObj] | None = None,
        content_type: str | None = None,
        raw: bool = False,
    ) -> Any:
        """One API call in a worker thread: parsed JSON, or the body's text when `raw`."""
        return await asyncio.to_thread(self._call, method, path, query, body, content_type, raw)

    def _call(
        self,
        method: str,
        path: str,
        query: Iterable[tuple[str, Any]],
        body: JsonObj | list[JsonObj] | None,
        content_type: str | None,
        raw: bool,
    ) -> Any:
        headers = {"Accept": "*/*" if raw else "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        params = [(key, value) for key, value in query if value is not None]
        serialized = self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=params,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self._api.call_api(*serialized, _request_timeout=_TIMEOUT)
            data: bytes = response.read()  # type: ignore[no-untyped-call]
        except (urllib3.exceptions.HTTPError, OSError, kube_client.ApiException) as exc:
            raise KubeUnreachable(f"Kubernetes API {self.host} unreachable: {_reason(exc)}") from None
        if not 200 <= response.status <= 299:
            raise KubeError(_status_message(response.status, data, path), response.status)
        text = data.decode("utf-8", errors="replace")
        if raw:
            return text
        try:
            return json.loads(text) if text.strip() else {}
        except ValueError:
            raise KubeError(f"Kubernetes API {self.host} answered {path} with something that is not JSON") from None


def _api_client(configuration: kube_client.Configuration) -> kube_client.ApiClient:
    configuration.retries = _RETRIES
    return kube_client.ApiClient(configuration)


def _status_message(status: int, data: bytes, path: str) -> str:
    """The API's own Status message (`pods "x" not found`), else the HTTP status."""
    try:
        document = json.loads(data)
    except ValueError:
        document = None
    if isinstance(document, Mapping) and isinstance(document.get("message"), str) and document["message"]:
        return _one_line(document["message"])
    return f"HTTP {status} from the Kubernetes API for {path}"


def _reason(exc: BaseException) -> str:
    """What went wrong, without urllib3's object reprs (the client reports TLS failures as status-0 ApiExceptions)."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return _one_line(reason.replace("\n", ": "))
    cause = reason if isinstance(reason, BaseException) else exc
    return _one_line(_OBJECT_REPR.sub("", str(cause))) or type(cause).__name__


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line[:300]


async def api_health(backend: KubeBackend, source: str) -> Health:
    """Whether the API server answers this backend's identity: the read and the write server ask alike."""
    try:
        version, latency = await backend.version()
    except KubeError as exc:
        return Health(source=source, ok=False, detail=str(exc))
    detail = f"Kubernetes {version.get('gitVersion', '?')} at {backend.host}"
    return Health(source=source, ok=True, detail=detail, latency_ms=round(latency, 1))
