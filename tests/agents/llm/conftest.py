"""One payment-outage sandbox and one scripted model endpoint for the module, with a config enabling models."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import yaml

from bot.runtime import Runtime
from bot.session import command_runtime
from tests.agents.llm.stub import STUB_KEY, STUB_KEY_ENV, Message, StubModel, models_config

WORLD = "payment-outage"
_POD_RESTARTS = re.compile(r'"name":"(?P<pod>[a-z0-9-]+)","namespace":"[^"]*"[^{]*?"restarts":(?P<restarts>\d+)')
_SERVICE = re.compile(r"^(?P<service>.+?)-[a-z0-9]{8,10}-[a-z0-9]{5}$")


def _data(body: dict[str, Any]) -> str:
    text = str(body["messages"][-1]["content"])
    return text.split("<data>\n", 1)[-1].rsplit("\n</data>", 1)[0]


async def reader(body: dict[str, Any]) -> Message:
    """A well-behaved quarantined reader: restarts by service from a (possibly cut) pod list, else a fixed reading."""
    restarts: dict[str, int] = {}
    for match in _POD_RESTARTS.finditer(_data(body)):
        service = _SERVICE.match(match["pod"])
        name = service["service"] if service else match["pod"]
        restarts[name] = restarts.get(name, 0) + int(match["restarts"])
    top = max(restarts, key=lambda name: restarts[name]) if restarts else None
    reading = {
        "symptoms": ["restarts counted"] if restarts else ["evidence read"],
        "severity": "warning",
        "suspected_component": top,
        "counts": {"restarts": restarts[top]} if top else {},
    }
    return {"role": "assistant", "content": json.dumps(reading)}


@pytest.fixture(scope="module")
def stub() -> StubModel:
    return StubModel()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api_base(stub: StubModel) -> AsyncIterator[str]:
    async with stub.serve() as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def runtime(api_base: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runtime]:
    config = tmp_path_factory.mktemp("config") / "whisperer.yaml"
    config.write_text(yaml.safe_dump({"models": models_config(api_base)}), encoding="utf-8")
    opened: asyncio.Future[Runtime] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def hold() -> None:
        # MCP sessions must be closed by the task that opened them; fixture teardown runs in another.
        try:
            async with command_runtime(str(config), WORLD) as running:
                opened.set_result(running)
                await done.wait()
        except BaseException as error:
            if not opened.done():
                opened.set_exception(error)
            raise

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(STUB_KEY_ENV, STUB_KEY)
        holder = asyncio.create_task(hold())
        try:
            yield await opened
        finally:
            done.set()
            await holder


async def slow(body: dict[str, Any]) -> Message:
    await asyncio.sleep(3)
    return {"role": "assistant", "content": "too late"}


def triage(intent: str, specialists: list[str], *, needs_analysis: bool, severity: str = "warning") -> Message:
    decision = {"intent": intent, "specialists": specialists, "severity": severity, "needs_analysis": needs_analysis}
    return {"role": "assistant", "content": json.dumps(decision)}


async def needs_analysis(body: dict[str, Any]) -> Message:
    return triage("diagnose", [], needs_analysis=True, severity="critical")
