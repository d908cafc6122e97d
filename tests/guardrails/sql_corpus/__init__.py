"""The SQL gate's corpora: statements it must refuse and analytic queries it must let through.

Loaded here once so the gate's tests and `make bench` read the same entries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CORPUS = Path(__file__).parent


def load_corpus(name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load((CORPUS / name).read_text(encoding="utf-8"))
    return entries


REFUSED = load_corpus("refused.yaml")
ALLOWED = load_corpus("allowed.yaml")
