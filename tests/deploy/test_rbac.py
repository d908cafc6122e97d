"""The two identities' RBAC against what the code really calls.

The remediator's permissions are derived, not listed: every action of the catalog runs (as a
server-side dry run) against the sandbox's Kubernetes API with a backend that records each request,
and the recorded calls, turned into RBAC (apiGroup, resource, verb) triples, must be exactly what the
base grants. A new API call in tools/kubernetes/actions.py without a matching rule fails here, and so
does a rule no action needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agents.remediation.executor import SPECS
from bot.config import Config, build_config, read_config_file
from guardrails.policy_config import PolicyConfig
from sandbox.kube_api import KubeApiServer
from sandbox.world import load_world
from tests.deploy.conftest import CORDON_COMPONENT, Manifest, named, with_component
from tools.kubernetes import actions
from tools.kubernetes.client import KINDS, KubeBackend

Permission = tuple[str, str, str]
"""(apiGroup, resource[/subresource], verb), the way an RBAC rule spells them."""

READ_VERBS = {"get", "list", "watch"}
DANGEROUS_VERBS = {"*", "escalate", "bind", "impersonate"}
REMEDIATOR = ("ServiceAccount", "whisperer-remediator", "whisperer")
INVESTIGATOR = ("ServiceAccount", "whisperer", "whisperer")


class RecordingBackend(KubeBackend):
    """A real backend that also notes every request it makes."""

    def __init__(self, api_client: Any, *, source: str = "kubernetes") -> None:
        super().__init__(api_client, source=source)
        self.calls: list[tuple[str, str]] = []

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.calls.append((method, path))
        return await super().request(method, path, **kwargs)


def permission(method: str, path: str) -> Permission:
    """/apis/apps/v1/namespaces/shop/deployments/api/scale + PATCH -> (apps, deployments/scale, patch)."""
    parts = path.strip("/").split("/")
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    resource, name, subresource = rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
    verb = {"GET": "get" if name else "list", "PATCH": "patch", "DELETE": "delete", "PUT": "update"}[method]
    return group, f"{resource}/{subresource}" if subresource else resource, verb


def test_permission_reads_rbac_terms_from_api_paths() -> None:
    assert permission("PATCH", "/apis/apps/v1/namespaces/shop/deployments/api/scale") == (
        "apps",
        "deployments/scale",
        "patch",
    )
    assert permission("GET", "/apis/apps/v1/namespaces/shop/replicasets") == ("apps", "replicasets", "list")
    assert permission("DELETE", "/api/v1/namespaces/shop/pods/p-1") == ("", "pods", "delete")
    assert permission("PATCH", "/api/v1/nodes/node-1") == ("", "nodes", "patch")


def granted(rules: Iterable[dict[str, Any]]) -> set[Permission]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def bound_rules(
    objects: list[Manifest], subject: tuple[str, str, str], binding_kind: str
) -> dict[str, set[Permission]]:
    """Permissions granted to `subject` through bindings of `binding_kind`, by the binding's namespace."""
    result: dict[str, set[Permission]] = {}
    for binding in (obj for obj in objects if obj["kind"] == binding_kind):
        subjects = {(s["kind"], s["name"], s.get("namespace")) for s in binding.get("subjects", [])}
        if subject not in subjects:
            continue
        where = binding["metadata"].get("namespace", "")
        ref = binding["roleRef"]
        role = named(objects, ref["kind"], ref["name"], where if ref["kind"] == "Role" else None)
        result.setdefault(where, set()).update(granted(role.get("rules", [])))
    return result


def deployed_config(objects: list[Manifest], tmp_path: Path) -> Config:
    """The whisperer.yaml the ConfigMap carries, validated as `whisperer run` would (store URL set)."""
    configmap = next(obj for obj in objects if obj["kind"] == "ConfigMap" and "whisperer.yaml" in obj.get("data", {}))
    path = tmp_path / "whisperer.yaml"
    path.write_text(configmap["data"]["whisperer.yaml"], encoding="utf-8")
    environ = {"WHISPERER_STORE_URL": "postgresql://whisperer@db.example:5432/whisperer"}
    return build_config(read_config_file(path), source=str(path), environ=environ)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def recorded_needs(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, set[Permission]]]:
    """action -> the permissions it used, from a dry run of each action on the payment-outage world."""
    server = KubeApiServer(load_world("payment-outage"))
    await server.start()
    kubeconfig = server.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")
    recorder = RecordingBackend.from_kubeconfig(str(kubeconfig))
    assert isinstance(recorder, RecordingBackend)
    try:
        pod = (await recorder.list_objects("Pod", "shop"))[0]
        targets = {"Deployment": "payment-service", "Pod": pod["metadata"]["name"], "Node": pod["spec"]["nodeName"]}
        needs: dict[str, set[Permission]] = {}
        for action, spec in SPECS.items():
            recorder.calls.clear()
            arguments: dict[str, Any] = {"dry_run": True}
            if "replicas" in spec.required:
                arguments["replicas"] = 4
            where = ("shop",) if spec.namespaced else ()
            result = await getattr(actions, action)(recorder, *where, targets[spec.kind], **arguments)
            assert result.ok, f"{action} dry run failed on the sandbox: {result.message}"
            needs[action] = {permission(method, path) for method, path in recorder.calls}
        yield needs
    finally:
        recorder.close()
        await server.stop()


