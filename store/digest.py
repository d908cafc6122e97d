"""Content hashes that must be identical on every replica and across restarts.

A proposal's digest is shown to the approver and re-checked right before execution, so the action
that runs is provably the action that was approved. Check findings use the same canonical form so
"nothing that matters changed" means the same fingerprint, whatever order keys were built in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(value: Any) -> str:
    """Serialise ``value`` so that equal content always yields equal text (sorted keys, no spaces).

    NaN/Infinity are refused because they have no JSON spelling and PostgreSQL's jsonb rejects them.
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"value is not plain JSON ({exc}); dump pydantic models with mode='json'") from None


def content_fingerprint(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def proposal_digest(action: str, target: Any, params: Mapping[str, Any]) -> str:
    """The digest a proposal is approved under: SHA-256 of canonical JSON of action, target and params."""
    return content_fingerprint({"action": action, "target": target, "params": dict(params)})
