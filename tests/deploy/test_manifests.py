"""The kustomize base renders, and what it renders is what `whisperer run` needs in a cluster."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from bot.config import load_config
from guardrails.secret_patterns import scrub_secrets
from tests.deploy.conftest import DEPLOY, ROOT, Manifest, named

STORE_URL = "postgresql://whisperer@db.example:5432/whisperer"


def test_every_rendered_object_has_api_version_kind_and_name(rendered: list[Manifest]) -> None:
    kinds = {obj["kind"] for obj in rendered}
    assert {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
    } <= kinds
    for obj in rendered:
        assert obj.get("apiVersion") and obj.get("kind"), obj
        assert obj.get("metadata", {}).get("name"), f"a {obj['kind']} without a name"


def test_the_configmaps_whisperer_yaml_loads_and_passes_config_check(rendered: list[Manifest], tmp_path: Path) -> None:
    configmap = next(obj for obj in rendered if obj["kind"] == "ConfigMap" and "whisperer.yaml" in obj["data"])
    path = tmp_path / "whisperer.yaml"
    path.write_text(configmap["data"]["whisperer.yaml"], encoding="utf-8")
    config = load_config(path, environ={"WHISPERER_STORE_URL": STORE_URL})
    assert config.store_url == STORE_URL
    assert config.kubernetes.clusters[0].in_cluster
    env = {**os.environ, "WHISPERER_STORE_URL": STORE_URL}
    check = subprocess.run(
        ["uv", "run", "whisperer", "config", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    assert "store postgresql" in check.stdout


def test_without_the_store_secret_the_config_says_what_is_missing(tmp_path: Path) -> None:
    environ = {key: value for key, value in os.environ.items() if key != "WHISPERER_STORE_URL"}
    check = subprocess.run(
        ["uv", "run", "whisperer", "config", "check", "--config", str(DEPLOY / "whisperer.yaml")],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        timeout=120,
    )
    assert check.returncode == 2
    assert "store.url: environment variable WHISPERER_STORE_URL is not set" in check.stderr


def test_the_deployment_runs_hardened_with_tokens_from_the_secret(rendered: list[Manifest]) -> None:
    deployment = named(rendered, "Deployment", "whisperer", "whisperer")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert spec["replicas"] >= 2
    assert pod["serviceAccountName"] == "whisperer"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    secret_env = {
        item["name"]: item["valueFrom"]["secretKeyRef"]["name"]
        for item in container["env"]
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "WHISPERER_STORE_URL"} <= set(secret_env)
    assert set(secret_env.values()) == {"whisperer-tokens"}
    assert all("value" not in item for item in container["env"] if item["name"] in secret_env)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    port = {p["name"]: p["containerPort"] for p in container["ports"]}[container["readinessProbe"]["httpGet"]["port"]]
    assert port == 9100
    assert container["resources"]["requests"] and container["resources"]["limits"]


def test_the_config_file_and_the_write_kubeconfig_are_mounted_where_the_config_points(
    rendered: list[Manifest],
) -> None:
    deployment = named(rendered, "Deployment", "whisperer", "whisperer")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    configmaps = {obj["metadata"]["name"]: obj for obj in rendered if obj["kind"] == "ConfigMap"}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}

    def mounted(file: str) -> str:
        """The content the pod sees at `file`, from whichever ConfigMap is mounted over its directory."""
        mount = next(m for m in container["volumeMounts"] if file.startswith(m["mountPath"] + "/"))
        configmap = configmaps[volumes[mount["name"]]["configMap"]["name"]]
        return str(configmap["data"][file.removeprefix(mount["mountPath"] + "/")])

    text = mounted(str(env["WHISPERER_CONFIG"]))
    assert "write_kubeconfig: /etc/whisperer/remediator/kubeconfig" in text
    assert "tokenFile: /var/run/secrets/whisperer-remediator/token" in mounted("/etc/whisperer/remediator/kubeconfig")
    token = next(m for m in container["volumeMounts"] if m["mountPath"] == "/var/run/secrets/whisperer-remediator")
    assert volumes[token["name"]]["secret"]["secretName"] == "whisperer-remediator-token"


def test_no_secret_values_are_committed(rendered: list[Manifest]) -> None:
    """Values land in Secret data, ConfigMap data and env values: none of them may hold a credential."""
    secrets = [obj for obj in rendered if obj["kind"] == "Secret"]
    assert all(not obj.get("data") and not obj.get("stringData") for obj in secrets)
    values = [str(value) for obj in rendered if obj["kind"] == "ConfigMap" for value in obj["data"].values()]
    deployment = named(rendered, "Deployment", "whisperer", "whisperer")
    values += [
        str(item["value"])
        for c in deployment["spec"]["template"]["spec"]["containers"]
        for item in c["env"]
        if "value" in item
    ]
    assert values
    for value in values:
        assert not scrub_secrets(value)[1], f"secret-shaped value committed: {value[:40]}"


def test_network_policy_admits_only_metrics_and_the_pdb_keeps_one_replica(rendered: list[Manifest]) -> None:
    policy = named(rendered, "NetworkPolicy", "whisperer", "whisperer")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ingress_ports = {port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]}
    assert ingress_ports == {9100}
    egress_ports = {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}
    assert {53, 443, 5432, 9090} <= egress_ports
    pdb = named(rendered, "PodDisruptionBudget", "whisperer", "whisperer")
    deployment = named(rendered, "Deployment", "whisperer", "whisperer")
    assert (
        pdb["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    assert 0 < pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]


def test_the_probes_and_scrapes_reach_the_configured_metrics_port() -> None:
    config = yaml.safe_load((DEPLOY / "whisperer.yaml").read_text())
    assert config["metrics"] == {"host": "0.0.0.0", "port": 9100}
