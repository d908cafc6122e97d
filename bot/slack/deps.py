"""Everything the Slack surface is wired with, in one object built by the composition root.

Listeners take their collaborators from here and from nowhere else, so the same listeners run
against the real agents in production, in the demo, and against scripted doubles in tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bot.slack.ack_timing import AckObserver, ignore_acks
from bot.slack.in_flight import InFlight
from bot.slack.ports import Asker, Remediation
from guardrails.policy_config import ChannelBinding
from guardrails.redaction import Redactor
from scheduled_checks.models import CheckSchedule
from store import Store
from tools.health import Health

HealthProbe = Callable[[], Awaitable[list[Health]]]

SLACK_API = "https://slack.com/api/"


async def no_sources() -> list[Health]:
    """The probe for a bot wired without data sources (App Home then says so)."""
    return []


@dataclass(frozen=True, kw_only=True)
class SlackDeps:
    asker: Asker
    remediation: Remediation
    store: Store
    redactor: Redactor
    # Kept out of repr so that logging or printing the wiring can never show the credential.
    bot_token: str = field(repr=False)
    base_url: str = SLACK_API
    channels: Sequence[ChannelBinding] = ()
    health: HealthProbe = no_sources
    # Seconds between two edits of a live answer: a burst of progress becomes one chat.update.
    live_update_interval: float = 1.0
    max_question_chars: int = 2000
    # The configured scheduled checks, for `/whisper checks`.
    checks: Sequence[CheckSchedule] = ()
    # The configured daily model budget, for `/whisper cost`; None when no model is configured.
    model_daily_usd: float | None = None
    # Told how long each envelope waited for its ack (the bot's metrics, when served).
    observe_ack: AckObserver = ignore_acks
    # The answers and approvals in progress, which a shutdown lets finish or marks interrupted.
    in_flight: InFlight = field(default_factory=InFlight)
