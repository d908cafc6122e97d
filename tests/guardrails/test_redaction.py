from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from guardrails.redaction import (
    RedactionConfigError,
    RedactionInputError,
    Redactor,
    default_redactor,
    redact_text,
)
from tests.guardrails.redaction_corpus import (
    PII_TYPES,
    SECRET_TYPES,
    Positive,
    corpus_scores,
    format_scores,
    missed,
    negatives,
    positives,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


def test_corpus_covers_every_type_with_enough_items() -> None:
    items = positives()
    per_type: dict[str, int] = {}
    for item in items:
        for entity, _ in item.expected:
            per_type[entity] = per_type.get(entity, 0) + 1
    assert len(items) >= 150
    assert len(negatives()) >= 50
    assert {entity: count for entity, count in per_type.items() if count < 3} == {}
    assert set(per_type) == set(SECRET_TYPES) | set(PII_TYPES)


def test_recall_is_complete_for_secrets_and_high_for_personal_data(redactor: Redactor) -> None:
    scores = corpus_scores(redactor)
    print("\n" + format_scores(scores))
    assert {entity: scores[entity].recall for entity in SECRET_TYPES if scores[entity].recall < 1.0} == {}
    assert {entity: scores[entity].recall for entity in PII_TYPES if scores[entity].recall < 0.95} == {}
    assert {entity: score.precision for entity, score in scores.items() if score.precision < 0.95} == {}


SECRET_ITEMS = [item for item in positives() if all(entity in SECRET_TYPES for entity, _ in item.expected)]


@pytest.mark.parametrize("item", SECRET_ITEMS, ids=lambda item: item.expected[0][0])
def test_every_credential_is_replaced_by_its_own_placeholder(redactor: Redactor, item: Positive) -> None:
    assert missed(item, redactor.redact(item.text).text) == []


@pytest.mark.parametrize("line", negatives(), ids=lambda line: line[:40])
def test_operational_text_comes_out_unchanged(redactor: Redactor, line: str) -> None:
    result = redactor.redact(line)
    assert result.text == line
    assert result.counts == {}


def test_redacting_twice_changes_nothing_more(redactor: Redactor) -> None:
    for item in positives():
        once = redactor.redact(item.text)
        twice = redactor.redact(once.text)
        assert (twice.text, twice.counts) == (once.text, {})


def test_overlapping_secret_and_personal_data_give_one_clean_placeholder(redactor: Redactor) -> None:
    assert redactor.redact("password=alice@example.com").text == "password=<PASSWORD>"
    result = redactor.redact("postgresql://app:pw123@db.example.com:5432/shop")
    assert result.text == "postgresql://app:<CONNECTION_PASSWORD>@db.example.com:5432/shop"
    assert result.counts == {"CONNECTION_PASSWORD": 1}


def test_counts_say_how_many_of_each_type_were_replaced(redactor: Redactor) -> None:
    result = redactor.redact("a@example.com b@example.org 10.1.2.3 token=xoxb-123456789012-abcdefghij")
    assert result.text == "<EMAIL_ADDRESS> <EMAIL_ADDRESS> <IP_ADDRESS> token=<SLACK_TOKEN>"
    assert result.counts == {"EMAIL_ADDRESS": 2, "IP_ADDRESS": 1, "SLACK_TOKEN": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +1 415 555 0132 now", "call <PHONE_NUMBER> now"),
        ("call +44 20 7946 0958 now", "call <PHONE_NUMBER> now"),
        ("call (415) 555-0132 now", "call <PHONE_NUMBER> now"),
        ("call +49 30 1234567 now", "call <PHONE_NUMBER> now"),
        ("call 0049 30 1234567 now", "call <PHONE_NUMBER> now"),
        ("phone: 4155550132", "phone: <PHONE_NUMBER>"),
        ("bytes=4155550132 calls_total 4155550132", "bytes=4155550132 calls_total 4155550132"),
    ],
)
def test_phone_numbers_in_international_and_national_formats(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact(text).text == expected


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", "::1", "::", "10.0.0.0/8", "255.255.255.0", "224.0.0.251"])
def test_addresses_that_are_nobodys_stay_readable(redactor: Redactor, address: str) -> None:
    assert redactor.redact(f"bound to {address} ok").text == f"bound to {address} ok"


def test_allow_list_entries_are_never_redacted_whatever_their_case() -> None:
    redactor = Redactor(allow_list=["10.0.0.7", "OnCall@Shop.example.com", "  "])
    text = "page oncall@shop.example.com via 10.0.0.7, not 10.0.0.8 or alice@shop.example.com"
    assert (
        redactor.redact(text).text == "page oncall@shop.example.com via 10.0.0.7, not <IP_ADDRESS> or <EMAIL_ADDRESS>"
    )


def test_allow_list_never_lets_a_credential_through() -> None:
    redactor = Redactor(allow_list=["hunter22"])
    assert redactor.redact("password=hunter22").text == "password=<PASSWORD>"


COLUMNS = [
    "id",
    "customer_name",
    "customer_email",
    "customer_phone",
    "amount",
    "status",
    "failure_reason",
    "created_at",
]
AT = datetime(2026, 11, 20, 13, 52, 1, tzinfo=UTC)
ROWS: list[list[object]] = [
    [1, "Maria Lopez", "maria@example.com", "+1 415 555 0132", Decimal("42.50"), "failed", "card declined", AT],
    [2, "Li Wei", "li.wei@example.net", "4155550199", Decimal("10.00"), "ok", None, AT],
    [3, None, "", "+44 20 7946 0958", Decimal("7.25"), "failed", "psp timeout for li.wei@example.net", AT],
]


def test_rows_lose_names_emails_and_phones_and_keep_the_rest(redactor: Redactor) -> None:
    redacted, counts = redactor.redact_rows(COLUMNS, ROWS)
    assert redacted == [
        [1, "<PERSON>", "<EMAIL_ADDRESS>", "<PHONE_NUMBER>", Decimal("42.50"), "failed", "card declined", AT],
        [2, "<PERSON>", "<EMAIL_ADDRESS>", "<PHONE_NUMBER>", Decimal("10.00"), "ok", None, AT],
        [3, None, "", "<PHONE_NUMBER>", Decimal("7.25"), "failed", "psp timeout for <EMAIL_ADDRESS>", AT],
    ]
    assert counts == {"PERSON": 2, "EMAIL_ADDRESS": 3, "PHONE_NUMBER": 3}
    again, counts_again = redactor.redact_rows(COLUMNS, redacted)
    assert (again, counts_again) == (redacted, {})


def test_cells_of_other_columns_are_redacted_by_content(redactor: Redactor) -> None:
    columns = ["note", "card_number", "payload"]
    rows = [["ip 10.2.3.4", 4111111111111111, {"email": "a@example.com", "n": 3}]]
    redacted, counts = redactor.redact_rows(columns, rows)
    assert redacted == [["ip <IP_ADDRESS>", "<CREDIT_CARD>", {"email": "<EMAIL_ADDRESS>", "n": 3}]]
    assert counts == {"IP_ADDRESS": 1, "CREDIT_CARD": 1, "EMAIL_ADDRESS": 1}


def test_a_row_that_does_not_fit_its_columns_is_refused(redactor: Redactor) -> None:
    with pytest.raises(RedactionInputError, match="row 2 has 1 cells for 2 columns"):
        redactor.redact_rows(["a", "b"], [["x", "y"], ["z"]])


@pytest.mark.parametrize(
    ("column", "entity"),
    [
        ("name", "PERSON"),
        ("first_name", "PERSON"),
        ("Customer_Name", "PERSON"),
        ("customerName", "PERSON"),
        ("c.full_name", "PERSON"),
        ("username", "PERSON"),
        ("emergency_contact", "PERSON"),
        ("email", "EMAIL_ADDRESS"),
        ("E-Mail", "EMAIL_ADDRESS"),
        ("billing_email", "EMAIL_ADDRESS"),
        ("email_address", "EMAIL_ADDRESS"),
        ("contact_phone", "PHONE_NUMBER"),
        ("mobile", "PHONE_NUMBER"),
        ("shipping_address", "ADDRESS"),
        ("street", "ADDRESS"),
        ("postal_code", "ADDRESS"),
        ("pod_name", None),
        ("service_name", None),
        ("table_name", None),
        ("job_name", None),
        ("hostname", None),
        ("host_name", None),
        ("container_name", None),
        ("node_name", None),
        ("namespace_name", None),
        ("ip_address", None),
        ("remote_address", None),
        ("status", None),
        ("failure_reason", None),
        ("amount", None),
    ],
)
def test_column_rules_tell_people_from_infrastructure(redactor: Redactor, column: str, entity: str | None) -> None:
    assert redactor.column_entity(column) == entity


def test_configured_name_columns_are_replaced_whole() -> None:
    redactor = Redactor(name_columns=["patient", "service_name"])
    assert redactor.column_entity("patient") == "PERSON"
    assert redactor.column_entity("service_name") == "PERSON"
    assert redactor.column_entity("customer_email") == "EMAIL_ADDRESS"


def test_json_values_are_redacted_and_keys_kept(redactor: Redactor) -> None:
    value = {
        "metadata": {"name": "payment-service-7d9f8b6c5d-x2k4q", "uid": "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"},
        "env": [{"name": "DATABASE_URL", "value": "postgres://app:S3cret@db:5432/shop"}],
        "notes": ["call +1 415 555 0132", 14, 2.5, True, None],
    }
    redacted, counts = redactor.redact_json(value)
    assert redacted == {
        "metadata": {"name": "payment-service-7d9f8b6c5d-x2k4q", "uid": "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"},
        "env": [{"name": "DATABASE_URL", "value": "postgres://app:<CONNECTION_PASSWORD>@db:5432/shop"}],
        "notes": ["call <PHONE_NUMBER>", 14, 2.5, True, None],
    }
    assert counts == {"CONNECTION_PASSWORD": 1, "PHONE_NUMBER": 1}


def test_names_in_free_text_are_left_alone_without_ner(redactor: Redactor) -> None:
    assert redactor.redact("Maria Lopez from Berlin reported it").text == "Maria Lopez from Berlin reported it"


def test_ner_without_an_installed_model_warns_once_and_keeps_redacting(caplog: pytest.LogCaptureFixture) -> None:
    from spacy.util import is_package

    if any(is_package(model) for model in ("en_core_web_lg", "en_core_web_md", "en_core_web_sm")):
        pytest.skip("a spaCy model is installed; the missing-model path cannot be exercised")
    redactor = Redactor(ner=True)
    with caplog.at_level(logging.WARNING, logger="guardrails.redaction"):
        first = redactor.redact("Maria Lopez, maria@example.com")
        redactor.redact("again 10.1.2.3")
    assert first.text == "Maria Lopez, <EMAIL_ADDRESS>"
    assert [record.message for record in caplog.records if "NER" in record.message] == [
        "redaction NER requested but no spaCy model (en_core_web_lg, en_core_web_md, en_core_web_sm) is installed; "
        "names in free text will not be redacted"
    ]


def test_ner_finds_names_when_a_model_is_installed() -> None:
    from spacy.util import is_package

    if not any(is_package(model) for model in ("en_core_web_lg", "en_core_web_md", "en_core_web_sm")):
        pytest.skip("no spaCy model installed (en_core_web_sm/md/lg); NER is optional")
    result = Redactor(ner=True).redact("Maria Lopez called from Berlin about order 88213")
    assert "Maria" not in result.text
    assert result.counts.get("PERSON", 0) >= 1


def test_a_threshold_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(RedactionConfigError, match="score_threshold must be in"):
        Redactor(score_threshold=1.5)


def test_the_shared_default_redactor_serves_unconfigured_callers() -> None:
    assert default_redactor() is default_redactor()
    assert redact_text("mail ops@example.com") == "mail <EMAIL_ADDRESS>"


NO_NETWORK_PROBE = textwrap.dedent(
    """
    import socket, sys, time

    attempts = []
    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        if not (isinstance(address, tuple) and address[0] in ("127.0.0.1", "::1")):
            attempts.append(("connect", address))
            raise OSError("network access attempted during redaction")
        return real_connect(self, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        attempts.append(("getaddrinfo", host))
        raise OSError("name resolution attempted during redaction")

    socket.socket.connect = guarded_connect
    socket.getaddrinfo = guarded_getaddrinfo

    import guardrails.redaction as redaction
    assert "presidio_analyzer" not in sys.modules, "presidio imported eagerly"
    started = time.monotonic()
    result = redaction.Redactor().redact("mail jane@example.co.uk from 10.1.2.3, card 4111 1111 1111 1111")
    elapsed = time.monotonic() - started
    assert result.counts == {"EMAIL_ADDRESS": 1, "IP_ADDRESS": 1, "CREDIT_CARD": 1}, result
    print(attempts, round(elapsed, 1))
    """
)


def test_import_and_redaction_never_touch_the_network() -> None:
    """Run in a fresh interpreter: Presidio and tldextract do their one-time set-up on first use."""
    probe = subprocess.run(
        [sys.executable, "-c", NO_NETWORK_PROBE], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert probe.returncode == 0, probe.stderr
    attempts, elapsed = probe.stdout.strip().rsplit(" ", 1)
    assert attempts == "[]"
    assert float(elapsed) < 20
