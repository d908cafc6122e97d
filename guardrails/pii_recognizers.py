"""Presidio recognizers tuned for what an SRE bot reads: logs, kubectl output, metrics, SQL rows.

Presidio's stock recognizers are written for prose. On operational text they either reach for
the network (the e-mail check downloads the public suffix list) or mistake counters for
personal data: a byte count or an epoch second is a "valid" phone number in some region, a
microsecond timestamp passes the card checksum one time in ten, `bad::` is an IPv6 address.
Each subclass here keeps Presidio's validation and adds the one rule that removes that class of
false positive. Importing this module imports Presidio and spaCy (about two seconds): only the
redactor's lazy engine builder imports it.
"""

from __future__ import annotations

import ipaddress
import re

import phonenumbers
import tldextract
from presidio_analyzer import EntityRecognizer, LocalRecognizer, Pattern, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    UsSsnRecognizer,
)

PHONE_SCORE = 0.75

# Regions whose national formats (no country code) are recognised; any number written with
# "+" or an international prefix is recognised whatever its country.
PHONE_REGIONS = ("US", "GB", "DE", "FR")

# A run of digits with the punctuation people write phone numbers with. It may not be glued to
# an identifier, a path, a version, a host name or a time of day (`13:52:01`), which removes
# most digit runs of a log line before phonenumbers is ever asked.
_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+.@/-])(?<!\d:)"
    r"\+?\(?\d[\d ().-]{5,24}\d"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,6})?"
    r"(?![\w/@-]|[.,:]\d)",
    re.IGNORECASE,
)
# Shapes that pass the candidate pattern but are an address, a date or a decimal number.
_NOT_A_PHONE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}|\d{4}-\d\d-\d\d|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d+\.\d+")
# A bare digit run is a counter, an epoch or an id far more often than a phone number in
# operational text; it counts as a phone number only right after words such as "phone:",
# "customer_mobile=" or "call me back on" (and not after "calls_total" or "hotel").
_PHONE_CONTEXT = re.compile(
    r"(?<![a-z])(?:phone|telephone|tel|mobile|cell|fax|sms|whatsapp|call|dial)(?![a-z])"
    r"(?:[\W_]+(?:back|me|us|on|at|number|num|no|nr|is))*[\W_]{0,3}$",
    re.IGNORECASE,
)
_CONTEXT_WINDOW = 32


class PhoneNumberRecognizer(LocalRecognizer):
    """Phone numbers as people write them, validated by phonenumbers' numbering-plan metadata.

    Presidio's PhoneRecognizer runs phonenumbers' matcher over the whole text for eight
    regions, which costs about 25 ms per 2 KB of log text and accepts bare counters. This one
    runs the same matcher only on phone-shaped candidates.
    """

    def __init__(self) -> None:
        super().__init__(supported_entities=["PHONE_NUMBER"], name="PhoneNumberRecognizer")

    def load(self) -> None:
        """Nothing to load: phonenumbers' metadata is imported with the module."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for candidate in _PHONE_CANDIDATE.finditer(text):
            raw = candidate.group(0)
            if _NOT_A_PHONE.fullmatch(raw):
                continue
            start = candidate.start()
            in_context = bool(_PHONE_CONTEXT.search(text, max(0, start - _CONTEXT_WINDOW), start))
            if not (in_context or _is_formatted(raw)):
                continue
            for low, high in _phone_spans(raw):
                if in_context or _is_formatted(raw[low:high]):
                    results.append(self._result(start + low, start + high))
        return EntityRecognizer.remove_duplicates(results)

    def _result(self, start: int, end: int) -> RecognizerResult:
        return RecognizerResult(
            entity_type="PHONE_NUMBER",
            start=start,
            end=end,
            score=PHONE_SCORE,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: "PhoneNumberRecognizer",
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


def _is_formatted(number: str) -> bool:
    """Written the way phone numbers are: international "+", grouped, or dotted like 415.555.0132."""
    return number.startswith("+") or any(char in " ()-" for char in number) or number.count(".") >= 2


def _phone_spans(candidate: str) -> set[tuple[int, int]]:
    # A number written with "+" reads the same from every region; otherwise the first region
    # whose numbering plan accepts the whole candidate settles it.
    regions = PHONE_REGIONS[:1] if candidate.startswith("+") else PHONE_REGIONS
    spans: set[tuple[int, int]] = set()
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(candidate, region, leniency=phonenumbers.Leniency.VALID):
            spans.add((match.start, match.end))
        if (0, len(candidate)) in spans:
            break
    return spans


# The public suffix list snapshot shipped inside tldextract; no download, no cache directory.
_OFFLINE_SUFFIXES = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer, validating domains against the bundled suffix list only.

    The stock validation calls `tldextract.extract`, whose first use tries to download the
    public suffix list: a timeout per process on a machine without internet. The domain check
    itself is worth keeping: it is what rejects `lodash@4.17.21` and `image@sha256`. `git@` is
    the SSH user of every git host (`git@github.com:org/repo.git`), not a mailbox. Access logs
    carry addresses URL-encoded (`?email=maria%40example.com`), so that form is matched too.
    """

    def __init__(self) -> None:
        encoded = Pattern("Email (URL-encoded)", r"\b[\w.+-]+%40\w+(?:-+\w+)*(?:\.\w+(?:-+\w+)*)+\b", 0.5)
        super().__init__(patterns=[*EmailRecognizer.PATTERNS, encoded])

    def validate_result(self, pattern_text: str) -> bool:
        return bool(_OFFLINE_SUFFIXES(pattern_text).fqdn)

    def invalidate_result(self, pattern_text: str) -> bool:
        return pattern_text.lower().startswith("git@")


