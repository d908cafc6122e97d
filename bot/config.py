"""The bot's configuration: one YAML file, validated as a whole before anything starts.

Secrets never live in the file. Values may reference the environment as `${NAME}` or
`${NAME:-default}`; a literal credential pasted into the file is refused, because config files
end up in repositories and ConfigMaps. Every problem is reported as one line naming the file,
the key and what is wrong, so a broken deploy says exactly what to fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from agents.catalog import Service
from guardrails.policy_config import AccessConfig, ChannelBinding, PolicyConfig, StrictSection
from guardrails.secret_patterns import scrub_secrets
from scheduled_checks import CHECK_NAMES, unknown_check

CONFIG_ENV = "WHISPERER_CONFIG"
DEFAULT_CONFIG = Path("whisperer.yaml")
DATA_DIR_ENV = "WHISPERER_DATA_DIR"

# Our own MCP servers (the read-only ones, the web one and the write one): an external server may
# not take one of these names, or its tools would be mistaken for ours in the catalog and the audit.
OWN_MCP_SERVERS = frozenset(
    {"kubernetes", "kubernetes-actions", "metrics", "database", "incidents", "changes", "certificates", "web"}
)
DEFAULT_CHROMIUM = Path("/usr/bin/chromium")

_ENV_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class ConfigError(Exception):
    """A configuration that cannot be used; str() is the one line shown to the user."""


class SlackConfig(StrictSection):
    """Tokens come from SLACK_BOT_TOKEN and SLACK_APP_TOKEN only."""

    base_url: str = "https://slack.com/api/"
    default_channel: str = "#sre"
    bot_user_name: str = "whisperer"


class ModelRole(StrictSection):
    model: str
    api_base: str | None = None
    api_key_env: str | None = Field(default=None, description="name of the env var holding the key")
    timeout_s: float = Field(default=30.0, gt=0)
    fallbacks: list[str] = Field(default_factory=list)


class ModelBudget(StrictSection):
    daily_usd: float = Field(default=5.0, ge=0)
    per_question_usd: float = Field(default=0.5, ge=0)


class ModelsConfig(StrictSection):
    triage: ModelRole | None = None
    analysis: ModelRole | None = None
    quarantine: ModelRole | None = None
    budget: ModelBudget = Field(default_factory=ModelBudget)

    @property
    def enabled(self) -> bool:
        return any(role is not None for role in (self.triage, self.analysis, self.quarantine))


class ClusterConfig(StrictSection):
    name: str
    kubeconfig: Path | None = None
    context: str | None = None
    in_cluster: bool = False
    # The remediation identity is separate from the read-only one that investigates.
    write_kubeconfig: Path | None = None
    write_context: str | None = None


class KubernetesConfig(StrictSection):
    clusters: list[ClusterConfig] = Field(default_factory=list)


class PrometheusConfig(StrictSection):
    url: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    verify_tls: bool = True


class DatabaseConfig(StrictSection):
    name: str
    dsn: str
    statement_timeout_ms: int = Field(default=5000, gt=0)
    max_rows: int = Field(default=100, gt=0, le=10000)


class GithubConfig(StrictSection):
    """The token comes from GITHUB_TOKEN; base_url points at GitHub Enterprise when needed."""

    base_url: str = "https://api.github.com"
    lookback_hours: float = Field(default=24.0, gt=0)


class Schedule(StrictSection):
    cron: str | None = None
    every_minutes: float | None = Field(default=None, gt=0)
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.cron is None) == (self.every_minutes is None):
            raise ValueError("give exactly one of 'cron' or 'every_minutes'")
        _validate_timezone(self.timezone)
        if self.cron is not None:
            _validate_cron(self.cron, self.timezone)
        return self

    def describe(self) -> str:
        """The schedule as a person reads it, e.g. 'cron 0 8 * * 1-5 (Europe/Berlin)' or 'every 30 min'."""
        if self.cron is not None:
            return f"cron {self.cron} ({self.timezone})"
        return f"every {self.every_minutes:g} min"


class CheckConfig(StrictSection):
    enabled: bool = True
    schedule: Schedule = Field(default_factory=lambda: Schedule(cron="0 8 * * *"))
    channel: str | None = None
    warn_days: float = Field(default=14, gt=0)
    critical_days: float = Field(default=3, gt=0)
    endpoints: list[str] = Field(default_factory=list, description="host:port entries to probe")
    remind_after_hours: float = Field(default=24, gt=0)

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> CheckConfig:
        if self.critical_days > self.warn_days:
            raise ValueError(f"critical_days ({self.critical_days:g}) must not exceed warn_days ({self.warn_days:g})")
        return self


class RedactionConfig(StrictSection):
    allow_list: list[str] = Field(default_factory=list)
    ner: bool = False
    name_columns: list[str] = Field(
        default_factory=lambda: ["name", "first_name", "last_name", "customer_name", "full_name", "address"]
    )


class ExternalMcpServer(StrictSection):
    name: str = Field(min_length=1)
    command: list[str] | None = Field(default=None, min_length=1)
    url: str | None = None
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _not_ours(cls, name: str) -> str:
        if name in OWN_MCP_SERVERS:
            raise ValueError(f"{name!r} is the name of one of InfraWhisperer's own MCP servers; choose another")
        return name

    @model_validator(mode="after")
    def _one_transport(self) -> ExternalMcpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of 'command' (stdio) or 'url' (streamable HTTP)")
        return self


class McpConfig(StrictSection):
    external: list[ExternalMcpServer] = Field(default_factory=list)

    @field_validator("external")
    @classmethod
    def _unique_names(cls, servers: list[ExternalMcpServer]) -> list[ExternalMcpServer]:
        names = [server.name for server in servers]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"more than one external server is named {repeated[0]!r}")
        return servers


class WebConfig(StrictSection):
    chromium: Path = Field(default=DEFAULT_CHROMIUM, description="the browser the web server renders pages with")


class StoreConfig(StrictSection):
    url: str | None = Field(default=None, description="sqlite:///path or postgresql://...; default under data_dir")


class MetricsConfig(StrictSection):
    """The bot's own `/metrics`, `/healthz` and `/readyz` port (served by `whisperer run`)."""

    enabled: bool = True
    # Loopback by default: on a laptop nothing else needs it. In a pod set 0.0.0.0 for Prometheus and the probes.
    host: str = "127.0.0.1"
    port: int = Field(default=9100, ge=0, le=65535, description="0 picks a free port")


