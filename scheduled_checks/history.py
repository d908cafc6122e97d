"""How the scheduled runs went, read back from the audit log.

Every replica writes its runs there and every replica reads them, so `/whisper checks` and
App Home show the last run whichever replica posted it, including channels Slack refused.
"""

from __future__ import annotations

from pydantic import ValidationError

from scheduled_checks.models import CheckRun
from store.base import Store
from store.models import AuditEvent, AuditKind

RUNS_READ = 200


async def record_run(store: Store, run: CheckRun) -> None:
    await store.record_audit(
        AuditEvent(kind=AuditKind.CHECK, actor="bot", subject=run.check, at=run.at, detail=run.model_dump(mode="json"))
    )


async def last_runs(store: Store) -> dict[str, CheckRun]:
    """The newest run of each check that ran recently, by check name."""
    runs: dict[str, CheckRun] = {}
    for event in await store.list_audit(limit=RUNS_READ, kind=AuditKind.CHECK):
        try:
            run = CheckRun.model_validate(event.detail)
        except ValidationError:
            continue
        runs.setdefault(run.check, run)
    return runs
