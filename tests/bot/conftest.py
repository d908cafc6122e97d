"""What the bot's tests share: one warmed-up redactor, a fresh store, a fresh Slack stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from guardrails.redaction import Redactor
from sandbox.slack import SlackStandIn
from store import Store, open_store


@pytest.fixture(scope="session")
def redactor() -> Iterator[Redactor]:
    # Presidio's first use costs about a second; one warmed-up redactor serves every test.
    shared = Redactor()
    shared.warm_up()
    yield shared


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    opened = await open_store("sqlite:///:memory:")
    yield opened
    await opened.close()


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as stand_in:
        yield stand_in