class RemediationConfig(StrictSection):
    """Timing of approved fixes; the takeover matters once several replicas share one store."""

    verify_timeout_s: float = Field(default=60.0, gt=0, description="how long a rollout may take to become Ready")
    # A replica that stops renewing its hold on a fix this long is presumed dead; another finishes or reports it.
    takeover_after_s: float = Field(default=30.0, ge=1)


class TracingConfig(StrictSection):
    """OpenTelemetry traces of each question across specialists and tool calls; off unless configured."""

    enabled: bool = False
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces"
    )
    service_name: str = Field(default="whisperer", min_length=1)


class Config(StrictSection):
    data_dir: Path = Field(default_factory=lambda: Path(os.environ.get(DATA_DIR_ENV, "~/.local/share/whisperer")))
    slack: SlackConfig = Field(default_factory=SlackConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    databases: list[DatabaseConfig] = Field(default_factory=list)
    github: GithubConfig = Field(default_factory=GithubConfig)
    services: list[Service] = Field(default_factory=list)
    channels: list[ChannelBinding] = Field(default_factory=list)
    access: AccessConfig = Field(default_factory=AccessConfig)
    checks: dict[str, CheckConfig] = Field(default_factory=dict)
    redaction: RedactionConfig = Field(default_factory=RedactionConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    mcp: McpConfig = Field(default_factory=McpConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    remediation: RemediationConfig = Field(default_factory=RemediationConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, checks: dict[str, CheckConfig]) -> dict[str, CheckConfig]:
        unknown = sorted(set(checks) - set(CHECK_NAMES))
        if unknown:
            raise ValueError(unknown_check(unknown[0]))
        return checks

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{self.data_dir / 'whisperer.db'}"


def _validate_timezone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(f"unknown time zone {timezone!r} (use an IANA name such as Europe/Berlin)") from None


def _validate_cron(expression: str, timezone: str) -> None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expression, timezone=timezone)
    except (ValueError, LookupError) as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from exc


def interpolate_env(value: Any, environ: Mapping[str, str], path: str = "") -> Any:
    """Replaces ${NAME} references with environment values, naming the key of a missing one."""
    if isinstance(value, dict):
        return {key: interpolate_env(item, environ, _join(path, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate_env(item, environ, _join(path, index)) for index, item in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{path}: environment variable {name} is not set")

    return _ENV_REF.sub(substitute, value)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _refuse_literal_secrets(value: Any, path: str = "") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_literal_secrets(item, _join(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_literal_secrets(item, _join(path, index))
    elif isinstance(value, str):
        _, found = scrub_secrets(value)
        if found:
            kind = sorted(found)[0]
            raise ConfigError(f"{path}: looks like a literal {kind}; put it in the environment and write ${{NAME}}")


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Merges mappings key by key; lists and scalars of the overlay replace the base's."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def config_path(explicit: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The file to read: explicit, else $WHISPERER_CONFIG, else ./whisperer.yaml when present."""
    environ = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, not {type(raw).__name__}")
    return raw


def build_config(raw: Mapping[str, Any], *, source: str, environ: Mapping[str, str] | None = None) -> Config:
    """Validates raw settings (already merged) into a Config; errors name `source` and the key."""
    environ = os.environ if environ is None else environ
    try:
        _refuse_literal_secrets(raw)
        resolved = interpolate_env(dict(raw), environ)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    try:
        return Config.model_validate(resolved)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc)}") from exc


def describe_validation_error(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{key}: {message}{more}"


def load_config(
    explicit: str | Path | None = None,
    *,
    overlay: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """The configuration in force: the file (if any) with an overlay (a world's `config:`) merged over it."""
    path = config_path(explicit, environ)
    raw = read_config_file(path) if path is not None else {}
    if overlay:
        raw = deep_merge(raw, overlay)
    return build_config(raw, source=str(path or "built-in defaults"), environ=environ)
