"""Rendering the kustomize base with Debian's kubectl, shared by the deploy tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CORDON_COMPONENT = DEPLOY / "components" / "cordon-nodes"

Manifest = dict[str, Any]


def kustomize(directory: Path) -> list[Manifest]:
    """`kubectl kustomize DIR` as a list of objects; a render error fails with kubectl's own words."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        skip_or_fail("kubectl is not installed (Debian: apt-get install kubernetes-client)")
    assert kubectl is not None
    done = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"kubectl kustomize {directory} failed: {done.stderr.strip()}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc is not None]


def with_component(tmp_path: Path, component: Path) -> list[Manifest]:
    """The base plus one opt-in component, the way an overlay would add it (kustomize wants relative paths)."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(DEPLOY, overlay)],
        "components": [os.path.relpath(component, overlay)],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")
    return kustomize(overlay)


def named(objects: list[Manifest], kind: str, name: str, namespace: str | None = None) -> Manifest:
    found = [
        obj
        for obj in objects
        if obj["kind"] == kind
        and obj["metadata"]["name"] == name
        and (namespace is None or obj["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"expected one {kind} {name}, rendered {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def rendered() -> list[Manifest]:
    return kustomize(DEPLOY)
