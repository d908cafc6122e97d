"""Reading a question without a language model: what is asked, and about what.

Deliberately plain pattern rules: they are predictable, fast and testable, and a model (when
configured) only ever adds to them. An explicit SQL statement is recognised before anything else
so that it always meets the SQL gate.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from agents.catalog import Catalog, Service

MAX_QUESTION_CHARS = 2000


class Intent(StrEnum):
    STATUS = "status"
    DIAGNOSE = "diagnose"
    DATA = "data"
    RUNBOOK = "runbook"
    ACTION = "action"
    CHANGES = "changes"
    CERTIFICATE = "certificate"
    RESOURCES = "resources"


_SQL_START = re.compile(
    r"^\s*(select|with|insert|update|delete|drop|alter|truncate|create|grant|revoke|copy|call|do|set|vacuum|"
    r"explain|values|table|merge|lock|prepare|execute)\b",
    re.IGNORECASE,
)
_SQL_AFTER_COLON = re.compile(r"\b(?:query|sql|statement)\b[^:]*:\s*(?P<sql>.+)$", re.IGNORECASE | re.DOTALL)
_ACTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(roll\s*back|rollback|revert|undo the (?:deploy|rollout))\b", re.I), "rollback_deployment"),
    (re.compile(r"\brestart\b(?!ing|s\b|ed)", re.I), "restart_deployment"),
    (re.compile(r"\bscale\b(?!d)", re.I), "scale_deployment"),
    (re.compile(r"\b(delete|kill)\s+(?:the\s+)?pod\b", re.I), "delete_pod"),
    (re.compile(r"\bcordon\b", re.I), "cordon_node"),
]
_IMPERATIVE = re.compile(
    r"^\s*(?:<@[A-Z0-9]+>\s*)?(?:please\s+|can you\s+|could you\s+|pls\s+)?"
    r"(restart|roll\s*back|rollback|revert|scale|delete|kill|cordon|undo)\b",
    re.I,
)
_REPLICAS = re.compile(r"\bto\s+(\d{1,3})\b(?:\s*replicas?)?", re.I)
_RUNBOOK = re.compile(r"\b(runbook|playbook|how (?:do|can|should) (?:i|we) (?:fix|handle|resolve))\b", re.I)
_RUNBOOK_PREFIX = re.compile(r"^.*?\b(?:runbook|playbook)s?\b\s*(?:for|about|on|to handle)?\s*", re.I)
_CERT = re.compile(r"\b(certificates?|certs?|tls|ssl|x\.?509)\b", re.I)
_DIAGNOSE = re.compile(
    r"\b(why|failing|fails?|failed|broken|down|slow|slowness|errors?|erroring|timing out|time ?outs?|crash\w*|"
    r"restarting|restarts|oom\w*|unhealthy|not working|outage|5\d\d|latency|degraded|wrong|problems?|issues?|"
    r"root cause|what happened)\b",
    re.I,
)
_STATUS = re.compile(
    r"\b(status|running|health|healthy|what pods|which pods|list (?:the )?pods|anything wrong)\b", re.I
)
_RESOURCES = re.compile(r"\b(memory|cpu|limits?|requests?|how close|saturation|usage|capacity|pool)\b", re.I)
_CHANGES = re.compile(r"\b(what changed|changes?|deploy(?:s|ed|ments?)?|pull requests?|prs?|merged|releases?)\b", re.I)
_DATA = re.compile(r"\b(show(?: me)?|list|how many|count|find|which|display|give me)\b\s+(?P<rest>.+)$", re.I)
_INFRA_NOUNS = re.compile(
    r"\b(pods?|deployments?|nodes?|events?|alerts?|services?|logs?|namespaces?|containers?|jobs?|runbooks?|"
    r"certificates?|certs?|metrics?|targets?|changes?|deploys?|pull requests?|prs?|incidents?|replicas?)\b",
    re.I,
)
# Rankings, summaries and time ranges: the rules route these somewhere, but cannot answer them.
_OPEN_ENDED = re.compile(
    r"\b(most|least|fewest|busiest|worst|top \d+|summar(?:ise|ize|y)|compare|trends?|yesterday|"
    r"(?:this|last|past) (?:week|month))\b",
    re.I,
)
_NAMESPACE = re.compile(r"\b(?:in|namespace|ns)\s+(?:the\s+)?(?:namespace\s+)?([a-z0-9][a-z0-9-]{0,62})\b", re.I)
_HOST = re.compile(r"\b((?:[a-z0-9-]+\.)+[a-z]{2,})(?::\d+)?\b", re.I)


class Plan(BaseModel):
    """What the router needs to know about a question."""

    model_config = ConfigDict(frozen=True)

    text: str
    truncated: bool = False
    intents: frozenset[Intent]
    services: list[Service] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)
    action: str | None = None
    replicas: int | None = None
    sql: str | None = None
    data_request: str | None = Field(default=None, description="the noun phrase of a data question")
    runbook_query: str | None = None

    understood: bool = Field(
        default=True, description="False when no rule recognised the question or it asks what rules cannot answer"
    )

    def wants(self, *intents: Intent) -> bool:
        return any(intent in self.intents for intent in intents)


def explicit_sql(text: str) -> str | None:
    match = _SQL_AFTER_COLON.search(text)
    if match and _SQL_START.match(match.group("sql")):
        return match.group("sql").strip().strip("`").strip()
    if _SQL_START.match(text) and re.search(r"\b(from|table|into|set|values)\b|;", text, re.I):
        return text.strip().strip("`").strip()
    return None


def _requested_action(text: str) -> str | None:
    if not _IMPERATIVE.search(text):
        return None
    return next((action for pattern, action in _ACTIONS if pattern.search(text)), None)


def plan_question(text: str, catalog: Catalog, known_namespaces: list[str], context: str = "") -> Plan:
    """`context` is the earlier questions of the thread, used only to find what a follow-up is about."""
    truncated = len(text) > MAX_QUESTION_CHARS
    text = text[:MAX_QUESTION_CHARS].strip()
    intents: set[Intent] = set()
    sql = explicit_sql(text)
    action = None if sql else _requested_action(text)
    replicas_match = _REPLICAS.search(text) if action == "scale_deployment" else None
    data_request = None
    runbook_query = None
    understood = True
    if sql:
        intents.add(Intent.DATA)
    elif action:
        intents.add(Intent.ACTION)
    elif _RUNBOOK.search(text):
        intents.add(Intent.RUNBOOK)
        runbook_query = _RUNBOOK_PREFIX.sub("", text).strip(" ?.!") or text
    else:
        if _CERT.search(text):
            intents.add(Intent.CERTIFICATE)
        data = _DATA.search(text)
        if data and not _INFRA_NOUNS.search(data.group("rest")) and not intents:
            intents.add(Intent.DATA)
            data_request = data.group("rest").strip(" ?.!")
        if not intents:
            if _DIAGNOSE.search(text):
                intents.add(Intent.DIAGNOSE)
            if _RESOURCES.search(text):
                intents.add(Intent.RESOURCES)
            if _CHANGES.search(text):
                intents.add(Intent.CHANGES)
            understood = bool(intents) or bool(_STATUS.search(text))
            if _STATUS.search(text) or not intents:
                intents.add(Intent.STATUS)
    lowered_namespaces = {namespace.lower(): namespace for namespace in known_namespaces}
    # "in search" names the namespace, not the service search-api by its short alias.
    without_namespaces = _NAMESPACE.sub(
        lambda match: " " if match.group(1).lower() in lowered_namespaces else match.group(0), text
    )
    services = catalog.mentioned(without_namespaces) or (catalog.mentioned(context) if context else [])
    namespaces = [
        lowered_namespaces[word.lower()] for word in _NAMESPACE.findall(text) if word.lower() in lowered_namespaces
    ]
    hosts = [host.lower() for host in _HOST.findall(text) if not host.lower().endswith((".py", ".go", ".yaml"))]
    return Plan(
        text=text,
        truncated=truncated,
        intents=frozenset(intents),
        services=services,
        namespaces=list(dict.fromkeys(namespaces)),
        hosts=list(dict.fromkeys(hosts)),
        action=action,
        replicas=int(replicas_match.group(1)) if replicas_match else None,
        sql=sql,
        data_request=data_request,
        runbook_query=runbook_query,
        understood=understood and not (sql is None and action is None and _OPEN_ENDED.search(text)),
    )
