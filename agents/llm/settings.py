"""The model settings the agents need, mirrored from the bot's config so that agents never import `bot`."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    TRIAGE = "triage"
    ANALYSIS = "analysis"
    QUARANTINE = "quarantine"


class RoleSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    fallbacks: list[str] = Field(default_factory=list)


class BudgetSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    daily_usd: float = Field(default=5.0, ge=0)
    per_question_usd: float = Field(default=0.5, ge=0)


class ModelSettings(BaseModel):
    """Roles may be left out: a missing one borrows another's model (see `role`)."""

    model_config = ConfigDict(frozen=True)

    triage: RoleSettings | None = None
    analysis: RoleSettings | None = None
    quarantine: RoleSettings | None = None
    budget: BudgetSettings = Field(default_factory=BudgetSettings)

    def role(self, role: Role) -> RoleSettings | None:
        """The settings a role runs with.

        Analysis and quarantine borrow the other roles' models when not configured (the quarantine
        pattern is in how the call is made, with no tools and a schema, not in which model makes
        it). Triage borrows nothing: without it every open question goes to analysis.
        """
        order = {
            Role.TRIAGE: (self.triage,),
            Role.ANALYSIS: (self.analysis, self.triage, self.quarantine),
            Role.QUARANTINE: (self.quarantine, self.triage, self.analysis),
        }[role]
        return next((settings for settings in order if settings is not None), None)
