"""Loads a world folder into memory, validated and moved to the present.

Every malformed file is reported as one line that names the world, the file and the problem,
because worlds are written by hand (and by people outside this repository) and a stack trace
from deep inside a YAML parser helps nobody.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sandbox.timeshift import TimeShift
from sandbox.world_models import Changes, Endpoints, Expectations, WorldMeta

BUNDLED_WORLDS = Path(os.environ.get("WHISPERER_WORLDS_DIR", Path(__file__).resolve().parents[1] / "worlds"))
DEFAULT_WORLD = "payment-outage"

_Model = TypeVar("_Model", bound=BaseModel)


class WorldError(Exception):
    """A world that cannot be used; the message is the one line shown to the user."""


@dataclass(frozen=True)
class ContainerLogs:
    current: str = ""
    previous: str | None = None


@dataclass
class World:
    root: Path
    meta: WorldMeta
    shift: TimeShift
    objects: list[dict[str, Any]]
    logs: dict[tuple[str, str, str], ContainerLogs]
    metrics_om: str | None
    rules: dict[str, Any] | None
    database_sql: str | None
    changes: Changes
    endpoints: Endpoints
    runbook_paths: list[Path]
    expectations: Expectations

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def now(self) -> datetime:
        return self.shift.now


def bundled_world_names() -> list[str]:
    if not BUNDLED_WORLDS.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_WORLDS.iterdir() if (p / "world.yaml").is_file())


def resolve_world(name_or_path: str | None) -> Path:
    """A bundled world's name or a path to a world folder, as the CLI's `--world` accepts."""
    candidate = Path(name_or_path or DEFAULT_WORLD)
    if (candidate / "world.yaml").is_file():
        return candidate.resolve()
    bundled = BUNDLED_WORLDS / candidate.name
    if candidate.name == str(candidate) and (bundled / "world.yaml").is_file():
        return bundled
    known = ", ".join(bundled_world_names()) or "none bundled"
    raise WorldError(f"unknown world {name_or_path!r}: no world.yaml there (bundled worlds: {known})")


def load_world(name_or_path: str | Path | None = None, *, now: datetime | None = None) -> World:
    root = resolve_world(str(name_or_path) if name_or_path is not None else None)
    label = f"world {root.name}"
    meta = _model(WorldMeta, _yaml_one(root / "world.yaml", label, required=True), f"{label}: world.yaml")
    shift = TimeShift(meta.recorded_at, now or datetime.now(UTC))
    return World(
        root=root,
        meta=meta,
        shift=shift,
        objects=[shift.tree(obj) for obj in _cluster_objects(root, label)],
        logs=_logs(root, shift),
        metrics_om=_metrics(root, label, shift),
        rules=_yaml_one(root / "rules.yaml", label),
        database_sql=_shifted(_text(root / "database.sql"), shift),
        changes=_file_model(Changes, root / "changes.yaml", label, shift),
        endpoints=_file_model(Endpoints, root / "endpoints.yaml", label, shift),
        runbook_paths=sorted((root / "runbooks").glob("*.md")),
        expectations=_file_model(Expectations, root / "expect.yaml", label),
    )


def _text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _shifted(text: str | None, shift: TimeShift) -> str | None:
    return shift.embedded(text) if text is not None else None


def _yaml_one(path: Path, label: str, *, required: bool = False) -> Any:
    text = _text(path)
    if text is None:
        if required:
            raise WorldError(f"{label}: {path.name} is missing")
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorldError(f"{label}: {path.name}: invalid YAML: {_yaml_problem(exc)}") from exc


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} at line {mark.line + 1}" if mark is not None else str(problem)


def _file_model(model: type[_Model], path: Path, label: str, shift: TimeShift | None = None) -> _Model:
    """An optional YAML file as a typed model; timestamps shifted when the file holds any."""
    data = _yaml_one(path, label)
    return _model(model, shift.tree(data) if shift else data, f"{label}: {path.name}")


def _model(model: type[_Model], data: Any, where: str) -> _Model:
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise WorldError(f"{where}: {field}: {error['msg']}") from exc


def _cluster_objects(root: Path, label: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted((root / "cluster").glob("*.y*ml")):
        where = f"{label}: cluster/{path.name}"
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            raise WorldError(f"{where}: invalid YAML: {_yaml_problem(exc)}") from exc
        for number, document in enumerate(documents, start=1):
            if document is None:
                continue
            items = document.get("items", []) if _is_list(document) else [document]
            for obj in items:
                _check_object(obj, f"{where} document {number}")
                objects.append(obj)
    return objects


def _is_list(document: Any) -> bool:
    return isinstance(document, dict) and str(document.get("kind", "")).endswith("List")


def _check_object(obj: Any, where: str) -> None:
    if not isinstance(obj, dict):
        raise WorldError(f"{where}: expected a Kubernetes object (a mapping), got {type(obj).__name__}")
    for key in ("apiVersion", "kind"):
        if not obj.get(key):
            raise WorldError(f"{where}: missing {key}")
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        raise WorldError(f"{where}: {obj['kind']} without metadata.name")


def _logs(root: Path, shift: TimeShift) -> dict[tuple[str, str, str], ContainerLogs]:
    found: dict[tuple[str, str, str], dict[str, str]] = {}
    logs_dir = root / "logs"
    for path in sorted(logs_dir.glob("*/*/*.log")):
        namespace, pod = path.parent.parent.name, path.parent.name
        previous = path.name.endswith(".previous.log")
        container = path.name.removesuffix(".previous.log" if previous else ".log")
        entry = found.setdefault((namespace, pod, container), {})
        entry["previous" if previous else "current"] = shift.embedded(path.read_text(encoding="utf-8"))
    return {
        key: ContainerLogs(current=parts.get("current", ""), previous=parts.get("previous"))
        for key, parts in found.items()
    }


def _metrics(root: Path, label: str, shift: TimeShift) -> str | None:
    text = _text(root / "metrics.om")
    if text is None:
        return None
    if text.rstrip().splitlines()[-1:] != ["# EOF"]:
        raise WorldError(f"{label}: metrics.om must end with '# EOF' (OpenMetrics)")
    return shift.openmetrics(text)
