"""The Kubernetes write server: the remediation actions, and nothing a model may call on its own.

It is a separate server, built with the write identity's kubeconfig, because the read server's
tools are listed to the model: keeping writes off that list (rather than filtering it) means no
prompt can reach them. Only the approval flow opens a session here, after a person approved a
proposal, and it can try each action first with `dry_run=true` (a server-side dry run).

Run standalone: `python -m tools.kubernetes.actions_server --kubeconfig PATH [--transport http]`.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from tools.health import Health
from tools.kubernetes import actions
from tools.kubernetes.client import KubeBackend, api_health
from tools.kubernetes.models import ActionResult
from tools.kubernetes.standalone import kube_backend, kube_options
from tools.standalone import parse_args, serve_from_args, transport_options
from tools.tool_errors import one_line_errors

SOURCE = "kubernetes-actions"

Namespace = Annotated[str, Field(description="namespace of the object")]
DryRun = Annotated[bool, Field(description="validate on the API server (dryRun=All) without changing anything")]


def build_actions_server(backend: KubeBackend) -> MCPServer:
    server = MCPServer(
        "kubernetes-actions",
        instructions="Remediation writes on a Kubernetes cluster, for approved proposals only. "
        "Every tool takes dry_run; a dry run is checked by the API server but changes nothing.",
    )

    @server.tool(description="Whether the Kubernetes API server answers with the write identity.")
    async def health() -> Health:
        return await api_health(backend, SOURCE)

    @server.tool(
        description="Restart a deployment like `kubectl rollout restart`: every pod is replaced by a new one, "
        "following the deployment's rolling-update strategy."
    )
    @one_line_errors
    async def restart_deployment(
        namespace: Namespace, name: Annotated[str, Field(description="deployment name")], dry_run: DryRun = False
    ) -> ActionResult:
        return await actions.restart_deployment(backend, namespace, name, dry_run=dry_run)

    @server.tool(description="Scale a deployment to a number of replicas, like `kubectl scale`.")
    @one_line_errors
    async def scale_deployment(
        namespace: Namespace,
        name: Annotated[str, Field(description="deployment name")],
        replicas: Annotated[int, Field(ge=0, description="desired number of pods")],
        dry_run: DryRun = False,
    ) -> ActionResult:
        return await actions.scale_deployment(backend, namespace, name, replicas, dry_run=dry_run)

    @server.tool(
        description="Roll a deployment back like `kubectl rollout undo`: to the previous revision, or to "
        "`to_revision`. The message names both revisions and their images."
    )
    @one_line_errors
    async def rollback_deployment(
        namespace: Namespace,
        name: Annotated[str, Field(description="deployment name")],
        dry_run: DryRun = False,
        to_revision: Annotated[int | None, Field(ge=1, description="default: the previous revision")] = None,
    ) -> ActionResult:
        return await actions.rollback_deployment(backend, namespace, name, dry_run=dry_run, to_revision=to_revision)

    @server.tool(description="Delete one pod; its controller (if any) creates a replacement.")
    @one_line_errors
    async def delete_pod(
        namespace: Namespace, name: Annotated[str, Field(description="pod name")], dry_run: DryRun = False
    ) -> ActionResult:
        return await actions.delete_pod(backend, namespace, name, dry_run=dry_run)

    @server.tool(description="Cordon a node like `kubectl cordon`: no new pods are scheduled there.")
    @one_line_errors
    async def cordon_node(
        name: Annotated[str, Field(description="node name")], dry_run: DryRun = False
    ) -> ActionResult:
        return await actions.cordon_node(backend, name, dry_run=dry_run)

    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, parents=[kube_options(), transport_options()])
    args = parse_args(parser, argv)
    asyncio.run(serve_from_args(build_actions_server(kube_backend(args)), args))


if __name__ == "__main__":
    main()
