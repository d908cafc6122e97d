"""A Kubernetes API server over a world, for the official client and kubectl, unchanged.

There is no real cluster to be had on the machines this runs on, and production code must not
know it is talking to a stand-in: it gets a kubeconfig and uses the official client. So this
speaks the API's own HTTPS: legacy discovery (kubectl falls back to it when aggregated discovery
is not offered), lists and gets with label and field selectors, server-side Tables for kubectl's
columns, pod logs, Status objects for every failure, bearer-token authentication, and the few
writes remediation needs. Writes the sandbox's user may not make are refused the way RBAC
refuses them (403), so a bug that tries one shows up as it would in production.

TLS is not decoration: kubectl sends a kubeconfig's credentials over TLS only, so over plain
HTTP it would arrive unauthenticated. Each server makes its own throwaway CA, which the
kubeconfig it writes carries.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import ssl
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from aiohttp import web

from sandbox.certificates import pem, root_authority, server_certificate
from sandbox.kube_objects import APPLY_PATCH, PATCH_TYPES, LogRequest
from sandbox.kube_resources import (
    ALL_VERBS,
    JsonObj,
    KubeStatusError,
    LabelPredicate,
    ObjectPredicate,
    ResourceType,
    bad_request,
    convert,
    forbidden,
    method_not_allowed,
    parse_field_selector,
    parse_label_selector,
    path_not_found,
    table_for,
    unauthorized,
    unsupported_media_type,
)
from sandbox.kube_state import Change, KubeState
from sandbox.lifecycle import SandboxService, listen
from sandbox.timeshift import parse_time
from sandbox.world import World

SANDBOX_USER = "infrawhisperer"
_DEFAULT_VERSION = "v1.32.4"
_JSON = "application/json"
_TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
_PARTIAL = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
_HEALTH_PATHS = ("/healthz", "/livez", "/readyz")
_MAX_WATCH_SECONDS = 1800

# The writes remediation makes; every other write is refused as the sandbox user's RBAC would.
_ALLOWED_WRITES = {
    ("patch", "deployments.apps", None),
    ("update", "deployments.apps", None),
    ("patch", "deployments.apps", "scale"),
    ("update", "deployments.apps", "scale"),
    ("delete", "pods", None),
    ("create", "pods", "eviction"),
    ("patch", "nodes", None),
}


class KubeApiServerError(Exception):
    """The server was used out of order (e.g. its URL asked for before `start`)."""


@dataclass(frozen=True)
class _Target:
    """What a resource URL names: a collection, an object, or one of its subresources."""

    resource: ResourceType
    version: str
    namespace: str | None
    name: str | None
    subresource: str | None


class KubeApiServer(SandboxService):
    """Serves one world's cluster at https://127.0.0.1:PORT until stopped."""

    def __init__(self, world: World, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.world = world
        self.state = KubeState(world)
        self.token = secrets.token_urlsafe(24)
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._watches: set[asyncio.Event] = set()
        self._closing = False
        self.ca_pem, self._cert_pem, self._key_pem = _certificates(host)

    @property
    def url(self) -> str:
        if self._url is None:
            raise KubeApiServerError("the Kubernetes API server is not started; call start() first")
        return self._url

    async def start(self) -> str:
        if self._url is not None:
            return self._url
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        app.on_response_prepare.append(_api_server_headers)
        self._runner, port = await listen(app, host=self._host, port=self._port, ssl_context=self._ssl_context())
        self._url = f"https://{self._host}:{port}"
        return self._url

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        # load_cert_chain reads files only; the key lives on disk just long enough to be loaded.
        with tempfile.TemporaryDirectory(prefix="whisperer-kube-") as directory:
            chain, key = Path(directory) / "server.pem", Path(directory) / "server.key"
            chain.write_bytes(self._cert_pem + self.ca_pem)
            key.write_bytes(self._key_pem)
            context.load_cert_chain(chain, key)
        return context

    async def stop(self) -> None:
        runner, self._runner, self._url = self._runner, None, None
        self._closing = True
        for wake in self._watches:
            wake.set()
        if runner is not None:
            await runner.cleanup()
        self._closing = False

    def write_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig with one cluster, one token user and one context named after the world, made current."""
        name = self.world.name
        ca_data = base64.b64encode(self.ca_pem).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": self.url, "certificate-authority-data": ca_data}}],
            "users": [{"name": SANDBOX_USER, "user": {"token": self.token}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": SANDBOX_USER}}],
            "current-context": name,
            "preferences": {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        path.chmod(0o600)
        return path

    # Request handling -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            if not secrets.compare_digest(request.headers.get("Authorization", ""), f"Bearer {self.token}"):
                raise unauthorized()
            return await self._route(request)
        except KubeStatusError as exc:
            return _json(exc.status(), status=exc.code)
        except Exception as exc:  # a bug here must reach the client as the API reports one, not as a hang
            failure = KubeStatusError(500, "InternalError", f"Internal error occurred: {type(exc).__name__}: {exc}")
            return _json(failure.status(), status=500)

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path in _HEALTH_PATHS:
            return web.Response(text="ok", content_type="text/plain")
        if request.method != "GET" and not path.startswith(("/api/", "/apis/")):
            raise method_not_allowed("the server does not allow this method on the requested resource")
        simple: dict[str, Callable[[], JsonObj]] = {
            "/version": self._version,
            "/api": self._core_versions,
            "/apis": self._group_list,
        }
        if path in simple:
            return _json(simple[path]())
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2:
            return _json(self._group(parts[1]))
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise path_not_found()
        if version not in self.state.catalog.group_versions().get(group, []):
            raise path_not_found()
        if not rest:
            return _json(self._resource_list(group, version))
        return await self._serve(request, self._target(group, version, rest))

    def _target(self, group: str, version: str, rest: list[str]) -> _Target:
        catalog = self.state.catalog
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            candidate = catalog.lookup(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        resource = catalog.lookup(group, version, rest[0])
        if resource is None or len(rest) > 3:
            raise path_not_found()
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if subresource is not None and resource.subresource(subresource) is None:
            raise path_not_found()
        if resource.namespaced and namespace is None and name is not None:
            raise path_not_found()
        return _Target(resource, version, namespace, name, subresource)

    async def _serve(self, request: web.Request, target: _Target) -> web.StreamResponse:
        if request.method == "GET":
            return await self._read(request, target)
        verb = {"PATCH": "patch", "PUT": "update", "DELETE": "delete", "POST": "create"}.get(request.method)
        if verb is None or (target.name is None and verb in ("patch", "update")):
            raise method_not_allowed("the server does not allow this method on the requested resource")
        if target.name is not None and target.subresource is None and verb == "create":
            raise method_not_allowed("the server does not allow this method on the requested resource")
        if target.name is None and verb == "delete":
            verb = "deletecollection"
        if (verb, target.resource.key, target.subresource) not in _ALLOWED_WRITES:
            raise forbidden(target.resource, verb, SANDBOX_USER, target.namespace, target.name, target.subresource)
        dry_run = _dry_run(request)
        body = await request.read()
        writers: dict[str, Callable[[web.Request, _Target, bytes, bool], Awaitable[web.StreamResponse]]] = {
            "patch": self._patch,
            "update": self._replace,
            "delete": self._delete,
            "create": self._evict,
        }
        return await writers[verb](request, target, body, dry_run)

    # Reads ----------------------------------------------------------------------------------

    async def _read(self, request: web.Request, target: _Target) -> web.StreamResponse:
        query = request.query
        state = self.state
        if target.subresource == "log":
            text = state.pod_log(target.namespace or "", target.name or "", _log_request(query))
            return web.Response(text=text, content_type="text/plain")
        if target.subresource == "scale":
            return _json(state.get_scale(target.namespace or "", target.name or ""), query)
        if target.subresource is not None and target.subresource != "status":
            raise method_not_allowed("the server does not allow this method on the requested resource")
        if target.name is not None:
            found = [state.get_object(target.resource, target.namespace, target.name)]
            return self._negotiated(request, target, found, single=True)
        labels = parse_label_selector(query["labelSelector"]) if query.get("labelSelector") else None
        fields = parse_field_selector(query["fieldSelector"], target.resource) if query.get("fieldSelector") else None
        if _bool_query(query, "watch"):
            return await self._watch(request, target, labels, fields)
        items = state.list_objects(target.resource, target.namespace, labels=labels, fields=fields)
        return self._negotiated(request, target, items, single=False)

    async def _watch(
        self, request: web.Request, target: _Target, labels: LabelPredicate | None, fields: ObjectPredicate | None
    ) -> web.StreamResponse:
        """A watch stream: the current objects as ADDED unless a resourceVersion is given, then every change."""
        query, state = request.query, self.state
        seconds = _int_query(query, "timeoutSeconds") if "timeoutSeconds" in query else _MAX_WATCH_SECONDS
        since = query.get("resourceVersion", "")
        table = _accepted(request.headers.get("Accept", _JSON)) == _TABLE
        wake = asyncio.Event()
        unsubscribe = state.subscribe(wake.set)
        self._watches.add(wake)
        response = web.StreamResponse(headers={"Content-Type": _TABLE if table else _JSON})
        try:
            await response.prepare(request)
            if since.isdigit() and since != "0":
                last = int(since)
            else:
                last = int(state.resource_version)
                for obj in state.list_objects(target.resource, target.namespace, labels=labels, fields=fields):
                    await response.write(self._watch_event(target, "ADDED", obj, table))
            deadline = asyncio.get_running_loop().time() + min(seconds, _MAX_WATCH_SECONDS)
            while not self._closing:
                changes = state.changes_since(last)
                wake.clear()
                if changes is None:
                    why = f"too old resource version: {last} ({state.resource_version})"
                    await response.write(
                        _line({"type": "ERROR", "object": KubeStatusError(410, "Expired", why).status()})
                    )
                    break
                for change in changes:
                    if _selected(change, target, labels, fields):
                        await response.write(self._watch_event(target, change.type, change.object, table))
                    last = change.revision
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), remaining)
        except ConnectionResetError:
            pass
        finally:
            unsubscribe()
            self._watches.discard(wake)
        return response

    def _watch_event(self, target: _Target, kind: str, obj: JsonObj, table: bool) -> bytes:
        if table:
            rv = obj["metadata"]["resourceVersion"]
            shown: JsonObj = table_for(target.resource, [obj], datetime.now(UTC), rv, [_partial(obj)])
        else:
            shown = self._view(target, obj)
        return _line({"type": kind, "object": shown})

    def _view(self, target: _Target, obj: JsonObj) -> JsonObj:
        """The object as this request's version shows it; a Secret's values never leave the sandbox."""
        obj = convert(obj, target.resource, target.version)
        if target.resource.kind == "Secret":
            obj = {key: value for key, value in obj.items() if key not in ("data", "stringData")}
        return obj

    def _negotiated(
        self, request: web.Request, target: _Target, stored: list[JsonObj], *, single: bool
    ) -> web.StreamResponse:
        """A Table when kubectl asks for one (its columns), metadata only when asked, else the objects."""
        media = _accepted(request.headers.get("Accept", _JSON))
        query = request.query
        rv = self.state.resource_version
        if media == _TABLE:
            include = query.get("includeObject", "PartialObjectMetadata")
            shown = [self._view(target, obj) if include == "Object" else _partial(obj) for obj in stored]
            table = table_for(target.resource, stored, datetime.now(UTC), rv, None if include == "None" else shown)
            return _json(table, query, content_type=_TABLE)
        if media == _PARTIAL:
            partial = [_partial(obj) for obj in stored]
            if single:
                return _json(partial[0], query)
            kind, api_version = "PartialObjectMetadataList", "meta.k8s.io/v1"
            return _json(
                {"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": rv}, "items": partial}
            )
        items = [self._view(target, obj) for obj in stored]
        if single:
            return _json(items[0], query)
        # The real API leaves kind and apiVersion out of list items; clients must not rely on them.
        listed = [{k: v for k, v in obj.items() if k not in ("kind", "apiVersion")} for obj in items]
        body = {
            "kind": f"{target.resource.kind}List",
            "apiVersion": target.resource.api_version(target.version),
            "metadata": {"resourceVersion": rv},
            "items": listed,
        }
        return _json(body, query)

    # Writes ---------------------------------------------------------------------------------

    async def _patch(self, request: web.Request, target: _Target, body: bytes, dry_run: bool) -> web.StreamResponse:
        media_type = request.content_type
        if media_type not in PATCH_TYPES:
            raise unsupported_media_type(PATCH_TYPES)
        if media_type == APPLY_PATCH and not request.query.get("fieldManager"):
            message = (
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
            )
            raise KubeStatusError(422, "Invalid", message)
        namespace, name = target.namespace or "", target.name or ""
        if target.subresource == "scale":
            return _json(self.state.patch_scale(namespace, name, media_type, body, dry_run=dry_run), request.query)
        patched = self.state.patch(target.resource, target.namespace, name, media_type, body, dry_run=dry_run)
        return _json(self._view(target, patched), request.query)

    async def _replace(self, request: web.Request, target: _Target, body: bytes, dry_run: bool) -> web.StreamResponse:
        # Like kube-apiserver, a body without a Content-Type is read as JSON (the Python client sends none on PUT).
        if "Content-Type" in request.headers and request.content_type != _JSON:
            raise unsupported_media_type([_JSON])
        document = _decode_object(body)
        namespace, name = target.namespace or "", target.name or ""
        if target.subresource == "scale":
            return _json(self.state.replace_scale(namespace, name, document, dry_run=dry_run), request.query)
        replaced = self.state.replace(target.resource, target.namespace, name, document, dry_run=dry_run)
        return _json(self._view(target, replaced), request.query)

    async def _delete(self, request: web.Request, target: _Target, body: bytes, dry_run: bool) -> web.StreamResponse:
        options = _decode_object(body) if body.strip() else {}
        if "gracePeriodSeconds" in request.query:
            options["gracePeriodSeconds"] = _int_query(request.query, "gracePeriodSeconds")
        deleted = self.state.delete_pod(target.namespace or "", target.name or "", dry_run=dry_run, options=options)
        return _json(self._view(target, deleted), request.query)

    async def _evict(self, request: web.Request, target: _Target, body: bytes, dry_run: bool) -> web.StreamResponse:
        eviction = _decode_object(body)
        named = (eviction.get("metadata") or {}).get("name")
        if named not in (None, target.name):
            raise bad_request(f"name in URL does not match name in Eviction object: {target.name} != {named}")
        options = eviction.get("deleteOptions") or {}
        self.state.delete_pod(target.namespace or "", target.name or "", dry_run=dry_run, options=options)
        success = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        return _json(success, status=201)

    # Discovery ------------------------------------------------------------------------------

    def _version(self) -> JsonObj:
        """The version the world's nodes run, as /version reports it."""
        kubelets = [n.get("status", {}).get("nodeInfo", {}).get("kubeletVersion") for n in self.state.objects("Node")]
        git_version = next((v for v in kubelets if v), _DEFAULT_VERSION)
        major, _, rest = git_version.lstrip("v").partition(".")
        minor = rest.partition(".")[0]
        return {
            "major": major,
            "minor": minor,
            "gitVersion": git_version,
            "gitCommit": "0" * 40,
            "gitTreeState": "clean",
            "buildDate": "2025-04-22T16:03:09Z",
            "goVersion": "go1.23.8",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    def _core_versions(self) -> JsonObj:
        address = self.url.removeprefix("https://")
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
        }

    def _group(self, name: str) -> JsonObj:
        versions = self.state.catalog.group_versions().get(name)
        if not name or versions is None:
            raise path_not_found()
        listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": listed, "preferredVersion": listed[0]}

    def _group_list(self) -> JsonObj:
        groups = [self._group(name) for name in self.state.catalog.group_versions() if name]
        for group in groups:
            del group["kind"], group["apiVersion"]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _resource_list(self, group: str, version: str) -> JsonObj:
        resources: list[JsonObj] = []
        for resource in self.state.catalog.in_group_version(group, version):
            entry: JsonObj = {
                "name": resource.plural,
                "singularName": resource.kind.lower(),
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": list(ALL_VERBS),
            }
            if resource.short_names:
                entry["shortNames"] = list(resource.short_names)
            if resource.categories:
                entry["categories"] = list(resource.categories)
            resources.append(entry)
            for sub in resource.subresources:
                sub_entry: JsonObj = {"name": f"{resource.plural}/{sub.name}", "singularName": ""}
                sub_entry["namespaced"] = resource.namespaced
                if sub.group is not None:
                    sub_entry.update(group=sub.group, version=sub.version)
                sub_entry.update(kind=sub.kind or resource.kind, verbs=list(sub.verbs))
                resources.append(sub_entry)
        group_version = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


# Helpers ----------------------------------------------------------------------------------


def _certificates(host: str) -> tuple[bytes, bytes, bytes]:
    """A throwaway cluster CA and a serving certificate for `host` (PEM: CA, certificate, key)."""
    now = datetime.now(UTC)
    ca = root_authority("kubernetes", now - timedelta(days=1), now + timedelta(days=3650))
    serving = server_certificate(
        ca,
        common_name="kube-apiserver",
        hosts=["localhost", "kubernetes", "kubernetes.default.svc", host],
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=365),
    )
    return pem(ca.cert), pem(serving.cert), serving.key_pem


