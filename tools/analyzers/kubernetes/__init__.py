"""Deterministic Kubernetes analyzers: one pure function per kind, from API JSON to findings.

Use `ClusterSnapshot.from_objects(objects)` and `analyze_cluster(snapshot, now=...)`, or one
analyzer from `ANALYZERS` on one object with the snapshot that holds its related objects.
"""

from tools.analyzers.kubernetes.cluster import ANALYZERS, Analyzer, analyze_cluster
from tools.analyzers.kubernetes.fields import AnalyzerInputError
from tools.analyzers.kubernetes.snapshot import ClusterSnapshot, EndpointState

__all__ = ["ANALYZERS", "Analyzer", "AnalyzerInputError", "ClusterSnapshot", "EndpointState", "analyze_cluster"]
