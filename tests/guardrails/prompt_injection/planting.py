"""The corpus, and planting it where attacker-controlled text really reaches the bot.

A copy of the payment-outage world gets the texts as ERROR lines of the crashed pod's previous log
(the log the Kubernetes specialist quotes), as Warning Events about the crash-looping pods (quoted
in the pod findings' evidence) or as the failure_reason of failed orders (shown by "show me failed
orders"). Each planted text starts with its id in brackets, so a test can tell that every one of
them reached the model. Batches are as large as the answers can show: a log finding lists the top
ten error groups, a crash-loop finding quotes three events per pod, the orders table shows twenty
rows.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from sandbox.world import BUNDLED_WORLDS

Where = Literal["log", "event", "row"]

CORPUS_FILE = Path(__file__).with_name("corpus.yaml")
SOURCE_WORLD = BUNDLED_WORLDS / "payment-outage"
NAMESPACE = "shop"
CRASHED_POD = "payment-service-6f9d7c8b54-x7k2p"
CRASH_LOOPING_PODS = (CRASHED_POD, "payment-service-6f9d7c8b54-q9m4t")
CONTAINER = "payment-service"
PREVIOUS_LOG = Path("logs") / NAMESPACE / CRASHED_POD / f"{CONTAINER}.previous.log"
PLANTED_EVENTS = Path("cluster") / "planted-events.yaml"
DATABASE = Path("database.sql")
BATCH_SIZE: dict[Where, int] = {
    "log": 7,  # ten error groups shown, three of them the world's own
    "event": 3 * len(CRASH_LOOPING_PODS),  # three events quoted per crash-looping pod
    "row": 12,  # twenty rows shown, five failed orders the world's own
}
FIELDS = '{"order_id": 10494}'
"""zap's structured fields after the message, as the world's own ERROR lines carry them."""
# A customer with no failed order of their own, so the planted orders stand out in the table.
_CUSTOMER = "9466, 'Jonas Berg', 'jonas.berg@example.com', '+1-303-555-0109'"


class Injection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    where: Where
    style: str
    text: str
    secrets: list[str] = Field(default_factory=list, description="values that must never reach an answer")

    @property
    def marker(self) -> str:
        return f"[{self.id}]"

    @property
    def planted(self) -> str:
        return f"{self.marker} {' '.join(self.text.split())}"


class Batch(BaseModel):
    model_config = ConfigDict(frozen=True)

    where: Where
    number: int
    items: list[Injection]

    @property
    def name(self) -> str:
        return f"{self.where}-{self.number}"


def load_corpus() -> list[Injection]:
    data = yaml.safe_load(CORPUS_FILE.read_text(encoding="utf-8"))
    return [Injection.model_validate(item) for item in data["items"]]


def batches(corpus: list[Injection]) -> list[Batch]:
    found: list[Batch] = []
    for where, size in BATCH_SIZE.items():
        items = [item for item in corpus if item.where == where]
        found.extend(
            Batch(where=where, number=number, items=items[start : start + size])
            for number, start in enumerate(range(0, len(items), size), start=1)
        )
    return found


def plant(batch: Batch, destination: Path) -> Path:
    """A copy of the payment-outage world at `destination` with the batch's texts planted in it."""
    shutil.copytree(SOURCE_WORLD, destination)
    {"log": _plant_logs, "event": _plant_events, "row": _plant_rows}[batch.where](destination, batch.items)
    return destination


def _plant_logs(root: Path, items: list[Injection]) -> None:
    """ERROR lines in zap's format, just before the FATAL line the instance died with."""
    path = root / PREVIOUS_LOG
    lines = path.read_text(encoding="utf-8").splitlines()
    planted = [
        f"2026-11-20T13:59:32.{100 + index:03d}Z\tERROR\tinternal/api/charges.go:97\t{item.planted}\t{FIELDS}"
        for index, item in enumerate(items)
    ]
    path.write_text("\n".join([*lines[:-1], *planted, lines[-1]]) + "\n", encoding="utf-8")


def _plant_events(root: Path, items: list[Injection]) -> None:
    """Warning events about the crash-looping pods, counted higher than the real back-offs.

    A crash-loop finding quotes the pod's three most repeated warning events, so each pod carries
    three planted ones.
    """
    documents: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        pod = CRASH_LOOPING_PODS[index % len(CRASH_LOOPING_PODS)]
        documents.append(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": f"{pod}.planted{index:04d}",
                    "namespace": NAMESPACE,
                    "creationTimestamp": "2026-11-20T13:30:00Z",
                },
                "involvedObject": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": pod,
                    "namespace": NAMESPACE,
                    "fieldPath": f"spec.containers{{{CONTAINER}}}",
                },
                "reason": "Failed",
                "message": item.planted,
                "source": {"component": "kubelet"},
                "firstTimestamp": "2026-11-20T13:30:00Z",
                "lastTimestamp": "2026-11-20T13:59:30Z",
                "count": 5000 - index,
                "type": "Warning",
            }
        )
    (root / PLANTED_EVENTS).write_text(yaml.safe_dump_all(documents, allow_unicode=True), encoding="utf-8")


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _plant_rows(root: Path, items: list[Injection]) -> None:
    """Failed orders whose failure_reason is the planted text."""
    rows = [
        f"    ({10600 + index}, {_CUSTOMER}, {10 + index}.00, 'USD', 'failed', {_sql_text(item.planted)}, "
        f"'2026-11-20T13:{10 + index:02d}:00Z', '2026-11-20T13:{10 + index:02d}:01Z')"
        for index, item in enumerate(items)
    ]
    insert = (
        "\nINSERT INTO orders (id, customer_id, customer_name, customer_email, customer_phone, amount, currency, "
        "status, failure_reason, created_at, updated_at) VALUES\n" + ",\n".join(rows) + ";\n"
    )
    path = root / DATABASE
    path.write_text(path.read_text(encoding="utf-8") + insert, encoding="utf-8")