def _json(
    body: JsonObj, query: Mapping[str, str] | None = None, *, status: int = 200, content_type: str = _JSON
) -> web.Response:
    pretty = query is not None and query.get("pretty") in ("true", "1")
    text = json.dumps(body, indent=2 if pretty else None, separators=None if pretty else (",", ":"))
    return web.Response(body=(text + "\n").encode(), status=status, headers={"Content-Type": content_type})


def _accepted(accept: str) -> str | None:
    """The first media range of an Accept header this server can answer (kubectl asks for Tables first)."""
    for part in accept.split(","):
        media, *raw_params = (item.strip() for item in part.split(";"))
        params = dict(item.partition("=")[::2] for item in raw_params)
        if media not in (_JSON, "application/*", "*/*"):
            continue
        shape = params.get("as")
        if shape is None:
            return _JSON
        if params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            if shape == "Table":
                return _TABLE
            if shape in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return _PARTIAL
    raise KubeStatusError(406, "NotAcceptable", f"only the following media types are accepted: {_JSON}, {_TABLE}")


def _selected(change: Change, target: _Target, labels: LabelPredicate | None, fields: ObjectPredicate | None) -> bool:
    obj = change.object
    if change.resource != target.resource.key or target.namespace not in (None, obj["metadata"].get("namespace")):
        return False
    if labels is not None and not labels(obj["metadata"].get("labels") or {}):
        return False
    return fields is None or fields(obj)


