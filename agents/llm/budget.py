"""Model spend, read back from the audit log: today's total, one question's total, and by role.

The audit log is the one record of every model call (see `client`), so budgets and `/whisper
cost` count from it rather than from a counter of their own that could drift from it or be lost
on restart; with several replicas on PostgreSQL the budget is shared by all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from agents.llm.settings import BudgetSettings
from store.base import Store
from store.models import AuditEvent, AuditKind

BUDGET_NOTE = "model budget reached; answered without a model"
# A day's model calls; far above what any budget lets through, so the sum is never cut short.
MAX_CALLS_PER_DAY = 100_000


class RoleSpend(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: str
    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float


def start_of_day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def calls_today(store: Store, now: datetime) -> list[AuditEvent]:
    return await store.list_audit(limit=MAX_CALLS_PER_DAY, kind=AuditKind.MODEL_CALL, since=start_of_day(now))


def _cost(event: AuditEvent) -> float:
    value = event.detail.get("cost_usd", 0.0)
    return float(value) if isinstance(value, int | float) else 0.0


def _tokens(event: AuditEvent, key: str) -> int:
    value = event.detail.get(key, 0)
    return value if isinstance(value, int) else 0


def spend_by_role(events: Sequence[AuditEvent]) -> list[RoleSpend]:
    roles = sorted({str(event.detail.get("role", "?")) for event in events})
    spends = []
    for role in roles:
        mine = [event for event in events if str(event.detail.get("role", "?")) == role]
        spends.append(
            RoleSpend(
                role=role,
                calls=len(mine),
                tokens_in=sum(_tokens(event, "tokens_in") for event in mine),
                tokens_out=sum(_tokens(event, "tokens_out") for event in mine),
                cost_usd=sum(_cost(event) for event in mine),
            )
        )
    return spends


async def spend_today(store: Store, now: datetime | None = None) -> list[RoleSpend]:
    return spend_by_role(await calls_today(store, now or datetime.now(UTC)))


class Budget:
    def __init__(
        self, store: Store, settings: BudgetSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock

    async def reached(self, question_id: str) -> bool:
        """Whether no more may be spent on this question; a budget of 0 allows no model call at all."""
        events = await calls_today(self._store, self._clock())
        today = sum(_cost(event) for event in events)
        question = sum(_cost(event) for event in events if event.detail.get("question_id") == question_id)
        return today >= self._settings.daily_usd or question >= self._settings.per_question_usd
