"""Redaction of secrets and personal data, the last step before Slack and before any model.

Secrets are replaced first, by `scrub_secrets` (the project's one list of credential shapes, the
same pass that scrubs logs); Presidio then looks for personal data in what is left, so a
password can never be half-replaced by an overlapping e-mail match and counts are never
doubled. Presidio runs with a no-op NLP engine: every recognizer is a validated pattern
(suffix list, Luhn, IBAN checksum, numbering plans), nothing is downloaded, and no language
model is needed. Names and postal addresses cannot be found that way, so database rows are
redacted by column name as well; spaCy NER is an opt-in for installations that have a model.

Internal IP addresses are redacted too: the issue lists them as personal data, and in a
shared channel a pod IP is rarely what an answer hinges on. What stays readable is what is
nobody's address: loopback, unspecified, multicast and reserved IPv4 addresses (netmasks) and
whole networks (`10.0.0.0/8`), plus anything on the configured allow-list. The allow-list never
applies to credentials: a token is not safe to post because someone listed it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from guardrails.secret_patterns import placeholder, scrub_secrets

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NlpEngine

logger = logging.getLogger(__name__)

PII_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN")
NER_ENTITIES = ("PERSON", "LOCATION")
NER_MODELS = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm")
DEFAULT_SCORE_THRESHOLD = 0.5

# Exact column names (after normalisation: lower snake case, table prefix dropped) whose cells
# are replaced whole. The rules below also catch `*_name`, `*_email`, `*_phone`, `*_address`.
DEFAULT_NAME_COLUMNS = (
    "name",
    "first_name",
    "last_name",
    "full_name",
    "customer_name",
    "contact",
    "address",
    "street",
    "email",
    "e_mail",
    "phone",
)

# Checked in this order, so that `email_address` is an e-mail and `contact_phone` a phone.
_COLUMN_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("EMAIL_ADDRESS", ("email", "e_mail", "email_address", "mail")),
    ("PHONE_NUMBER", ("phone", "phone_number", "telephone", "mobile", "mobile_number", "fax", "tel")),
    ("ADDRESS", ("address", "street", "street_address", "postcode", "postal_code", "zip_code", "zipcode")),
    (
        "PERSON",
        ("name", "surname", "firstname", "lastname", "fullname", "nickname", "username", "contact"),
    ),
)
# `pod_name`, `service_name`, `node_name` ... name infrastructure, not people: a redacted pod
# name would make the bot useless. Matched against the word just before the keyword.
_INFRASTRUCTURE_QUALIFIERS = frozenset(
    # Kubernetes and cloud objects
    {"pod", "node", "namespace", "ns", "cluster", "container", "deployment", "statefulset", "daemonset"}
    | {"replicaset", "cronjob", "job", "service", "svc", "ingress", "configmap", "secret", "volume", "image"}
    | {"chart", "release", "region", "zone", "vpc", "subnet", "lb", "bucket", "instance", "host", "server"}
    | {"device", "disk", "mount", "interface", "network", "domain", "dns", "endpoint", "cert", "certificate"}
    # data and code
    | {"database", "db", "schema", "table", "column", "index", "constraint", "sequence", "view", "trigger"}
    | {"relation", "field", "key", "queue", "topic", "metric", "span", "trace", "file", "package", "module"}
    | {"class", "method", "function", "param", "parameter", "variable", "setting", "config", "type", "kind"}
    | {"object", "resource", "attribute", "label", "annotation", "tag", "branch", "repo", "repository"}
    # operations and organisation
    | {"app", "application", "component", "env", "environment", "stage", "pipeline", "workflow", "step"}
    | {"task", "operation", "event", "alert", "rule", "check", "test", "dashboard", "policy", "feature"}
    | {"flag", "plan", "state", "status", "role", "group", "team", "channel", "workspace", "project", "org"}
    | {"organization", "company", "product", "sku", "category", "currency", "country", "city", "vendor"}
    | {"provider", "model"}
)
# `ip_address`, `remote_address`, `bind_address` ... are network addresses; their values are
# still redacted by content (an IP is found as IP_ADDRESS) but not wholesale as postal addresses.
_NETWORK_QUALIFIERS = frozenset(
    {"ip", "ipv4", "ipv6", "mac", "host", "server", "node", "pod", "service", "network", "router", "gateway"}
    | {"proxy", "lb", "vip", "endpoint", "broker", "upstream", "target", "peer", "client", "remote", "local"}
    | {"bind", "listen", "advertise", "source", "src", "destination", "dest", "dst", "public", "private"}
    | {"internal", "external"}
)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")
# Every PII entity holds a digit except an e-mail, which holds "@"; shorter texts hold none.
_PII_HINT = re.compile(r"[\d@]")
_SHORTEST_PII = len("a@b.io")
# Cell types whose text can hold no PII; a number needs 13 digits to be a payment card.
_NEVER_PII = (date, time, timedelta, UUID)
_NUMBERS = (int, float, Decimal)
_CARD_DIGITS = 13


class RedactionConfigError(ValueError):
    """A Redactor was configured with a value it cannot use."""


class RedactionInputError(ValueError):
    """Rows handed to `redact_rows` do not fit their columns."""


class Redacted(BaseModel):
    """A redacted text and how many values of each type were replaced (for audit and metrics)."""

    model_config = ConfigDict(frozen=True)

    text: str
    counts: dict[str, int]


class Redactor:
    """Replaces secrets and personal data with typed placeholders such as `<EMAIL_ADDRESS>`.

    Build one and reuse it: the Presidio engine behind it is built on first use (or by
    `warm_up`), because importing Presidio and spaCy takes about two seconds and a CLI's
    `--help` should not pay for it. A Redactor is safe to share between threads.
    """

    def __init__(
        self,
        *,
        allow_list: Iterable[str] = (),
        name_columns: Iterable[str] = DEFAULT_NAME_COLUMNS,
        ner: bool = False,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    ) -> None:
        if not 0.0 < score_threshold <= 1.0:
            raise RedactionConfigError(f"score_threshold must be in (0, 1], got {score_threshold!r}")
        allowed = sorted({entry.strip() for entry in allow_list if entry.strip()}, key=len, reverse=True)
        self._allowed = re.compile("|".join(re.escape(entry) for entry in allowed), re.IGNORECASE) if allowed else None
        self._allowed_exact = frozenset(entry.casefold() for entry in allowed)
        self._name_columns = frozenset(_normalize_column(column) for column in name_columns)
        self._ner = ner
        self._score_threshold = score_threshold
        self._engine: AnalyzerEngine | None = None
        self._entities: list[str] = []
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Builds the Presidio engine now (blocking, about two seconds) instead of on first use."""
        self._analyzer()

    def redact(self, text: str) -> Redacted:
        """Secrets, then personal data, replaced by placeholders; the rest of the text untouched."""
        scrubbed, counts = scrub_secrets(text)
        if len(scrubbed) >= _SHORTEST_PII and (self._ner or _PII_HINT.search(scrubbed)):
            results = self._analyzer().analyze(
                scrubbed, language="en", entities=self._entities, score_threshold=self._score_threshold
            )
            scrubbed = _replace(scrubbed, self._chosen(scrubbed, results), counts)
        return Redacted(text=scrubbed, counts=dict(counts))

    def redact_rows(
        self, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> tuple[list[list[Any]], dict[str, int]]:
        """Rows of a query result, redacted cell by cell.

        Cells of name-bearing columns (see `column_entity`) are replaced whole, since a name or a
        street cannot be recognised by its shape; every other cell is redacted by content.
        """
        wholesale = [self.column_entity(column) for column in columns]
        counts: Counter[str] = Counter()
        redacted: list[list[Any]] = []
        for number, row in enumerate(rows, start=1):
            if len(row) != len(columns):
                raise RedactionInputError(f"row {number} has {len(row)} cells for {len(columns)} columns")
            redacted.append(
                [self._redact_cell(value, entity, counts) for value, entity in zip(row, wholesale, strict=True)]
            )
        return redacted, dict(counts)

    def redact_json(self, value: Any) -> tuple[Any, dict[str, int]]:
        """A JSON-like value (dicts, lists, scalars) with every string value redacted; keys are kept.

        Values are judged by content only: in Kubernetes objects `name` is a pod's name, so key
        names say nothing here. Query results should go through `redact_rows` before they are
        serialised, to get the column-name rules.
        """
        counts: Counter[str] = Counter()
        return self._redact_value(value, counts), dict(counts)

    def column_entity(self, column: str) -> str | None:
        """The placeholder type a column's cells are replaced with wholesale, or None to redact by content."""
        name = _normalize_column(column)
        explicit = name in self._name_columns
        for entity, keywords in _COLUMN_KEYWORDS:
            for keyword in keywords:
                if name == keyword:
                    return entity
                if name.endswith("_" + keyword):
                    qualifier = name[: -len(keyword) - 1].rsplit("_", 1)[-1]
                    infrastructure = _NETWORK_QUALIFIERS if entity == "ADDRESS" else _INFRASTRUCTURE_QUALIFIERS
                    if explicit or qualifier not in infrastructure:
                        return entity
                    return None
        return "PERSON" if explicit else None

    def _analyzer(self) -> AnalyzerEngine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    engine, self._entities = _build_engine(ner=self._ner)
                    self._engine = engine  # published last: other threads test it without the lock
        return self._engine

    def _chosen(self, text: str, results: Iterable[RecognizerResult]) -> list[tuple[int, int, str]]:
        """Non-overlapping spans to replace: the longer span wins, then the higher score."""
        allowed = [match.span() for match in self._allowed.finditer(text)] if self._allowed else []
        chosen: list[tuple[int, int, str]] = []
        for result in sorted(results, key=lambda r: (r.start - r.end, -r.score, r.start)):
            start, end = result.start, result.end
            if any(low <= start and end <= high for low, high in allowed):
                continue
            if any(start < taken_end and taken_start < end for taken_start, taken_end, _ in chosen):
                continue
            chosen.append((start, end, result.entity_type))
        return chosen

    def _redact_cell(self, value: Any, entity: str | None, counts: Counter[str]) -> Any:
        if entity is None or value is None or value == "":
            return self._redact_value(value, counts)
        if value == placeholder(entity) or str(value).strip().casefold() in self._allowed_exact:
            return value
        counts[entity] += 1
        return placeholder(entity)

    def _redact_value(self, value: Any, counts: Counter[str]) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            redacted = self.redact(value)
            counts.update(redacted.counts)
            return redacted.text
        if isinstance(value, Mapping):
            return {key: self._redact_value(item, counts) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._redact_value(item, counts) for item in value]
        if isinstance(value, _NEVER_PII) or (isinstance(value, _NUMBERS) and len(str(value)) < _CARD_DIGITS):
            return value
        # Long numbers, bytes and other objects are judged by their text and kept as they are
        # unless something was found: a card number stored as a bigint comes back as "<CREDIT_CARD>".
        redacted = self.redact(str(value))
        if not redacted.counts:
            return value
        counts.update(redacted.counts)
        return redacted.text


def _normalize_column(column: str) -> str:
    name = column.strip().strip('"`[]').rsplit(".", 1)[-1]
    return _NON_WORD.sub("_", _CAMEL_BOUNDARY.sub("_", name).lower()).strip("_")


def _replace(text: str, spans: list[tuple[int, int, str]], counts: Counter[str]) -> str:
    pieces: list[str] = []
    position = 0
    for start, end, entity in sorted(spans):
        pieces += [text[position:start], placeholder(entity)]
        counts[entity] += 1
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _build_engine(*, ner: bool) -> tuple[AnalyzerEngine, list[str]]:
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    from guardrails.pii_recognizers import NoContextEnhancer, pattern_recognizers

    recognizers = pattern_recognizers()
    entities = list(PII_ENTITIES)
    nlp_engine: NlpEngine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    enhancer: ContextAwareEnhancer | None = NoContextEnhancer()
    spacy_ner = _spacy_ner() if ner else None
    if spacy_ner is not None:
        nlp_engine, ner_recognizer = spacy_ner
        recognizers.append(ner_recognizer)
        entities += NER_ENTITIES
        enhancer = None  # Presidio's default, which can use the model's tokens
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    engine = AnalyzerEngine(
        registry=registry, nlp_engine=nlp_engine, supported_languages=["en"], context_aware_enhancer=enhancer
    )
    return engine, entities


def _spacy_ner() -> tuple[NlpEngine, EntityRecognizer] | None:
    """spaCy NER over an installed model, or None: models are never downloaded (no internet, and
    the copies on PyPI are of unknown origin), so a missing one means pattern-only redaction."""
    import spacy.util
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    model = next((name for name in NER_MODELS if spacy.util.is_package(name)), None)
    if model is None:
        logger.warning(
            "redaction NER requested but no spaCy model (%s) is installed; names in free text will not be redacted",
            ", ".join(NER_MODELS),
        )
        return None
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
    return engine, SpacyRecognizer(supported_entities=list(NER_ENTITIES))


@lru_cache(maxsize=1)
def default_redactor() -> Redactor:
    """A shared Redactor with the default settings, for callers that have no configuration."""
    return Redactor()


def redact_text(text: str) -> str:
    """`text` with secrets and personal data replaced, using the shared default Redactor."""
    return default_redactor().redact(text).text