async def _api_server_headers(_request: web.Request, response: web.StreamResponse) -> None:
    """The headers kube-apiserver sends (an audit id per request, no caching) and none it does not."""
    response.headers.pop("Server", None)
    response.headers["Audit-Id"] = str(uuid.uuid4())
    response.headers["Cache-Control"] = "no-cache, private"


def _line(event: JsonObj) -> bytes:
    return (json.dumps(event, separators=(",", ":")) + "\n").encode()


def _partial(obj: JsonObj) -> JsonObj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for value in values:
        if value not in ("All", ""):
            raise bad_request(f'Invalid value: "{value}": supported values: "All"')
    return "All" in values


def _decode_object(body: bytes) -> JsonObj:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise bad_request(f"the body of the request could not be decoded as JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise bad_request("the body of the request must be a JSON object")
    return document


def _int_query(query: Mapping[str, str], name: str) -> int:
    value = query[name]
    try:
        return int(value)
    except ValueError as exc:
        raise bad_request(f'{name}: Invalid value: "{value}": must be an integer') from exc


def _bool_query(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "false").lower() in ("true", "1")


def _log_request(query: Mapping[str, str]) -> LogRequest:
    since = None
    if "sinceSeconds" in query and "sinceTime" in query:
        raise bad_request("at most one of `sinceTime` or `sinceSeconds` may be specified")
    if "sinceSeconds" in query:
        seconds = _int_query(query, "sinceSeconds")
        if seconds < 1:
            raise bad_request("sinceSeconds: Invalid value: must be greater than 0")
        since = datetime.now(UTC) - timedelta(seconds=seconds)
    elif "sinceTime" in query:
        try:
            since = parse_time(query["sinceTime"])
        except ValueError as exc:
            raise bad_request(f'sinceTime: Invalid value: "{query["sinceTime"]}": not an RFC 3339 time') from exc
    return LogRequest(
        container=query.get("container") or None,
        previous=_bool_query(query, "previous"),
        tail_lines=_int_query(query, "tailLines") if "tailLines" in query else None,
        since=since,
        timestamps=_bool_query(query, "timestamps"),
        limit_bytes=_int_query(query, "limitBytes") if "limitBytes" in query else None,
    )
