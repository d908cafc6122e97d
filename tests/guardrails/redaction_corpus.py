"""The secrets-and-PII corpus the redactor is measured on: recall and precision per type.

Positives are lines an SRE bot actually sees (log lines, env dumps, config maps, git remotes,
connection strings, JSON payloads, alert text) with secrets and personal data in them; each
names every sensitive value it holds, so extra detections count against precision. Personal
data is generated with Faker in several locales, seeded, so every run sees the same corpus;
credentials are generated from a seeded `random.Random` (and real Ed25519/EC keys from fixed
seeds). Negatives are operational text that must come out byte for byte unchanged.

Phone numbers are taken from Faker only when they exist in the numbering plan
(`phonenumbers.is_valid_number`): Faker invents area codes nobody has. Bare digit runs are
phone numbers only after a word such as "phone:" (the redactor's documented rule), so those
are embedded in such context. `corpus_scores()` is what the tests assert and the benchmark prints.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from faker import Faker

from guardrails.redaction import Redactor
from guardrails.secret_patterns import placeholder

SEED = 20261120

SECRET_TYPES = (
    "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "SLACK_TOKEN",
    "SLACK_WEBHOOK",
    "GITHUB_TOKEN",
    "MODEL_API_KEY",
    "JWT",
    "BEARER_TOKEN",
    "CONNECTION_PASSWORD",
    "PASSWORD",
    "PRIVATE_KEY",
)
PII_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN")


@dataclass(frozen=True)
class Positive:
    text: str
    # Every sensitive value in `text`, with the placeholder type it must be replaced by.
    expected: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class TypeScore:
    expected: int
    recalled: int
    detected: int

    @property
    def recall(self) -> float:
        return self.recalled / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return min(self.recalled, self.detected) / self.detected if self.detected else 1.0


def _one(entity: str, value: str, template: str) -> Positive:
    return Positive(template.format(v=value), ((entity, value),))


def _spread(entity: str, values: list[str], templates: tuple[str, ...]) -> Iterator[Positive]:
    for index, value in enumerate(values):
        yield _one(entity, value, templates[index % len(templates)])


# --- personal data -------------------------------------------------------------------------

EMAIL_TEMPLATES = (
    "2026-11-20T13:52:01Z WARN notifier: bounce for {v}, mailbox full",
    '{{"event": "signup", "email": "{v}", "plan": "pro"}}',
    "To: {v}\nSubject: Your order has shipped",
    "user {v} opened ticket INC-4821 about failed checkouts",
    'level=error msg="smtp 550 rejected" rcpt={v} attempt=3',
)
ENCODED_EMAIL_TEMPLATE = '127.0.0.1 - - "GET /v1/password-reset?email={v}&lang=en HTTP/1.1" 302 0'

PHONE_TEMPLATES = (
    "customer asked for a callback on {v} about order 88213",
    "sms gateway: delivery to {v} failed (carrier timeout)",
    '{{"contact_phone": "{v}", "opt_in": true}}',
    "on-call escalation: dial {v} if the pager stays silent",
)
BARE_PHONE_TEMPLATES = (
    "phone: {v}",
    "customer_mobile={v} status=unverified",
    "please call me back on {v} tomorrow",
    "Tel. {v}",
)
CARD_TEMPLATES = (
    "payment declined for card {v} (insufficient funds)",
    '{{"card_number": "{v}", "exp": "12/28", "amount": 42.5}}',
    "2026-11-20 13:52:01 ERROR charge failed pan={v} gateway=adyen code=05",
    "refund issued to {v}",
)
IBAN_TEMPLATES = (
    "refund to IBAN {v} queued",
    "SEPA transfer to {v} rejected: invalid BIC",
    '{{"payout_account": "{v}", "currency": "EUR"}}',
)
IP_TEMPLATES = (
    "connection from {v}:51234 reset by peer",
    "X-Forwarded-For: {v}",
    "sshd: Accepted publickey for deploy from {v} port 50122",
    '{v} - - [20/Nov/2026:13:52:01 +0000] "GET /healthz HTTP/1.1" 200 2',
    "pod payment-service-7d9f8b6c5d-x2k4q has IP {v}",
)
IPV6_TEMPLATES = (
    "client [{v}]:443 closed the stream",
    "ipv6 peer {v} added to the allow set",
)
SSN_TEMPLATES = (
    "fraud check flagged ssn {v}",
    '{{"applicant": {{"ssn": "{v}", "dob_year": 1984}}}}',
    "KYC: applicant SSN {v} verified against the bureau",
)

PHONE_REGION = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "en_CA": "CA"}
INTERNATIONAL_ONLY = {"es_ES": "ES", "it_IT": "IT", "nl_NL": "NL", "pt_BR": "BR", "en_IN": "IN"}
HANDWRITTEN_PHONES = ("+1 415 555 0132", "+44 20 7946 0958", "(415) 555-0132", "+49 30 1234567", "+33 1 42 68 53 00")


def _faker(locale: str, offset: int = 0) -> Faker:
    fake = Faker(locale)
    fake.seed_instance(SEED + offset)
    return fake


def _valid_phone(number: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


def _phones() -> Iterator[Positive]:
    formatted: list[str] = list(HANDWRITTEN_PHONES)
    bare: list[str] = []
    for offset, (locale, region) in enumerate({**PHONE_REGION, **INTERNATIONAL_ONLY}.items()):
        fake = _faker(locale, offset)
        taken = 0
        while taken < 4:
            number = fake.phone_number()
            if not _valid_phone(number, region) or (locale in INTERNATIONAL_ONLY and not number.startswith("+")):
                continue
            is_bare = number.isdigit()
            if is_bare and len(bare) >= 2 * len(PHONE_REGION):
                continue
            (bare if is_bare else formatted).append(number)
            taken += 1
    yield from _spread("PHONE_NUMBER", formatted, PHONE_TEMPLATES)
    yield from _spread("PHONE_NUMBER", bare, BARE_PHONE_TEMPLATES)


def _emails() -> Iterator[Positive]:
    values: list[str] = []
    for offset, locale in enumerate(("en_US", "de_DE", "fr_FR", "en_GB", "es_ES", "nl_NL")):
        fake = _faker(locale, offset)
        values += [fake.email(), fake.company_email(), fake.free_email(), fake.ascii_safe_email()]
    values += ["jane.o'neil+billing@shop-customer.co.uk", "ops.alerts@payments.example.com"]
    yield from _spread("EMAIL_ADDRESS", values, EMAIL_TEMPLATES)
    for value in values[:4]:
        yield _one("EMAIL_ADDRESS", value.replace("@", "%40"), ENCODED_EMAIL_TEMPLATE)


def _group(number: str, size: int, separator: str) -> str:
    return separator.join(number[index : index + size] for index in range(0, len(number), size))


def _cards() -> Iterator[Positive]:
    fake = _faker("en_US", 100)
    kinds = ("visa", "visa16", "mastercard", "amex", "discover", "jcb16", "diners", "visa13")
    values: list[str] = []
    for index in range(24):
        number = fake.credit_card_number(card_type=kinds[index % len(kinds)])
        if index % 3 == 1 and len(number) == 16:
            number = _group(number, 4, " ")
        elif index % 3 == 2 and len(number) == 16:
            number = _group(number, 4, "-")
        values.append(number)
    return _spread("CREDIT_CARD", values, CARD_TEMPLATES)


def _ibans() -> Iterator[Positive]:
    values: list[str] = []
    for offset, locale in enumerate(("de_DE", "fr_FR", "en_GB", "nl_NL", "es_ES", "it_IT", "pl_PL", "fi_FI")):
        fake = _faker(locale, 200 + offset)
        values += [fake.iban(), _group(fake.iban(), 4, " ")]
    return _spread("IBAN_CODE", values, IBAN_TEMPLATES)


def _ips() -> Iterator[Positive]:
    fake = _faker("en_US", 300)
    v4 = [fake.ipv4_private() for _ in range(12)] + [fake.ipv4_public() for _ in range(12)]
    v6 = [fake.ipv6() for _ in range(6)] + ["fe80::1ff:fe23:4567:890a", "2001:db8:85a3::8a2e:370:7334"]
    yield from _spread("IP_ADDRESS", v4, IP_TEMPLATES)
    yield from _spread("IP_ADDRESS", v6, IPV6_TEMPLATES)


def _ssns() -> Iterator[Positive]:
    fake = _faker("en_US", 400)
    return _spread("US_SSN", [fake.ssn() for _ in range(15)], SSN_TEMPLATES)


# --- credentials -----------------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits


def _random(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _jwt(rng: random.Random, subject: str) -> str:
    header = _b64url({"alg": "RS256", "typ": "JWT", "kid": _random(rng, ALNUM, 8)})
    payload = _b64url({"sub": subject, "iss": "https://auth.shop.example.com", "exp": 1763650321})
    return f"{header}.{payload}.{_random(rng, ALNUM + '-_', 86)}"


def _private_keys(rng: random.Random) -> list[str]:
    ed = ed25519.Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
    ec_key = ec.derive_private_key(rng.getrandbits(250), ec.SECP256R1())
    none = serialization.NoEncryption()
    rsa_body = "\n".join(_random(rng, ALNUM + "+/", 64) for _ in range(12))
    return [
        ed.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, none).decode(),
        ed.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, none).decode(),
        ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, none).decode(),
        f"-----BEGIN RSA PRIVATE KEY-----\n{rsa_body}\n-----END RSA PRIVATE KEY-----\n",
    ]


def _secrets() -> Iterator[Positive]:
    rng = random.Random(SEED)
    upper = string.ascii_uppercase + string.digits
    aws_secret = string.ascii_letters + string.digits + "/+"

    for prefix in ("AKIA", "ASIA", "AKIA", "AROA"):
        key = prefix + _random(rng, upper, 16)
        yield _one("AWS_ACCESS_KEY", key, "AWS_ACCESS_KEY_ID={v}")
        yield _one("AWS_ACCESS_KEY", key, '2026-11-20T13:52:01Z INFO s3 client created with key "{v}" region=eu-west-1')
    for template in (
        "AWS_SECRET_ACCESS_KEY={v}",
        "[default]\naws_secret_access_key = {v}",
        '{{"aws_secret_access_key": "{v}"}}',
        "export AWS_SECRET_ACCESS_KEY='{v}'",
    ):
        yield _one("AWS_SECRET_KEY", _random(rng, aws_secret, 40), template)

    slack = [
        f"xoxb-{_random(rng, string.digits, 12)}-{_random(rng, string.digits, 13)}-{_random(rng, ALNUM, 24)}",
        f"xoxp-{_random(rng, string.digits, 12)}-{_random(rng, string.digits, 12)}-{_random(rng, ALNUM, 32)}",
        f"xapp-1-A{_random(rng, upper, 10)}-{_random(rng, string.digits, 13)}-{_random(rng, 'abcdef0123456789', 64)}",
        f"xoxr-{_random(rng, ALNUM, 40)}",
    ]
    for value, template in zip(
        slack,
        (
            "2026-11-20T13:52:01Z ERROR auth failed for token={v} (invalid_auth)",
            "SLACK_BOT_TOKEN={v}",
            "socket mode: connecting with {v}",
            "refresh returned {v}",
        ),
        strict=True,
    ):
        yield _one("SLACK_TOKEN", value, template)
    for template in ("webhook_url: {v}", "POST {v} -> 404 no_service", "alertmanager receiver slack_api_url={v}"):
        hook = f"https://hooks.slack.com/services/T{_random(rng, upper, 8)}/B{_random(rng, upper, 10)}/"
        yield _one("SLACK_WEBHOOK", hook + _random(rng, ALNUM, 24), template)

    github = [
        "ghp_" + _random(rng, ALNUM, 36),
        "gho_" + _random(rng, ALNUM, 36),
        "ghs_" + _random(rng, ALNUM, 36),
        "github_pat_" + _random(rng, ALNUM, 22) + "_" + _random(rng, ALNUM, 59),
        "ghp_" + _random(rng, ALNUM, 36),
    ]
    for value, template in zip(
        github,
        (
            "git remote -v: origin https://oauth2:{v}@github.com/shop/payment-service.git (fetch)",
            "git clone https://{v}@github.com/shop/infra.git",
            "GITHUB_TOKEN={v}",
            "gh auth status: Logged in to github.com account shop-bot (keyring) Token: {v}",
            "remote: Invalid username or token. url=https://oauth2:{v}@github.com/shop/web.git",
        ),
        strict=True,
    ):
        yield _one("GITHUB_TOKEN", value, template)

    for value, template in (
        ("sk-proj-" + _random(rng, ALNUM + "_-", 48), "OPENAI_API_KEY={v}"),
        ("sk-ant-api03-" + _random(rng, ALNUM + "_-", 60), "litellm: using key {v} for model claude"),
        ("sk-" + _random(rng, ALNUM, 48), '{{"api_base": "https://llm.internal", "key": "{v}"}}'),
    ):
        yield _one("MODEL_API_KEY", value, template)

    for subject, template in (
        ("svc-checkout", "Authorization: Bearer {v}"),
        ("user-4821", "curl -H 'Authorization: Bearer {v}' https://api.shop.example.com/v1/orders"),
        ("svc-payments", "set-cookie: session={v}; Path=/; HttpOnly"),
        ("user-77", '{{"id_token": "{v}"}}'),
    ):
        yield _one("JWT", _jwt(rng, subject), template)
    for template in (
        "Authorization: Bearer {v}",
        "grpc metadata authorization=bearer {v}",
        "curl -sH 'Authorization: Bearer {v}' http://payment-service.shop.svc.cluster.local:8080/admin",
    ):
        yield _one("BEARER_TOKEN", _random(rng, ALNUM, 40), template)

    for value, template in (
        ("S3cret!", "connecting to postgresql://app:{v}@db.shop.svc:5432/shop"),
        ("hunter2hunter2", "DATABASE_URL=postgres://shop:{v}@pg-primary.shop.svc.cluster.local/shop?sslmode=require"),
        ("r3d1s-pa55", "cache: redis://default:{v}@redis-master.cache.svc:6379/0"),
        ("Gu3st%40home", "amqp://orders:{v}@rabbitmq.shop.svc:5672/%2f"),
        ("m0ng0-Pw", "mongodb+srv://reporting:{v}@cluster0.mongo.example.net/analytics"),
        ("Tr0ub4dor&3", "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) mysql://root:{v}@mysql:3306/app"),
    ):
        yield _one("CONNECTION_PASSWORD", value, template)

    for value, template in (
        ("hunter22", "login password=hunter22 accepted"),
        ("Summer2026!", "password: Summer2026!"),
        ("s3cr3t-value", '{"client_secret": "s3cr3t-value", "client_id": "shop-web"}'),
        ("9f8e7d6c5b4a", "api_key=9f8e7d6c5b4a&format=json"),
        ("tok_8Hq2ZpX", "retrying with token: tok_8Hq2ZpX"),
        ("changeme123", "  passwd = changeme123"),
        ("acc-0b1c2d3e", "access_token=acc-0b1c2d3e; expires=3600"),
        ("Pa55w0rd", "  secret: 'Pa55w0rd'"),
    ):
        yield Positive(template, (("PASSWORD", value),))

    for key, template in zip(
        _private_keys(rng),
        (
            "{v}",
            "data:\n  id_ed25519: |\n{v}",
            'kubectl get configmap tls -o yaml\napiVersion: v1\ndata:\n  tls.key: "{v}"',
            "deploy key written to /etc/ssh/deploy_key:\n{v}",
        ),
        strict=True,
    ):
        body = "\n".join("    " + line for line in key.splitlines()) if "|" in template else key
        body = body.replace("\n", "\\n") if "tls.key" in template else body
        yield Positive(template.format(v=body), (("PRIVATE_KEY", body.strip()),))


def _mixed() -> Iterator[Positive]:
    """Lines carrying several kinds of sensitive values at once, as real incidents do."""
    rng = random.Random(SEED + 1)
    token = f"xoxb-{_random(rng, string.digits, 12)}-{_random(rng, ALNUM, 24)}"
    access = "AKIA" + _random(rng, string.ascii_uppercase + string.digits, 16)
    secret = _random(rng, ALNUM + "/+", 40)
    jwt = _jwt(rng, "user-9")
    yield Positive(
        f"2026-11-20T13:52:01Z ERROR auth failed for token={token} user=maria.lopez@example.com from 10.42.3.17",
        (("SLACK_TOKEN", token), ("EMAIL_ADDRESS", "maria.lopez@example.com"), ("IP_ADDRESS", "10.42.3.17")),
    )
    yield Positive(
        f"env:\n  AWS_ACCESS_KEY_ID={access}\n  AWS_SECRET_ACCESS_KEY={secret}\n  AWS_REGION=eu-west-1",
        (("AWS_ACCESS_KEY", access), ("AWS_SECRET_KEY", secret)),
    )
    yield Positive(
        "DATABASE_URL=postgres://shop:Pa55w0rd@10.0.4.12:5432/shop",
        (("CONNECTION_PASSWORD", "Pa55w0rd"), ("IP_ADDRESS", "10.0.4.12")),
    )
    yield Positive(
        f"GET /v1/me 401 Authorization: Bearer {jwt} x-forwarded-for=203.0.113.77",
        (("JWT", jwt), ("IP_ADDRESS", "203.0.113.77")),
    )
    yield Positive(
        "order 88213 failed: card 4111 1111 1111 1111 of john.doe@example.org (+1 415 555 0199) declined",
        (
            ("CREDIT_CARD", "4111 1111 1111 1111"),
            ("EMAIL_ADDRESS", "john.doe@example.org"),
            ("PHONE_NUMBER", "+1 415 555 0199"),
        ),
    )
    yield Positive(
        '{"customer": {"email": "li.wei@example.net", "iban": "DE89370400440532013000", "ssn": "536-22-1234"}}',
        (("EMAIL_ADDRESS", "li.wei@example.net"), ("IBAN_CODE", "DE89370400440532013000"), ("US_SSN", "536-22-1234")),
    )


def positives() -> list[Positive]:
    generators: tuple[Callable[[], Iterator[Positive]], ...] = (
        _emails,
        _phones,
        _cards,
        _ibans,
        _ips,
        _ssns,
        _secrets,
        _mixed,
    )
    return [item for generate in generators for item in generate()] + list(SECRET_SHAPES_FROM_REVIEW)


# --- text that must not change ----------------------------------------------------------------

NEGATIVES = (
    "2026-11-20T13:52:01Z INFO oauth token_type=Bearer expires_in=3600 scope=read",
    "NAME                                READY   STATUS             RESTARTS      AGE",
    "payment-service-7d9f8b6c5d-x2k4q    0/1     CrashLoopBackOff   14 (2m ago)   47m",
    "checkout-6c8f9d7b5-q9w8e            1/1     Running            0             3d4h",
    "Back-off restarting failed container payment in pod payment-service-7d9f8b6c5d-x2k4q_shop"
    "(3f2b9c1e-4a5d-4e6f-8a7b-123456789012)",
    "Warning  Unhealthy  2m (x14 over 47m)  kubelet  Readiness probe failed: HTTP probe failed with statuscode: 503",
    "Normal   Pulled     12m  kubelet  Successfully pulled image "
    '"registry.shop.example.com/shop/payment:2.14.3" in 1.204s (1.204s including waiting)',
    "image: registry.shop.example.com/shop/payment@sha256:"
    "4f1c9e20394827151234567890abcdef4f1c9e20394827151234567890abcdef",
    "Last State: Terminated  Reason: OOMKilled  Exit Code: 137  Started: Fri, 20 Nov 2026 13:52:01 +0000",
    "Limits: cpu: 500m memory: 512Mi  Requests: cpu: 250m memory: 256Mi",
    "NAME                                          STATUS   ROLES    AGE   VERSION",
    "ip-10-0-3-17.eu-west-1.compute.internal       Ready    <none>   12d   v1.29.3",
    "payment-service-7d9f8b6c5d-x2k4q   250m   498Mi",
    "service/payment-service   ClusterIP   None   <none>   8080/TCP,9090/TCP   61d",
    "http://payment-service.shop.svc.cluster.local:8080/healthz returned 200 in 12ms",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: payment-service\n  namespace: shop\n"
    "  uid: 0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d\n  resourceVersion: '48213377'\n  generation: 42",
    "deployment.apps/payment-service rolled back to revision 41",
    'sum(rate(http_requests_total{service="payment-service",code=~"5.."}[5m]))'
    ' / sum(rate(http_requests_total{service="payment-service"}[5m])) > 0.05',
    'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="checkout"}[5m])))',
    "ALERT PaymentErrorRateHigh firing: error ratio 12.5% (threshold 5%) for 15m, severity=page",
    'kube_pod_container_status_restarts_total{namespace="shop",pod="payment-service-7d9f8b6c5d-x2k4q"} 14',
    'node_filesystem_avail_bytes{mountpoint="/"} 4955744256 1763646721',
    "p50=38ms p95=212ms p99=1.25s error_rate=0.031 rps=1840.5",
    "CPU 93.5% for 15m on db-prod-1, memory 1073741824 bytes (1 GiB)",
    "Filesystem      1K-blocks     Used Available Use% Mounted on",
    "/dev/nvme0n1p1  103079200 98123456   4955744  96% /",
    'Traceback (most recent call last):\n  File "/app/payment/client.py", line 88, in charge\n'
    "    response = self._session.post(url, json=body, timeout=2.5)\n"
    "requests.exceptions.ReadTimeout: HTTPConnectionPool(host='psp.internal', port=443): Read timed out.",
    "java.net.SocketTimeoutException: connect timed out\n"
    "\tat com.shop.payment.PspClient.charge(PspClient.java:142)\n"
    "\tat com.shop.payment.CheckoutService.lambda$pay$3(CheckoutService.java:77)",
    "panic: runtime error: invalid memory address or nil pointer dereference\n"
    "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x4a5d2e]\n"
    "goroutine 42 [running]:\nmain.(*Server).handle(0xc000123456, 0x7f3c1b2e)\n"
    "\t/src/server.go:212 +0x1d5",
    "thread 'tokio-runtime-worker' panicked at src/pool.rs:88:14: called `Option::unwrap()` on a `None` value",
    "std::bad_alloc thrown in Acme::Cache::grow after 3 retries",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (HEAD -> main, origin/main)",
    "Merge pull request #1234 from shop/fix-retry-backoff (a1b2c3d)",
    "deployed payment-service v2.14.3 (build 20261120.4) at 2026-11-20T13:41:07Z by ci",
    "helm upgrade payment ./chart --version 1.8.0-rc.1+build.5 --set image.tag=2.14.3",
    "x-request-id: 7f3c1b2e-9d4a-4c5b-8e6f-0a1b2c3d4e5f",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 sampled=1",
    "2026-11-20T13:52:01.123456789Z INFO request completed status=200 duration=0.0123s bytes=7516192768",
    "listen tcp 0.0.0.0:8080: bind: address already in use",
    "dial tcp 127.0.0.1:5432: connect: connection refused",
    "dial tcp [::1]:6379: connect: connection refused",
    "NetworkPolicy allow-ingress permits 10.0.0.0/8 and 192.168.0.0/16 on port 8443",
    "multicast group 239.255.255.250 joined on eth0",
    "retrying in 2.5s (attempt 3/5), backoff 1.5x, jitter 250ms",
    'ERROR: duplicate key value violates unique constraint "orders_pkey" DETAIL: Key (id)=(123456) already exists.',
    "SELECT count(*) FROM orders WHERE status = 'failed' AND created_at > now() - interval '15 minutes'",
    "pg_stat_activity: 42 active connections of max_connections 100, longest query 00:03:12",
    "kafka consumer group payments lag 1234567 on topic orders partition 3 offset 98765432",
    "slack message ts 1763646721.123456 in channel C0123ABCDEF",
    "cert for api.shop.example.com expires in 6 days (notAfter=2026-11-26T00:00:00Z), serial 04:9f:7a:3c",
    "the password is rotated weekly by the vault operator; set it with --password-file=/run/secrets/db",
    "token expired at 2026-11-20T13:52:01Z; refreshing",
    "Authorization header missing on GET /v1/orders/88213",
    'grpc_server_handled_total{grpc_code="Unavailable",grpc_method="Charge"} 1763646721',
    "Go version go1.22.4 linux/amd64, GOMAXPROCS=4, GOGC=100",
    "payment-service-0.payment-service.shop.svc.cluster.local:9090 is UP (3 of 3 targets)",
    "ERROR 2026/11/20 13:52:01 handler.go:88: upstream 503 after 30000ms",
    "hpa/payment-service scaled from 3 to 12 replicas (cpu 87%/70%)",
    "df -h: /var/lib/postgresql 50G 47G 3.0G 94%",
    "PID   USER     TIME  COMMAND\n    1 app       0:42 /app/payment --port 8080 --workers 4",
    "Mon Nov 20 13:52:01 UTC 2026 uptime 12 days, 3:04, load average: 4.12, 3.98, 3.75",
    "npm ERR! lodash@4.17.21 postinstall: `node scripts/build.js`",
    "git@github.com:shop/payment-service.git is the upstream",
    "mac 02:42:ac:11:00:02 on veth3f2b9c1",
    "order 88213 total 1250.00 EUR, 3 items, shipping 4.95",
)


def _generated_negatives() -> Iterator[str]:
    """Identifiers, hashes, clocks and counters an SRE bot reads all day, in bulk."""
    rng = random.Random(SEED + 2)
    hexdigits = "0123456789abcdef"
    for index in range(40):
        sha = _random(rng, hexdigits, 40)
        epoch = 1_700_000_000 + rng.randrange(100_000_000)
        pod = f"checkout-{_random(rng, hexdigits, 10)}-{_random(rng, 'bcdfghjklmnpqrstvwxz2456789', 5)}"
        yield (
            f"{pod} {rng.randrange(20)} restarts, uid {_uuid(rng)}, image sha256:{_random(rng, hexdigits, 64)}"
            if index % 2
            else f"commit {sha} ({sha[:7]}) v{rng.randrange(10)}.{rng.randrange(30)}.{rng.randrange(300)} at "
            f"{epoch} / {epoch}{rng.randrange(1000):03d} ms / {epoch}{rng.randrange(10**6):06d} us, "
            f"took {rng.randrange(1, 90_000)}ms, port {rng.randrange(1024, 65536)}"
        )


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def negatives() -> list[str]:
    return [*NEGATIVES, *_generated_negatives()]


# Credential shapes a review found missing (prefixed key names, quoted values with spaces, flags,
# PGP blocks, tokens inside git remotes), kept apart so that their origin stays visible.
SECRET_SHAPES_FROM_REVIEW = (
    Positive("POSTGRES_PASSWORD=Wint3rIsComing", (("PASSWORD", "Wint3rIsComing"),)),
    Positive("PGPASSWORD=pgS3cretPw psql -h db -U app", (("PASSWORD", "pgS3cretPw"),)),
    Positive('{"password": "correct horse battery staple"}', (("PASSWORD", "correct horse battery staple"),)),
    Positive("mysql -u root --password S3cretRootPw -e 'show databases'", (("PASSWORD", "S3cretRootPw"),)),
    Positive(
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGVz3qABCAC7\n-----END PGP PRIVATE KEY BLOCK-----",
        (("PRIVATE_KEY", "lQOYBGVz3qABCAC7"),),
    ),
    Positive(
        "origin\thttps://x-access-token:ghp_4PHCbmvSTZ4HBxkgZRDTc8uI3CqiiKUwSA6H@github.com/shop/app.git (fetch)",
        (("GITHUB_TOKEN", "ghp_4PHCbmvSTZ4HBxkgZRDTc8uI3CqiiKUwSA6H"),),
    ),
)


def missed(item: Positive, output: str) -> list[tuple[str, str]]:
    """The expected values of an item that its redacted `output` leaks or does not replace by
    their own placeholder."""
    return [
        (entity, value)
        for entity, value in item.expected
        if _leaked(entity, value, item.text, output) or placeholder(entity) not in output
    ]


def _leaked(entity: str, value: str, text: str, output: str) -> bool:
    """Whether any recognisable part of a value survived: the value itself, or a piece of it of
    four or more characters that neither the surrounding text nor the placeholder explains."""
    explained = text.replace(value, " ") + placeholder(entity)
    pieces = [piece for piece in re.split(r"[^A-Za-z0-9]+", value) if len(piece) >= 4 and piece not in explained]
    return value in output or any(piece in output for piece in pieces)


def corpus_scores(redactor: Redactor | None = None) -> dict[str, TypeScore]:
    """Recall and precision per placeholder type over the whole corpus."""
    redactor = redactor or Redactor()
    expected: Counter[str] = Counter()
    recalled: Counter[str] = Counter()
    detected: Counter[str] = Counter()
    for item in positives():
        result = redactor.redact(item.text)
        detected.update(result.counts)
        lost = missed(item, result.text)
        for entity, value in item.expected:
            expected[entity] += 1
            recalled[entity] += (entity, value) not in lost
    for line in negatives():
        detected.update(redactor.redact(line).counts)
    return {
        entity: TypeScore(expected[entity], recalled[entity], detected[entity])
        for entity in sorted(set(expected) | set(detected))
    }


def corpus_recall(redactor: Redactor | None = None) -> dict[str, float]:
    return {entity: score.recall for entity, score in corpus_scores(redactor).items()}


def format_scores(scores: dict[str, TypeScore]) -> str:
    lines = [f"{'type':<20} {'items':>5} {'recall':>7} {'precision':>9}"]
    lines += [
        f"{entity:<20} {score.expected:>5} {score.recall:>7.3f} {score.precision:>9.3f}"
        for entity, score in scores.items()
    ]
    return "\n".join(lines)
