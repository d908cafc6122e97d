from __future__ import annotations

import pytest

from guardrails.secret_patterns import scrub_secrets

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("text", "expected", "entity"),
    [
        ("token xoxb-123456789012-abcdefghij", "token <SLACK_TOKEN>", "SLACK_TOKEN"),
        ("app xapp-1-A0123456789-abcdef0123", "app <SLACK_TOKEN>", "SLACK_TOKEN"),
        ("push with ghp_" + "x" * 36, "push with <GITHUB_TOKEN>", "GITHUB_TOKEN"),
        ("key AKIAIOSFODNN7EXAMPLE used", "key <AWS_ACCESS_KEY> used", "AWS_ACCESS_KEY"),
        (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key = <AWS_SECRET_KEY>", "AWS_SECRET_KEY"),
        (
            "postgres://app:s3cr3t@db:5432/shop",
            "postgres://app:<CONNECTION_PASSWORD>@db:5432/shop",
            "CONNECTION_PASSWORD",
        ),
        ("redis://:s3cr3t@cache:6379", "redis://:s3cr3t@cache:6379", None),
        ("login password=hunter22 ok", "login password=<PASSWORD> ok", "PASSWORD"),
        ('{"client_secret": "abc123def"}', '{"client_secret": <PASSWORD>}', "PASSWORD"),
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer <BEARER_TOKEN>", "BEARER_TOKEN"),
        ("jwt eyJhbGciOiJI.eyJzdWIiOiIx.c2lnbmF0dXJl", "jwt <JWT>", "JWT"),
        ("OPENAI sk-proj-abcdefghijklmnopqrstuv", "OPENAI <MODEL_API_KEY>", "MODEL_API_KEY"),
        ("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----", "<PRIVATE_KEY>", "PRIVATE_KEY"),
        ("the password is rotated weekly", "the password is rotated weekly", None),
    ],
)
def test_credentials_are_replaced_by_typed_placeholders(text: str, expected: str, entity: str | None) -> None:
    scrubbed, counts = scrub_secrets(text)
    assert scrubbed == expected
    assert list(counts) == ([entity] if entity else [])


def test_scrubbing_is_idempotent() -> None:
    once, _ = scrub_secrets("password=hunter22 token=xoxb-123456789012-abcdefghij")
    twice, counts = scrub_secrets(once)
    assert twice == once
    assert not counts