def needed(needs: dict[str, set[Permission]], catalog: Iterable[str]) -> set[Permission]:
    missing = sorted(set(catalog) - set(needs))
    assert not missing, f"no executor spec runs {missing}: the catalog offers actions nothing can execute"
    return set().union(*(needs[action] for action in catalog))


def namespaced(permissions: set[Permission]) -> set[Permission]:
    cluster_scoped = {kind.plural for kind in KINDS.values() if not kind.namespaced}
    return {p for p in permissions if p[1].split("/")[0] not in cluster_scoped}


def test_the_remediator_role_grants_exactly_what_the_configured_catalog_calls(
    rendered: list[Manifest], recorded_needs: dict[str, set[Permission]], tmp_path: Path
) -> None:
    config = deployed_config(rendered, tmp_path)
    catalog = set(config.policy.actions)
    want = needed(recorded_needs, catalog)
    assert want == namespaced(want), "the base catalog needs a cluster-scoped write; it belongs in a component"
    by_namespace = bound_rules(rendered, REMEDIATOR, "RoleBinding")
    acting = {namespace for binding in config.channels for namespace in binding.namespaces}
    assert set(by_namespace) == acting, "the remediator must be bound in exactly the channel-bound namespaces"
    for namespace, grants in by_namespace.items():
        assert grants == want, f"{namespace}: missing {sorted(want - grants)}, beyond need {sorted(grants - want)}"
    assert not bound_rules(rendered, REMEDIATOR, "ClusterRoleBinding"), "the base gives the remediator no cluster role"


def test_the_cordon_component_completes_the_default_catalog_and_adds_nothing_else(
    rendered: list[Manifest], recorded_needs: dict[str, set[Permission]], tmp_path: Path
) -> None:
    default_catalog = set(PolicyConfig().actions)
    want = needed(recorded_needs, default_catalog)
    objects = with_component(tmp_path, CORDON_COMPONENT)
    namespace_grants = set().union(*bound_rules(objects, REMEDIATOR, "RoleBinding").values())
    cluster_grants = set().union(*bound_rules(objects, REMEDIATOR, "ClusterRoleBinding").values())
    assert cluster_grants == want - namespaced(want)
    assert namespace_grants | cluster_grants == want


def test_no_role_grants_wildcards_secrets_writes_or_escalation(rendered: list[Manifest], tmp_path: Path) -> None:
    roles = [obj for obj in rendered if obj["kind"] in {"Role", "ClusterRole"}]
    roles += [obj for obj in with_component(tmp_path, CORDON_COMPONENT) if obj["kind"] == "ClusterRole"]
    for role in roles:
        for group, resource, verb in granted(role.get("rules", [])):
            assert verb not in DANGEROUS_VERBS and "*" not in (group, resource), f"{role['metadata']['name']}: {verb}"
            if role["metadata"]["name"] != "whisperer-investigator":
                assert resource != "secrets", f"{role['metadata']['name']} may touch secrets"


def test_the_investigator_only_reads_and_reads_what_the_tools_read(rendered: list[Manifest]) -> None:
    grants = set().union(*bound_rules(rendered, INVESTIGATOR, "ClusterRoleBinding").values())
    assert not bound_rules(rendered, INVESTIGATOR, "RoleBinding")
    assert {verb for _, _, verb in grants} == READ_VERBS
    readable = {(kind.group_version.rpartition("/")[0], kind.plural) for kind in KINDS.values()} | {("", "pods/log")}
    assert {(group, resource) for group, resource, _ in grants} == readable
    assert all((group, resource, verb) in grants for group, resource in readable for verb in READ_VERBS)