class HostIpRecognizer(IpRecognizer):
    """IP addresses of hosts; loopback, unspecified, multicast and reserved IPv4 addresses (240/4,
    where netmasks such as 255.255.255.0 live) and whole networks (`10.0.0.0/8`) are not
    anybody's address and stay readable.

    An IPv6 candidate must hold a digit: `bad::` and `cafe::` parse as addresses but in a stack
    trace they are C++, Rust or Ruby scope operators.
    """

    def invalidate_result(self, pattern_text: str) -> bool:
        try:
            interface = ipaddress.ip_interface(pattern_text)
        except ValueError:
            return True
        address = interface.ip
        if address.version == 6 and not any(char.isdigit() for char in pattern_text):
            return True
        if address.is_loopback or address.is_unspecified or address.is_multicast:
            return True
        if address.version == 4 and address.is_reserved:
            return True
        is_range = "/" in pattern_text and address == interface.network.network_address
        return is_range and interface.network.prefixlen < interface.max_prefixlen


class DashedSsnRecognizer(UsSsnRecognizer):
    """US social security numbers written `123-45-6789`.

    Presidio also accepts nine bare digits and space- or dot-separated groups; in tabular
    command output (`512 14 2048`) those are columns of numbers, not SSNs.
    """

    def __init__(self) -> None:
        super().__init__(patterns=[Pattern("SSN (dashed)", r"\b\d{3}-\d{2}-\d{4}\b", 0.5)])


# Issuer prefixes in use: Visa 4, Mastercard 51-55 and 22-27, Amex 34/37, Diners 30/36/38,
# JCB 35, Discover 6011/644-649/65, UnionPay 62.
_CARD_ISSUER = re.compile(r"4|5[1-5]|2[2-7]|3[045678]|6(?:011|2|4[4-9]|5)")


class PaymentCardRecognizer(CreditCardRecognizer):
    """Payment card numbers: Luhn-checked, with an issuer prefix in use, written either as one run
    of 13-19 digits or in the groupings printed on cards (4-4-4-4, Amex 4-6-5, Diners 4-6-4)
    with one separator throughout.

    Presidio accepts any prefix and any mix of groups, so a 16-digit microsecond epoch
    (`1763646721123456`) or a numeric id passes one time in ten on the Luhn check alone.
    """

    def __init__(self) -> None:
        grouped = r"\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5}"
        super().__init__(patterns=[Pattern("Payment card", rf"\b(?:\d{{13,19}}|{grouped})\b", 0.3)])

    def validate_result(self, pattern_text: str) -> bool:
        return bool(_CARD_ISSUER.match(pattern_text)) and bool(super().validate_result(pattern_text))


class NoContextEnhancer(ContextAwareEnhancer):
    """Leaves scores as the recognizers set them.

    Presidio's default enhancer raises scores when context words surround a match, which needs
    the tokens of an NLP pipeline; with the no-op engine it has none and instead logs one INFO
    line per match ("Skipping context extraction"), i.e. per redacted value in production logs.
    """

    def __init__(self) -> None:
        super().__init__(
            context_similarity_factor=0.0,
            min_score_with_context_similarity=0.0,
            context_prefix_count=0,
            context_suffix_count=0,
        )

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        return raw_results


def pattern_recognizers() -> list[EntityRecognizer]:
    """The recognizers for the PII the redactor looks for without a language model."""
    return [
        OfflineEmailRecognizer(),
        PhoneNumberRecognizer(),
        PaymentCardRecognizer(),
        IbanRecognizer(),
        HostIpRecognizer(),
        DashedSsnRecognizer(),
    ]
