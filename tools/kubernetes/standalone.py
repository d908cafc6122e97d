"""The command-line options both Kubernetes servers take when they run as their own process."""

from __future__ import annotations

import argparse

from tools.kubernetes.client import KubeBackend, KubeError


def kube_options() -> argparse.ArgumentParser:
    """A parent parser with --kubeconfig/--context or --in-cluster, for `ArgumentParser(parents=[...])`."""
    parser = argparse.ArgumentParser(add_help=False)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--kubeconfig", help="path of the kubeconfig whose identity the server uses")
    where.add_argument("--in-cluster", action="store_true", help="use the pod's service account")
    parser.add_argument("--context", help="kubeconfig context; default: its current context")
    return parser


def kube_backend(args: argparse.Namespace) -> KubeBackend:
    """The backend the options name; an unusable kubeconfig ends the process with its one-line reason."""
    try:
        if args.in_cluster:
            return KubeBackend.in_cluster()
        return KubeBackend.from_kubeconfig(args.kubeconfig, context=args.context)
    except KubeError as exc:
        raise SystemExit(f"error: {exc}") from None
