"""Every metric family the bot exports, in one registry that belongs to one running bot.

A registry of its own (not prometheus_client's global one) keeps tests and in-process demos
isolated: two bots in one process never add to each other's counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Slack shows the user an error when an envelope is not acked within 3 s; the buckets resolve
# the part that matters, well below that.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
SPECIALIST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)


class BotMetrics:
    """The metric families of one bot process; `render()` is what `/metrics` serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.questions = Counter(
            "whisperer_questions", "Questions answered, by intent and outcome", ["intent", "outcome"], registry=r
        )
        self.slack_ack_seconds = Histogram(
            "whisperer_slack_ack_seconds",
            "Time from an envelope reaching the app to its listener's ack, by kind",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.specialist_seconds = Histogram(
            "whisperer_specialist_seconds",
            "Time one specialist took for one question, by source",
            ["source"],
            buckets=SPECIALIST_BUCKETS,
            registry=r,
        )
        self.specialist_failures = Counter(
            "whisperer_specialist_failures", "Specialists that failed or timed out, by source", ["source"], registry=r
        )
        self.proposals = Counter(
            "whisperer_proposals",
            "Fixes proposed, by action and outcome (offered/refused)",
            ["action", "outcome"],
            registry=r,
        )
        self.decisions = Counter(
            "whisperer_decisions",
            "Approve/reject clicks, by decision and whether policy accepted them",
            ["decision", "accepted"],
            registry=r,
        )
        self.executions = Counter(
            "whisperer_executions", "Approved fixes run, by action and result", ["action", "result"], registry=r
        )
        self.verifications = Counter(
            "whisperer_verifications", "Post-fix verifications, by result", ["result"], registry=r
        )
        self.redactions = Counter(
            "whisperer_redactions", "Values redacted before leaving the bot, by entity", ["entity"], registry=r
        )
        self.model_tokens = Counter(
            "whisperer_model_tokens", "Model tokens, by role and direction (in/out)", ["role", "direction"], registry=r
        )
        self.model_cost_usd = Counter("whisperer_model_cost_usd", "Model spend in USD, by role", ["role"], registry=r)
        self.check_runs = Counter(
            "whisperer_check_runs", "Scheduled check runs, by check and outcome", ["check", "outcome"], registry=r
        )
        self.check_findings = Gauge(
            "whisperer_check_findings",
            "Open findings of each scheduled check, by severity",
            ["check", "severity"],
            registry=r,
        )

    def observe_ack(self, kind: str, seconds: float) -> None:
        self.slack_ack_seconds.labels(kind=kind).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def exported_names(self) -> set[str]:
        """Every series name `/metrics` can show, labelled or not yet observed, for checking dashboards and rules."""
        return {family.name + suffix for family in self.registry.collect() for suffix in _SERIES_SUFFIXES[family.type]}


_SERIES_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
